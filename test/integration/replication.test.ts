/**
 * Partition replication between three real nodes (in this process), with the assignments written
 * by the test instead of a cluster manager: the replica side alone — followers copy the primary's
 * log, an acknowledged send is on a majority, a new primary elected by the two-step protocol has
 * every acknowledged message, and receipt handles of the old primary stay valid.
 */
import test from 'ava';
import { WharfClient } from '../../src/client/client.ts';
import type { WharfNode } from '../../src/node/node.ts';
import type { QueueName } from '../../src/names.ts';
import { keys } from '../../src/storage/keys.ts';
import { openRocksStore } from '../../src/storage/store.ts';
import { eventually } from '../helpers/eventually.ts';
import { createReplicatedQueue, elect, IDS, report, startCluster } from '../helpers/replicated-cluster.ts';

test('followers copy every acknowledged send; a new primary elected after the old one stops has all of them', async (t) => {
  const c = await startCluster(t);
  await createReplicatedQueue(c, 'orders');
  await eventually(() => report(c.nodes.get('n1') as WharfNode, 'orders')?.role === 'primary', { message: 'n1 serves' });

  const sent: string[] = [];
  for (let i = 0; i < 20; i++) {
    await c.client.sendMessageBatch('orders', Array.from({ length: 10 }, (_, k) => ({ id: `m${k}`, body: new TextEncoder().encode(`v${i * 10 + k}`) })));
    for (let k = 0; k < 10; k++) sent.push(`v${i * 10 + k}`);
  }
  // Receive some and keep the handles: they must stay valid under the next primary.
  const first = await c.client.receive('orders', { maxMessages: 5, visibilityTimeout: 60 });
  t.is(first.length, 5);

  const primaryEnd = report(c.nodes.get('n1') as WharfNode, 'orders')?.logEnd ?? 0;
  await eventually(() => ['n2', 'n3'].every((id) => report(c.nodes.get(id) as WharfNode, 'orders')?.logEnd === primaryEnd), {
    message: 'followers reach the primary log end',
  });

  await (c.nodes.get('n1') as WharfNode).stop();
  c.nodes.delete('n1');
  const winner = await elect(c, 'orders', ['n2', 'n3']);
  await eventually(() => report(c.nodes.get(winner) as WharfNode, 'orders')?.role === 'primary', { message: 'the new primary serves', timeoutMs: 15_000 });

  // The first five are in flight under a live lease: not delivered again; their handles still work.
  for (const m of first) await c.client.deleteMessage('orders', m.receiptHandle);
  const received = new Set(first.map((m) => new TextDecoder().decode(m.body)));
  for (;;) {
    const batch = await c.client.receive('orders', { maxMessages: 100, visibilityTimeout: 60 });
    if (batch.length === 0) break;
    for (const m of batch) {
      const v = new TextDecoder().decode(m.body);
      t.false(received.has(v), `delivered twice: ${v}`);
      received.add(v);
    }
  }
  t.deepEqual([...received].sort(), [...sent].sort());
});

test('a replica that restarts catches up from the primary and its log matches', async (t) => {
  const c = await startCluster(t);
  await createReplicatedQueue(c, 'jobs');
  await eventually(() => report(c.nodes.get('n1') as WharfNode, 'jobs')?.role === 'primary', { message: 'n1 serves' });
  await (c.nodes.get('n3') as WharfNode).stop();
  for (let i = 0; i < 10; i++) await c.client.send('jobs', `x${i}`);
  const restarted = await c.start('n3');
  const end = report(c.nodes.get('n1') as WharfNode, 'jobs')?.logEnd ?? 0;
  await eventually(() => report(restarted, 'jobs')?.logEnd === end, { message: 'n3 caught up' });
  t.is(report(restarted, 'jobs')?.role, 'follower');
});

/** Every key and value of the partition's state and the number of log entries, read from a stopped node's store. */
async function storedPartition(dir: string, queue: string): Promise<{ state: Map<string, string>; logEntries: number }> {
  const store = await openRocksStore(dir);
  try {
    const state = new Map<string, string>();
    for (const range of keys.stateRanges(queue as QueueName, 0)) {
      for (const [k, v] of await store.scan(range, 1_000_000)) state.set(k, Buffer.from(v).toString('hex'));
    }
    const logEntries = (await store.scanKeys(keys.log(queue as QueueName, 0), 1_000_000)).length;
    return { state, logEntries };
  } finally {
    await store.close();
  }
}

