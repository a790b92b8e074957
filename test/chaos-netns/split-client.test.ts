/**
 * A client connected to the NATS server on the minority side of a split. Its server still answers
 * it, and so does the Wharf node connected to that server, but neither can reach a primary or a
 * quorum on the other side: without help, every request waits until the split heals. The node
 * knows it is cut off (it hears no other node and holds no manager lease) and answers
 * `node_isolated`; the SDK then moves to another server of the cluster, which reaches the new
 * primary. Needs root, as the harness does: without namespaces the test passes without running.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { Topology } from '../../chaos/topology.ts';
import { WharfClient } from '../../src/client/client.ts';
import type { ReceivedMessage } from '../../src/protocol/messages.ts';
import { eventually } from '../helpers/eventually.ts';
import { seededRandom } from '../chaos/workload.ts';
import { canUseNamespaces } from '../helpers/namespaces.ts';

const QUEUE = 'split';

test.serial('a client whose NATS server is on the minority side of a split moves and reaches the new primary', async (t) => {
  t.timeout(300_000);
  if (!(await canUseNamespaces(t))) return;
  const dir = await mkdtemp(join(tmpdir(), 'wharf-split-client-'));
  const cluster = `split${randomBytes(3).toString('hex')}`;
  const topology = await Topology.start({ dir, cluster, random: seededRandom(1) });
  t.teardown(async () => {
    await topology.close();
    if (t.passed) await rm(dir, { recursive: true, force: true });
  });
  const admin = await topology.client();
  await eventually(() => admin.createQueue(QUEUE, { partitions: 1, replication: 'sync', replicationFactor: 3 }), {
    timeoutMs: 60_000,
    intervalMs: 250,
    message: `queue ${QUEUE} created`,
  });
  const primary = await eventually(() => topology.primaryOf(QUEUE, 0), { timeoutMs: 60_000, intervalMs: 100, message: 'a primary elected' });
  const minority = topology.node(primary);

  // Only the minority's server is named: the others are known from what the cluster advertises.
  const client = await WharfClient.connect({ servers: topology.server(minority.server).url, cluster, timeoutMs: 3_000 });
  t.teardown(() => client.close());
  await eventually(() => client.sendMessage(QUEUE, 'before').then(() => true), { timeoutMs: 30_000, intervalMs: 100, message: 'a send before the split' });
  await eventually(() => client.sendMessage(QUEUE, 'held').then(() => true), { timeoutMs: 30_000, intervalMs: 100, message: 'a second send before the split' });
  // 'held' is received before the split and deleted during it, when its primary is on the other
  // side; 'before', if it comes along, is deleted at once.
  const bodies = new Set<string>();
  const held = await eventually(
    async () => {
      let found: ReceivedMessage | undefined;
      for (const m of await client.receive(QUEUE, { maxMessages: 10, waitTimeSeconds: 1, visibilityTimeout: 300 })) {
        const body = Buffer.from(m.body).toString();
        if (body === 'held') found = m;
        else {
          bodies.add(body);
          await client.deleteMessage(QUEUE, m.receiptHandle);
        }
      }
      return found;
    },
    { timeoutMs: 30_000, intervalMs: 100, message: 'the second message received before the split' },
  );

  const majority = topology.nodes.filter((n) => n !== minority).flatMap((n) => [n.server, n.id]);
  await topology.net.partition([minority.server, minority.id], majority);
  try {
    // One call, with the SDK's own retries: its direct attempt and the next one get no answer
    // through the cut-off server, and the client moves to another.
    await client.deleteMessage(QUEUE, held.receiptHandle);
    // The split lasts until the end of the test: a send that succeeds went through the majority.
    await eventually(() => client.sendMessage(QUEUE, 'during').then(() => true), {
      timeoutMs: 60_000,
      intervalMs: 100,
      message: 'a send acknowledged while the split lasts',
    });
    await eventually(
      async () => {
        for (const m of await client.receive(QUEUE, { maxMessages: 10, waitTimeSeconds: 1 })) bodies.add(Buffer.from(m.body).toString());
        return bodies.has('before') && bodies.has('during');
      },
      { timeoutMs: 60_000, intervalMs: 100, message: 'both messages received while the split lasts' },
    );
    t.false(bodies.has('held'), 'the message deleted during the split is not delivered again');
    t.not(await topology.primaryOf(QUEUE, 0), primary, 'a new primary serves on the majority side');
  } finally {
    await topology.net.heal();
  }
});
