/**
 * A cluster of three independent hosts (WHARF_CLUSTER_MODEL=hosts), real node processes on a real
 * nats-server: every host writes its own shard; sends addressed to each host are accepted there and
 * receives addressed to each host are served there; a killed host's shard is taken over by a
 * survivor and handed back when the host returns; FIFO queues and nodes of the other model are
 * refused. The loss and double-delivery verdict under kill -9 is test/chaos/hosts-kill.test.ts's.
 */
import test from 'ava';
import { connect } from '@nats-io/transport-node';
import { homeOf } from '../../actors/hosts/decide.ts';
import { ErrorCode, WharfError } from '../../src/errors.ts';
import { Metadata } from '../../src/meta/metadata.ts';
import { clusterName } from '../../src/names.ts';
import { decodeReply, encodeRequest } from '../../src/protocol/codec.ts';
import type { Action, Reply, Request } from '../../src/protocol/messages.ts';
import { subjects } from '../../src/protocol/subjects.ts';
import { startNode } from '../../src/node/node.ts';
import { startWharfCluster } from '../helpers/cluster.ts';
import { eventually } from '../helpers/eventually.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const HOSTS = ['n1', 'n2', 'n3'];
const QUEUE = 'shards';

test('independent hosts: one shard per host, sends and receives at every host, takeover and hand-back', async (t) => {
  t.timeout(240_000);
  const cluster = await startWharfCluster(t, { env: { WHARF_CLUSTER_MODEL: 'hosts' } });
  const client = await cluster.connect({ timeoutMs: 5_000 });
  await eventually(() => client.createQueue(QUEUE, { partitions: 3, replicationFactor: 3, visibilityTimeout: 60 }), {
    timeoutMs: 30_000,
    intervalMs: 200,
    message: 'queue created',
  });

  const nc = await connect({ servers: cluster.nats.url });
  t.teardown(() => nc.close());
  const metadata = await Metadata.open(nc, cluster.cluster);
  t.teardown(() => metadata.close());
  const shards = () => [0, 1, 2].map((p) => metadata.assignment(QUEUE, p)?.value);
  // Every shard written by its home, and the homes are the three hosts.
  await eventually(() => shards().every((a) => a !== undefined && a.primary === homeOf(a)), { message: 'shards written by their homes' });
  t.deepEqual(shards().map((a) => a?.primary).sort(), HOSTS);
  t.deepEqual(metadata.nodes().map((n) => n.value.model), ['hosts', 'hosts', 'hosts']);

  // ---- sends addressed to every host, receives addressed to every host ----
  const subs = subjects(clusterName(cluster.cluster));
  const ask = async <A extends Action>(host: string, action: A, request: Request<A>): Promise<Reply<A>> =>
    decodeReply<Reply<A>>((await nc.request(subs.nodeApi(host, action), encodeRequest(request), { timeout: 15_000 })).data);
  const sent = new Set<string>();
  for (const host of HOSTS) {
    for (let i = 0; i < 10; i++) {
      const body = `${host}-${i}`;
      await ask(host, 'SendMessage', { queue: QUEUE, body: new TextEncoder().encode(body) });
      sent.add(body);
    }
  }
  const received = new Map<string, string>();
  const servedBy = new Map<string, number>();
  await eventually(
    async () => {
      for (const host of HOSTS) {
        const { messages } = await ask(host, 'ReceiveMessage', { queue: QUEUE, maxMessages: 4, waitTimeSeconds: 0 });
        for (const m of messages) {
          const body = new TextDecoder().decode(m.body);
          t.false(received.has(body), `${body} delivered twice while its lease holds`);
          received.set(body, host);
          servedBy.set(host, (servedBy.get(host) ?? 0) + 1);
          // Deleted through the host that delivered it.
          await ask(host, 'DeleteMessage', { queue: QUEUE, receiptHandle: m.receiptHandle });
        }
      }
      return received.size >= sent.size ? true : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 100, message: 'every message received' },
  );
  t.deepEqual([...received.keys()].sort(), [...sent].sort());
  for (const host of HOSTS) t.true((servedBy.get(host) ?? 0) > 0, `${host} served receives`);
  const counts = await client.getQueueAttributes(QUEUE);
  t.is(counts.counts.approximateNumberOfMessages + counts.counts.approximateNumberOfMessagesNotVisible, 0);

  // ---- kill -9 of a shard's home: a survivor takes the shard over; back home after the restart ----
  const home = shards()[0]?.primary as string;
  await client.sendMessage(QUEUE, 'before the kill');
  await cluster.node(home).kill();
  const taker = await cluster.waitForPrimary(QUEUE, 0, { not: home, timeoutMs: 60_000 });
  t.not(taker, home);
  const takeover = shards()[0];
  t.true((takeover?.epoch ?? 0) >= 2);
  // The survivors keep serving every shard, the dead host's included.
  for (let i = 0; i < 6; i++) await client.sendMessage(QUEUE, `during ${i}`);
  await cluster.node(home).start();
  await eventually(() => shards()[0]?.primary === home && (shards()[0]?.epoch ?? 0) > (takeover?.epoch ?? 0), {
    timeoutMs: 60_000,
    intervalMs: 200,
    message: `shard 0 handed back to ${home}`,
  });
  const left = new Set<string>();
  await eventually(
    async () => {
      for (const m of await client.receive(QUEUE, { maxMessages: 10, waitTimeSeconds: 1 })) {
        left.add(new TextDecoder().decode(m.body));
        await client.deleteMessage(QUEUE, m.receiptHandle);
      }
      return left.size >= 7 ? true : undefined;
    },
    { timeoutMs: 60_000, message: 'the messages sent around the kill received' },
  );
  t.deepEqual([...left].sort(), ['before the kill', ...Array.from({ length: 6 }, (_, i) => `during ${i}`)].sort());

  // ---- what the model refuses ----
  const fifo = await t.throwsAsync(client.createQueue('ordered', { fifo: true }));
  t.is((fifo as WharfError).code, ErrorCode.UnsupportedByModel);
  const scaled = await t.throwsAsync(client.createQueue('scaled', { autoScaling: { maxPartitions: 4 } }));
  t.is((scaled as WharfError).code, ErrorCode.UnsupportedByModel);
  const later = await t.throwsAsync(client.setQueueAttributes(QUEUE, { autoScaling: { maxPartitions: 4 } }));
  t.is((later as WharfError).code, ErrorCode.UnsupportedByModel);
  const other = await t.throwsAsync(
    startNode({ nodeId: 'n4', cluster: cluster.cluster, natsUrl: cluster.nats.url, dataDir: await tempDir(t, 'wharf-n4-'), logLevel: 'silent', httpPort: 0 }),
  );
  t.true(other instanceof WharfError && other.code === ErrorCode.InvalidParameter, String(other));
  t.regex(other?.message ?? '', /runs model hosts/);
});
