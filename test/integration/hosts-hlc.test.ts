/**
 * Ordering by hybrid logical clock on a cluster of independent hosts (docs/models.md#ordering),
 * three real node processes whose wall clocks disagree: n2's and n3's run 30 s behind n1's
 * (WHARF_CLOCK_OFFSET_MS). A queue's shard is written by n1; messages sent alternately through n2
 * and n3 are stamped by it. n1 is killed (SIGKILL) and a host whose clock is 30 s behind takes the
 * shard over: the messages it accepts next are stamped after everything it copied from n1, not 30 s
 * before. A consumer receives all of them in timestamp order, and the timestamps (read through the
 * inspector's message search) rise along the delivery order.
 */
import test from 'ava';
import { connect } from '@nats-io/transport-node';
import { compareHlc, type Hlc } from '../../actors/hosts/hlc.ts';
import { startInspector } from '../../src/inspect/server.ts';
import { Metadata } from '../../src/meta/metadata.ts';
import { clusterName } from '../../src/names.ts';
import { decodeReply, encodeRequest } from '../../src/protocol/codec.ts';
import type { Reply } from '../../src/protocol/messages.ts';
import { subjects } from '../../src/protocol/subjects.ts';
import { startWharfCluster } from '../helpers/cluster.ts';
import { eventually } from '../helpers/eventually.ts';

const BEHIND_MS = 30_000;

const parseHlc = (text: string): Hlc => {
  const [physical, logical] = text.split('.').map(Number);
  return { physical: physical as number, logical: logical as number };
};

test('messages are delivered in hybrid logical clock order, and a host whose clock is behind stamps after what it has seen', async (t) => {
  t.timeout(240_000);
  const cluster = await startWharfCluster(t, {
    env: { WHARF_CLUSTER_MODEL: 'hosts', WHARF_HEARTBEAT_MS: '100', WHARF_FAILURE_TIMEOUT_MS: '1500', WHARF_LEASE_MS: '500' },
    nodeEnv: (id) => (id === 'n1' ? {} : { WHARF_CLOCK_OFFSET_MS: String(-BEHIND_MS) }),
  });
  const nc = await connect({ servers: cluster.nats.url });
  t.teardown(() => nc.close());
  const metadata = await Metadata.open(nc, cluster.cluster);
  t.teardown(() => metadata.close());
  const inspector = await startInspector({ nc, cluster: cluster.cluster, port: 0 });
  t.teardown(() => inspector.close());
  const client = await cluster.connect({ timeoutMs: 5_000 });

  // A one-shard queue whose home (its first writer) is n1, the host whose clock is right.
  let queue = '';
  for (let i = 0; i < 12 && queue === ''; i++) {
    const name = `hlc-${i}`;
    await eventually(() => client.createQueue(name, { partitions: 1, replicationFactor: 3, visibilityTimeout: 120 }), { timeoutMs: 30_000, intervalMs: 200, message: `${name} created` });
    const writer = await eventually(() => metadata.assignment(name, 0)?.value.primary ?? undefined, { message: `${name} has a writer` });
    if (writer === 'n1') queue = name;
  }
  if (queue === '') return t.fail('no queue name of 12 has its home on n1');

  const subs = subjects(clusterName(cluster.cluster));
  const sendThrough = async (host: string, body: string) => {
    const reply = decodeReply<Reply<'SendMessage'>>((await nc.request(subs.nodeApi(host, 'SendMessage'), encodeRequest({ queue, body: new TextEncoder().encode(body) }), { timeout: 15_000 })).data);
    return reply.messageId;
  };
  const hlcOf = async (id: string): Promise<Hlc> => {
    const found = await eventually(async () => {
      const res = await fetch(new URL(`/api/message?queue=${queue}&id=${id}`, inspector.url));
      const body = (await res.json()) as { reply?: { found: boolean; hlc?: string } };
      return body.reply?.found === true && body.reply.hlc !== undefined ? body.reply.hlc : undefined;
    }, { timeoutMs: 15_000, message: `the timestamp of ${id}` });
    return parseHlc(found);
  };

  // Sent alternately through n2 and n3: the shard's writer n1 stamps them.
  const before: string[] = [];
  for (let i = 0; i < 10; i++) before.push(await sendThrough(i % 2 === 0 ? 'n2' : 'n3', `before ${i}`));
  await cluster.waitForReplicasInSync(queue);

  // n1 dies; a host 30 s behind takes the shard over and goes on accepting sends.
  await cluster.node('n1').kill();
  const taker = await cluster.waitForPrimary(queue, 0, { not: 'n1', timeoutMs: 60_000 });
  t.true(taker === 'n2' || taker === 'n3');
  const after: string[] = [];
  for (let i = 0; i < 10; i++) after.push(await eventually(() => sendThrough(i % 2 === 0 ? 'n2' : 'n3', `after ${i}`), { timeoutMs: 30_000, intervalMs: 200, message: `send ${i} after the takeover` }));

  // Everything is received, in timestamp order.
  const delivered: string[] = [];
  await eventually(async () => {
    for (const m of await client.receive(queue, { maxMessages: 10, waitTimeSeconds: 1 })) delivered.push(m.messageId);
    return delivered.length >= 20 ? true : undefined;
  }, { timeoutMs: 60_000, message: 'all 20 messages received' });
  t.deepEqual([...delivered].sort(), [...before, ...after].sort());
  const stamps = new Map<string, Hlc>();
  for (const id of delivered) stamps.set(id, await hlcOf(id));
  for (let i = 1; i < delivered.length; i++) {
    const [a, b] = [stamps.get(delivered[i - 1] as string) as Hlc, stamps.get(delivered[i] as string) as Hlc];
    t.true(compareHlc(a, b) < 0, `delivery ${i}: ${JSON.stringify(a)} then ${JSON.stringify(b)}`);
  }
  // The taker's stamps follow n1's although its wall clock is 30 s behind: it merged what it copied.
  const latestBefore = before.map((id) => stamps.get(id) as Hlc).reduce((m, h) => (compareHlc(h, m) > 0 ? h : m));
  const firstAfter = stamps.get(after[0] as string) as Hlc;
  t.true(compareHlc(firstAfter, latestBefore) > 0, `${JSON.stringify(firstAfter)} after ${JSON.stringify(latestBefore)}`);
  t.true(firstAfter.physical > Date.now() - BEHIND_MS, "not the taker's wall clock, which is 30 s behind");
});
