/**
 * The client sends a partition's requests straight to its primary's node once an answer told it
 * where that is (src/protocol/route.ts, src/client/route-table.ts). A stale guess still reaches the
 * primary (the node forwards it) and the answer corrects the client; a node that does not answer
 * makes it ask any node.
 */
import test from 'ava';
import { connect, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { WharfClient } from '../../src/client/client.ts';
import type { WharfNode } from '../../src/node/node.ts';
import { decode } from '../../src/protocol/codec.ts';
import { clusterName } from '../../src/names.ts';
import { decodeReceipt } from '../../src/protocol/receipt.ts';
import { subjects } from '../../src/protocol/subjects.ts';
import { eventually } from '../helpers/eventually.ts';
import { createReplicatedQueue, elect, report, startCluster, type Cluster } from '../helpers/replicated-cluster.ts';

interface Seen {
  /** The node a direct request was addressed to, or undefined for the shared subject. */
  node: string | undefined;
  action: string;
  body: unknown;
}

/**
 * Records the API requests on the bus, shared and addressed to `nodes`: plain subscribers get a copy
 * of each. (A subscriber on a stopped node's subject would count as a responder.)
 */
async function spy(c: Cluster, nodes: readonly string[] = ['n1', 'n2', 'n3']): Promise<{ seen: Seen[]; nc: NatsConnection }> {
  const nc = await connect({ servers: c.nats.url });
  const seen: Seen[] = [];
  const record = (node: string | undefined, m: Msg) => {
    seen.push({ node, action: m.subject.split('.').pop() ?? '', body: decode(m.data) });
  };
  const subs = subjects(clusterName(c.cluster));
  nc.subscribe(subs.allApi, { callback: (_e, m) => record(undefined, m) });
  for (const node of nodes) {
    nc.subscribe(subs.allNodeApi(node), {
      callback: (_e, m) => record(node, m),
    });
  }
  await nc.flush();
  return { seen, nc };
}

/** Receives one message and deletes it by its handle: one receive and one receipt-handle request. */
async function receiveAndDeleteOne(c: Cluster, queue: string): Promise<string> {
  const [message] = await c.client.receive(queue, { maxMessages: 1, visibilityTimeout: 60 });
  await c.client.deleteMessage(queue, message?.receiptHandle ?? '');
  return new TextDecoder().decode(message?.body);
}

const bytes = (s: string) => new TextEncoder().encode(s);
/**
 * Routing, not failover speed, is under test: leases long enough that a busy machine's event-loop
 * stalls do not make a primary stop mid-write (the default cluster's 300 ms do under heavy load).
 */
const TIMINGS = { leaseMs: 1000, heartbeatMs: 200, failureTimeoutMs: 2500 };
const serves = (c: Cluster, node: string, queue: string, partition = 0) => report(c.nodes.get(node) as WharfNode, queue, partition)?.role === 'primary';

test("once an answer told it where the primaries are, each partition's requests go to its primary's node", async (t) => {
  const c = await startCluster(t, TIMINGS);
  await createReplicatedQueue(c, 'routed', 'sync', ['n1', 'n2']);
  await eventually(() => serves(c, 'n1', 'routed', 0) && serves(c, 'n2', 'routed', 1), { message: 'n1 and n2 serve' });
  const { seen, nc } = await spy(c);
  t.teardown(() => nc.close());

  await c.client.getQueueAttributes('routed');
  // One request per message: each deduplication id picks its partition.
  await Promise.all(Array.from({ length: 40 }, (_, i) => c.client.sendMessage('routed', `v${i}`)));
  const received = [];
  while (received.length < 40) received.push(...(await c.client.receive('routed', { maxMessages: 10, visibilityTimeout: 60 })));
  const outcome = await c.client.deleteMessageBatch('routed', received.map((m, k) => ({ id: `d${k}`, receiptHandle: m.receiptHandle })));
  t.deepEqual(outcome.failed, []);
  t.deepEqual(outcome.successful.map((s) => s.id), received.map((_, k) => `d${k}`), 'outcomes in entry order');
  await nc.flush();

  // Only the first request, before the client knew anything, went to any node (twice when a busy
  // machine made the client retry it).
  const anyNode = seen.filter((s) => s.node === undefined).map((s) => s.action);
  t.true(anyNode.length > 0 && anyNode.every((a) => a === 'GetQueueAttributes'), `to any node: ${anyNode.join(', ')}`);
  const primaryOf = ['n1', 'n2'];
  const deletes = seen.filter((s) => s.action === 'DeleteMessageBatch');
  t.is(deletes.length, 2, 'the batch was split by partition');
  for (const d of deletes) {
    const { entries } = d.body as { entries: Array<{ receiptHandle: string }> };
    for (const e of entries) t.is(primaryOf[decodeReceipt(e.receiptHandle).partition], d.node, 'each handle went to its primary');
  }
  t.true(seen.some((s) => s.action === 'ReceiveMessage' && s.node === 'n1') && seen.some((s) => s.action === 'ReceiveMessage' && s.node === 'n2'));
  const sends = seen.filter((s) => s.action === 'SendMessage');
  t.true(sends.length === 40 && sends.every((s) => s.node === 'n1' || s.node === 'n2'));
});

test('a stale route still reaches the primary: the old node forwards, and its answer points the client to the new one', async (t) => {
  const c = await startCluster(t, TIMINGS);
  await createReplicatedQueue(c, 'moved');
  await eventually(() => serves(c, 'n1', 'moved'), { message: 'n1 serves' });
  await c.client.sendMessageBatch('moved', [{ id: 'a', body: bytes('first') }]);
  const { seen, nc } = await spy(c);
  t.teardown(() => nc.close());

  const winner = await elect(c, 'moved', ['n2', 'n3']);
  await eventually(() => serves(c, winner, 'moved') && c.nodes.get('n1')?.metadata.assignment('moved', 0)?.value.primary === winner, {
    message: 'the new primary serves and n1 knows it',
  });
  t.is(await receiveAndDeleteOne(c, 'moved'), 'first');
  await nc.flush();
  t.deepEqual(
    seen.map((s) => [s.action, s.node]),
    [
      ['ReceiveMessage', 'n1'],
      ['DeleteMessage', winner],
    ],
  );
});

test('a node that does not answer is not asked again: the request goes to any node at once', async (t) => {
  const c = await startCluster(t, TIMINGS);
  await createReplicatedQueue(c, 'gone');
  await eventually(() => serves(c, 'n1', 'gone'), { message: 'n1 serves' });
  await c.client.sendMessageBatch('gone', [{ id: 'a', body: bytes('kept') }]);
  await (c.nodes.get('n1') as WharfNode).stop();
  c.nodes.delete('n1');
  const winner = await elect(c, 'gone', ['n2', 'n3']);
  await eventually(() => serves(c, winner, 'gone'), { message: 'the new primary serves', timeoutMs: 15_000 });
  const { seen, nc } = await spy(c, ['n2', 'n3']);
  t.teardown(() => nc.close());

  t.is(await receiveAndDeleteOne(c, 'gone'), 'kept');
  await nc.flush();
  t.deepEqual(
    seen.map((s) => [s.action, s.node]),
    [
      // The first went to n1's subject, where nobody answers.
      ['ReceiveMessage', undefined],
      ['DeleteMessage', winner],
    ],
  );
});

test('a client told not to route asks any node every time', async (t) => {
  const c = await startCluster(t, TIMINGS);
  await createReplicatedQueue(c, 'shared');
  await eventually(() => serves(c, 'n1', 'shared'), { message: 'n1 serves' });
  const client = await WharfClient.connect({ servers: c.nats.url, cluster: c.cluster, routeToPrimaries: false });
  t.teardown(() => client.close());
  const { seen, nc } = await spy(c);
  t.teardown(() => nc.close());
  for (let i = 0; i < 3; i++) await client.sendMessage('shared', `v${i}`);
  await client.receive('shared', { maxMessages: 3 });
  await nc.flush();
  t.true(seen.length === 4 && seen.every((s) => s.node === undefined));
});
