/**
 * One partition drained by hand (its state written in the queue's layout, as auto-scaling does), on
 * a real node: sends leave it at once, what it holds is still received and deleted through it, it
 * is retired (replicas dropped) only once empty, and its receipt handles then answer stale.
 */
import test from 'ava';
import { ErrorCode, WharfError } from '../../src/errors.ts';
import { withState } from '../../src/meta/layout.ts';
import type { ReceivedMessage } from '../../src/protocol/messages.ts';
import { decodeReceipt } from '../../src/protocol/receipt.ts';
import { startWharfCluster } from '../helpers/cluster.ts';
import { eventually } from '../helpers/eventually.ts';
import { watchManager } from '../helpers/manager-watch.ts';

const QUEUE = 'shrinking';
const partitionOf = (m: ReceivedMessage) => decodeReceipt(m.receiptHandle).partition;

test('a draining partition takes no sends, is read until empty, then retired; its handles answer stale', async (t) => {
  t.timeout(120_000);
  const cluster = await startWharfCluster(t, { nodes: 1 });
  const watch = await watchManager(t, cluster.nats.url, cluster.cluster);
  const client = await cluster.connect();
  // Auto-scaling on (so primaries report their load), but never deciding by itself in this test.
  await eventually(
    () => client.createQueue(QUEUE, { partitions: 2, replicationFactor: 1, autoScaling: { minPartitions: 1, maxPartitions: 2, scaleDownAfterSeconds: 86_400, scaleUpPercent: 100 } }),
    { timeoutMs: 30_000, message: 'queue created' },
  );
  for (let i = 0; i < 10; i++) await client.sendMessage(QUEUE, `before-${i}`);
  // One message of partition 1 stays in flight; every other is deleted.
  let kept: ReceivedMessage | undefined;
  await eventually(
    async () => {
      for (const m of await client.receive(QUEUE, { maxMessages: 10, visibilityTimeout: 60 })) {
        if (kept === undefined && partitionOf(m) === 1) kept = m;
        else await client.deleteMessage(QUEUE, m.receiptHandle);
      }
      return kept;
    },
    { message: 'a message of partition 1 in flight' },
  );
  const held = kept as ReceivedMessage;

  const entry = watch.metadata.queue(QUEUE);
  if (entry === undefined) throw new Error('no queue');
  t.truthy(await watch.metadata.updateQueue({ ...entry.value, layout: withState(entry.value, 1, 'draining') }, entry.revision));
  await eventually(() => watch.metadata.queue(QUEUE)?.value.layout?.states[1] === 'draining', { message: 'layout seen' });

  // The node's cache may lag the write by a moment: sends that reach partition 1 meanwhile are
  // refused there and go to partition 0, so every one of these must land in partition 0.
  for (let i = 0; i < 10; i++) await client.sendMessage(QUEUE, `after-${i}`);
  const seen: ReceivedMessage[] = [];
  await eventually(
    async () => {
      for (const m of await client.receive(QUEUE, { maxMessages: 10, visibilityTimeout: 60 })) {
        seen.push(m);
        await client.deleteMessage(QUEUE, m.receiptHandle);
      }
      return seen.filter((m) => new TextDecoder().decode(m.body).startsWith('after-')).length === 10;
    },
    { message: 'every message sent after the drain received' },
  );
  t.deepEqual(
    seen.filter((m) => new TextDecoder().decode(m.body).startsWith('after-')).map(partitionOf),
    Array.from({ length: 10 }, () => 0),
    'no send went to the draining partition',
  );
  t.is(watch.metadata.queue(QUEUE)?.value.layout?.states[1], 'draining', 'not retired while a message of it is in flight');

  // The held message is deleted through its handle; then the partition is empty and retired.
  await client.deleteMessage(QUEUE, held.receiptHandle);
  await eventually(() => watch.metadata.queue(QUEUE)?.value.layout?.states[1] === 'retired', { timeoutMs: 30_000, message: 'partition 1 retired' });
  await eventually(() => watch.metadata.assignment(QUEUE, 1)?.value.replicas.length === 0, { message: 'its replicas dropped' });
  const stale = await client.deleteMessage(QUEUE, held.receiptHandle).catch((err: unknown) => err);
  t.true(stale instanceof WharfError && stale.code === ErrorCode.InvalidReceiptHandle, String(stale));
  await client.sendMessage(QUEUE, 'still-sending');
  const [last] = await eventually(async () => {
    const got = await client.receive(QUEUE, { maxMessages: 1 });
    return got.length > 0 ? got : undefined;
  });
  t.is(last === undefined ? -1 : partitionOf(last), 0);
});
