/**
 * GetQueueAttributes' counts against a real node (real nats-server, real RocksDB): the age of the
 * oldest message (ready, in flight or delayed; 0 when empty), consistent with the delayed count and
 * with the node's metric, and a purge that empties every state and resets every count. Time moves
 * with an OffsetClock, never by waiting.
 */
import test from 'ava';
import { ErrorCode } from '../../src/errors.ts';
import { OffsetClock } from '../helpers/clock.ts';
import { eventually } from '../helpers/eventually.ts';
import { counts, failsWith } from '../helpers/queue-assertions.ts';
import { startWharf } from '../helpers/wharf.ts';

const ageOf = async (client: { getQueueAttributes(q: string): Promise<{ counts: { approximateAgeOfOldestMessage: number } }> }, queue: string) =>
  (await client.getQueueAttributes(queue)).counts.approximateAgeOfOldestMessage;

test('approximateAgeOfOldestMessage is 0 for an empty queue and the oldest message’s age once it holds one', async (t) => {
  const clock = new OffsetClock();
  const { client } = await startWharf(t, { clock });
  await client.createQueue('orders');
  t.is(await ageOf(client, 'orders'), 0);

  await client.sendMessage('orders', 'first');
  clock.advance(100_000);
  await client.sendMessage('orders', 'second');
  const age = await ageOf(client, 'orders');
  t.true(age >= 100 && age < 130, `the first message is about 100 s old: ${age}`);

  // Received, not deleted: still the oldest message of the queue.
  const [first] = await client.receive('orders');
  t.true((await ageOf(client, 'orders')) >= 100, 'a message in flight counts');
  await client.deleteMessage('orders', first?.receiptHandle ?? '');
  t.true((await ageOf(client, 'orders')) < 100, 'once deleted, the younger message is the oldest');
  const [second] = await client.receive('orders');
  await client.deleteMessage('orders', second?.receiptHandle ?? '');
  t.like((await client.getQueueAttributes('orders')).counts, { ...counts(0, 0, 0), approximateAgeOfOldestMessage: 0 });
});

test('delayed messages count in the age: a queue holding only a delayed message reports its age', async (t) => {
  const clock = new OffsetClock();
  const { client } = await startWharf(t, { clock });
  await client.createQueue('orders');
  await client.sendMessage('orders', 'later', { delaySeconds: 900 });
  clock.advance(60_000);

  const c = (await client.getQueueAttributes('orders')).counts;
  t.is(c.approximateNumberOfMessagesDelayed, 1);
  t.true(c.approximateAgeOfOldestMessage >= 60, `the delayed message is about 60 s old: ${c.approximateAgeOfOldestMessage}`);
});

test('the age is the largest over the partitions, and the metric reports the same', async (t) => {
  const clock = new OffsetClock();
  const { client, node } = await startWharf(t, { clock });
  await client.createQueue('orders', { partitions: 3 });
  await client.sendMessageBatch('orders', [{ id: 'a', body: new TextEncoder().encode('old') }]);
  clock.advance(200_000);
  for (let i = 0; i < 3; i++) await client.sendMessage('orders', `new ${i}`);

  const age = await ageOf(client, 'orders');
  t.true(age >= 200 && age < 230, `the oldest of all partitions: ${age}`);
  const metrics = await (await fetch(`http://127.0.0.1:${node.httpPort}/metrics`)).text();
  const gauge = Number(/^wharf_queue_oldest_message_age_seconds\{queue="orders"\} (\S+)$/m.exec(metrics)?.[1]);
  t.true(gauge >= 200 && gauge < 230, `the gauge agrees: ${gauge}`);
});

test('PurgeQueue removes ready, in-flight and delayed messages; every count and the age are 0 after', async (t) => {
  const clock = new OffsetClock();
  const { client } = await startWharf(t, { clock });
  await client.createQueue('orders', { partitions: 2, visibilityTimeout: 30 });
  for (let i = 0; i < 6; i++) await client.sendMessage('orders', `ready ${i}`);
  for (let i = 0; i < 2; i++) await client.sendMessage('orders', `delayed ${i}`, { delaySeconds: 60 });
  const inFlight = await eventually(
    async () => {
      const got = await client.receive('orders', { maxMessages: 2 });
      return got.length > 0 && got;
    },
    { message: 'a receive' },
  );
  clock.advance(10_000);
  const before = (await client.getQueueAttributes('orders')).counts;
  t.like(before, counts(6 - inFlight.length, inFlight.length, 2));
  t.true(before.approximateAgeOfOldestMessage >= 10);

  const { purged } = await client.purgeQueue('orders');

  t.is(purged, 8);
  t.deepEqual((await client.getQueueAttributes('orders')).counts, { ...counts(0, 0, 0), approximateAgeOfOldestMessage: 0, approximateStoredBytes: 0 });
  // Nothing comes back: not the leases running out, not the delays.
  clock.advance(120_000);
  t.deepEqual(await client.receive('orders', { maxMessages: 10 }), []);
  await failsWith(t, client.deleteMessage('orders', inFlight[0]?.receiptHandle ?? ''), ErrorCode.InvalidReceiptHandle);
  t.deepEqual((await client.getQueueAttributes('orders')).counts, { ...counts(0, 0, 0), approximateAgeOfOldestMessage: 0, approximateStoredBytes: 0 });

  // The queue works on after a purge, its age counted from the new message.
  await client.sendMessage('orders', 'after');
  t.like((await client.getQueueAttributes('orders')).counts, { ...counts(1, 0, 0), approximateAgeOfOldestMessage: 0 });
});
