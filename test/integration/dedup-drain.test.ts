/**
 * Deduplication across a layout change, on a real node: a send retried with the same
 * deduplication id after its partition started draining is answered by that partition as the
 * duplicate it is (the original message id), not stored again in the partition the id names now.
 */
import test from 'ava';
import { withState } from '../../src/meta/layout.ts';
import type { ReceivedMessage } from '../../src/protocol/messages.ts';
import { decodeReceipt } from '../../src/protocol/receipt.ts';
import { partitionOfId } from '../../src/protocol/route.ts';
import { startWharfCluster } from '../helpers/cluster.ts';
import { eventually } from '../helpers/eventually.ts';
import { watchManager } from '../helpers/manager-watch.ts';

const QUEUE = 'retried';
const text = (m: ReceivedMessage) => new TextDecoder().decode(m.body);

/** Deduplication ids that name partition 0 of two (the one drained below). */
function idsOfPartition0(prefix: string, n: number): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < n; i++) if (partitionOfId(`${prefix}-${i}`, 2) === 0) out.push(`${prefix}-${i}`);
  return out;
}

test('a retry that reaches a draining partition is answered with the original message, not stored twice', async (t) => {
  t.timeout(120_000);
  const cluster = await startWharfCluster(t, { nodes: 1 });
  const watch = await watchManager(t, cluster.nats.url, cluster.cluster);
  const client = await cluster.connect();
  // Auto-scaling on (so primaries report their load), but never deciding by itself in this test.
  await eventually(
    () => client.createQueue(QUEUE, { partitions: 2, replicationFactor: 1, autoScaling: { minPartitions: 1, maxPartitions: 2, scaleDownAfterSeconds: 86_400, scaleUpPercent: 100 } }),
    { timeoutMs: 30_000, message: 'queue created' },
  );
  const [single, batchFirst, batchSecond, probe, fresh] = idsOfPartition0('dedup', 5) as [string, string, string, string, string];
  const first = await client.sendMessage(QUEUE, 'single', { deduplicationId: single });
  const batch = [
    { id: 'a', body: new TextEncoder().encode('batch-a'), deduplicationId: batchFirst },
    { id: 'b', body: new TextEncoder().encode('batch-b'), deduplicationId: batchSecond },
  ];
  const sentBatch = await client.sendMessageBatch(QUEUE, batch);
  t.is(sentBatch.successful.length, 2);

  const entry = watch.metadata.queue(QUEUE);
  if (entry === undefined) throw new Error('no queue');
  t.truthy(await watch.metadata.updateQueue({ ...entry.value, layout: withState(entry.value, 0, 'draining') }, entry.revision));
  // The node has seen the drain once a new id of partition 0 lands in partition 1.
  await client.sendMessage(QUEUE, 'probe', { deduplicationId: probe });
  await eventually(
    async () => {
      const [m] = await client.receive(QUEUE, { maxMessages: 1, visibilityTimeout: 60 });
      if (m === undefined) return false;
      if (text(m) !== 'probe') {
        await client.changeMessageVisibility(QUEUE, m.receiptHandle, 0);
        return false;
      }
      await client.deleteMessage(QUEUE, m.receiptHandle);
      return decodeReceipt(m.receiptHandle).partition === 1;
    },
    { timeoutMs: 30_000, message: 'the node routes around the draining partition' },
  );

  const again = await client.sendMessage(QUEUE, 'single', { deduplicationId: single });
  t.is(again.messageId, first.messageId, 'the retried send is the first one');
  const batchAgain = await client.sendMessageBatch(QUEUE, batch);
  t.deepEqual(batchAgain.successful, sentBatch.successful, 'the retried batch is the first one');
  // A new id of partition 0 is refused there and stored in partition 1.
  await client.sendMessage(QUEUE, 'fresh', { deduplicationId: fresh });

  const seen: ReceivedMessage[] = [];
  await eventually(
    async () => {
      for (const m of await client.receive(QUEUE, { maxMessages: 10, visibilityTimeout: 60 })) {
        seen.push(m);
        await client.deleteMessage(QUEUE, m.receiptHandle);
      }
      return seen.length >= 4;
    },
    { message: 'every message received' },
  );
  t.deepEqual(seen.map(text).sort(), ['batch-a', 'batch-b', 'fresh', 'single']);
  const partitions = Object.fromEntries(seen.map((m) => [text(m), decodeReceipt(m.receiptHandle).partition]));
  t.deepEqual(partitions, { single: 0, 'batch-a': 0, 'batch-b': 0, fresh: 1 });
  const counts = await client.getQueueAttributes(QUEUE);
  t.is(counts.counts.approximateNumberOfMessages + counts.counts.approximateNumberOfMessagesNotVisible, 0, 'nothing else was stored');
});