test('a replica further behind than the retained log copies a snapshot and ends with the same state; logs stay bounded', async (t) => {
  const RETAIN = 16;
  const c = await startCluster(t, { logRetainEntries: RETAIN });
  await createReplicatedQueue(c, 'jobs');
  await eventually(() => report(c.nodes.get('n1') as WharfNode, 'jobs')?.role === 'primary', { message: 'n1 serves' });
  await (c.nodes.get('n3') as WharfNode).stop();
  // Many small writes (each its own log entry), in-flight leases and deletes: all of it is state to copy.
  for (let i = 0; i < 120; i++) await c.client.send('jobs', `x${i}`);
  const leased = await c.client.receive('jobs', { maxMessages: 10, visibilityTimeout: 600 });
  t.true(leased.length > 0);
  for (const m of leased.slice(0, 5)) await c.client.deleteMessage('jobs', m.receiptHandle);
  const end = report(c.nodes.get('n1') as WharfNode, 'jobs')?.logEnd ?? 0;
  t.true(end > 4 * RETAIN, `the log ran well past the retained tail (${end} entries)`);

  const restarted = await c.start('n3');
  await eventually(() => report(restarted, 'jobs')?.logEnd === end && report(restarted, 'jobs')?.role === 'follower', {
    message: 'n3 copied the snapshot and caught up',
  });
  // One more write, so the followers learn that everything before it is committed, and apply it.
  await c.client.send('jobs', 'last');
  const last = report(c.nodes.get('n1') as WharfNode, 'jobs')?.logEnd ?? 0;
  await eventually(() => ['n2', 'n3'].every((id) => report(c.nodes.get(id) as WharfNode, 'jobs')?.commitIndex === last), {
    message: 'followers know the last entry is committed',
  });
  for (const id of IDS) {
    await (c.nodes.get(id) as WharfNode).stop();
    c.nodes.delete(id);
  }
  const [n1, n2, n3] = await Promise.all(IDS.map((id) => storedPartition(c.dirs.get(id) as string, 'jobs')));
  t.true(n1 !== undefined && n2 !== undefined && n3 !== undefined);
  if (!n1 || !n2 || !n3) return;
  t.true(n1.state.size > 100);
  t.deepEqual([...n3.state], [...n1.state], 'the copied replica holds exactly the primary state');
  t.deepEqual([...n2.state], [...n1.state]);
  for (const { logEntries } of [n1, n2, n3]) t.true(logEntries <= 2 * RETAIN + 8, `log bounded (${logEntries} entries)`);
});

test('requests forwarded to the primary on another node take effect: batch deletes, visibility changes, counts', async (t) => {
  const c = await startCluster(t);
  await createReplicatedQueue(c, 'forwarded');
  await eventually(() => report(c.nodes.get('n1') as WharfNode, 'forwarded')?.role === 'primary', { message: 'n1 serves' });
  // A client that does not route to primaries asks the queue group of front-ends: about two
  // requests in three reach n2 or n3 and are forwarded.
  const client = await WharfClient.connect({ servers: c.nats.url, cluster: c.cluster, routeToPrimaries: false });
  t.teardown(() => client.close());
  for (let i = 0; i < 20; i++) {
    await client.sendMessageBatch('forwarded', [0, 1].map((k) => ({ id: `e${k}`, body: new TextEncoder().encode(`v${i}-${k}`) })));
  }
  let deleted = 0;
  for (let round = 0; round < 20; round++) {
    const batch = await client.receive('forwarded', { maxMessages: 2, visibilityTimeout: 60 });
    if (batch.length === 0) break;
    const [first] = batch;
    if (first) await client.changeMessageVisibility('forwarded', first.receiptHandle, 120);
    const outcome = await client.deleteMessageBatch('forwarded', batch.map((m, k) => ({ id: `d${k}`, receiptHandle: m.receiptHandle })));
    t.deepEqual(outcome.failed, [], `round ${round}`);
    deleted += outcome.successful.length;
  }
  t.is(deleted, 40);
  const { counts } = await client.getQueueAttributes('forwarded');
  t.like(counts, { approximateNumberOfMessages: 0, approximateNumberOfMessagesNotVisible: 0, approximateNumberOfMessagesDelayed: 0, approximateNumberOfMessagesDeadLettered: 0 });
});
