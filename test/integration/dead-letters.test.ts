/**
 * Dead-letter queues against a real node (real nats-server, real RocksDB): each reason a message is
 * dead-lettered (max receives, retention, TTL, overflow, unknown queue), the overflow policies, the
 * allow policy, the history a dead letter carries, and the dead-lettered count. Time-based expiry
 * is driven by an OffsetClock; waits are `eventually` polls of what the API answers.
 */
import test from 'ava';
import { ErrorCode } from '../../src/errors.ts';
import type { WharfClient } from '../../src/client/client.ts';
import type { ReceivedMessage } from '../../src/protocol/messages.ts';
import { OffsetClock } from '../helpers/clock.ts';
import { eventually } from '../helpers/eventually.ts';
import { startWharf } from '../helpers/wharf.ts';
import { bodies, failsWith, receiveSome, text } from '../helpers/queue-assertions.ts';

/** Creates `dlq` and `source` with a redrive policy to it. */
async function withDlq(client: WharfClient, maxReceiveCount = 2, more: Parameters<WharfClient['createQueue']>[1] = {}): Promise<void> {
  await client.createQueue('dlq');
  await client.createQueue('source', { redrivePolicy: { deadLetterQueue: 'dlq', maxReceiveCount }, ...more });
}

/** Receives every message of a queue (none left in it), waiting until `n` have come. */
async function drain(client: WharfClient, queue: string, n: number): Promise<ReceivedMessage[]> {
  const got: ReceivedMessage[] = [];
  await eventually(async () => {
    got.push(...(await client.receive(queue, { maxMessages: 100, visibilityTimeout: 600 })));
    return got.length >= n;
  }, { message: `${n} messages from ${queue}` });
  return got;
}

test('a message received maxReceiveCount times goes to the DLQ at its next receive, with every attempt: consumer, time and how it ended', async (t) => {
  const { client, newClient } = await startWharf(t);
  await withDlq(client, 2);
  const alice = await newClient({ consumer: 'alice' });
  const bob = await newClient({ consumer: 'bob' });
  const { messageId } = await client.sendMessage('source', 'poison');

  // Attempt 1: alice's lease runs out (visibility 0 ends it at the next tick).
  const [first] = await alice.receive('source', { visibilityTimeout: 0 });
  t.is(first?.receiveCount, 1);
  // Attempt 2: bob releases it (ChangeMessageVisibility to 0).
  const [second] = await receiveSome(bob, 'source', 1, 'the redelivery to bob');
  t.is(second?.receiveCount, 2);
  await bob.changeMessageVisibility('source', second?.receiptHandle ?? '', 0);
  // A third receive finds it over the limit: it is dead-lettered, not delivered.
  t.deepEqual(await alice.receive('source'), []);

  const [dead] = await drain(client, 'dlq', 1);
  t.is(dead?.messageId, messageId, 'the DLQ keeps the message id');
  t.is(text(dead?.body ?? new Uint8Array()), 'poison');
  const history = dead?.deadLetter;
  t.like(history, { sourceQueue: 'source', reason: 'max-receives', receiveCount: 2, totalAttempts: 2 });
  t.deepEqual(
    history?.attempts.map((a) => ({ n: a.n, consumer: a.consumer, ended: a.ended })),
    [
      { n: 1, consumer: 'alice', ended: 'lease-expired' },
      { n: 2, consumer: 'bob', ended: 'released' },
    ],
  );
  for (const a of history?.attempts ?? []) t.true(a.at !== undefined && a.endedAt >= a.at, 'each attempt has its delivery and end times');
  t.true((history?.deadLetteredAt ?? 0) >= (history?.attempts[1]?.endedAt ?? Infinity));
  const counts = (await client.getQueueAttributes('source')).counts;
  t.like(counts, { approximateNumberOfMessages: 0, approximateNumberOfMessagesNotVisible: 0, approximateNumberOfMessagesDeadLettered: 1 });
});

test('with deadLetterOnExpiry, a message past retention goes to the DLQ (in flight or not); without it, it is deleted', async (t) => {
  const clock = new OffsetClock();
  const { client } = await startWharf(t, { clock });
  await withDlq(client, 5, { retentionPeriod: 60, deadLetterOnExpiry: true });
  await client.createQueue('plain', { retentionPeriod: 60 });
  await client.sendMessage('source', 'ready');
  await client.sendMessage('source', 'leased');
  await client.sendMessage('plain', 'gone');
  const [leased] = await client.receive('source', { visibilityTimeout: 600 });
  t.is(text(leased?.body ?? new Uint8Array()), 'ready');

  clock.advance(61_000);
  const dead = await drain(client, 'dlq', 2);
  t.deepEqual(bodies(dead).sort(), ['leased', 'ready']);
  t.true(dead.every((m) => m.deadLetter?.reason === 'retention' && m.deadLetter.sourceQueue === 'source'));
  const leasedOne = dead.find((m) => text(m.body) === 'ready');
  t.like(leasedOne?.deadLetter?.attempts[0], { n: 1, ended: 'dead-lettered' }, 'the attempt in flight ended by the dead-lettering');
  await eventually(async () => (await client.getQueueAttributes('plain')).counts.approximateNumberOfMessages === 0, { message: 'plain expired' });
  t.is((await client.getQueueAttributes('plain')).counts.approximateNumberOfMessagesDeadLettered, 0);
});

test('a message whose ttlSeconds ran out goes to the DLQ (deadLetterOnExpiry) before retention would', async (t) => {
  const clock = new OffsetClock();
  const { client } = await startWharf(t, { clock });
  await withDlq(client, 5, { deadLetterOnExpiry: true });
  await client.sendMessage('source', 'short-lived', { ttlSeconds: 10 });
  await client.sendMessage('source', 'long-lived');
  clock.advance(11_000);
  const [dead] = await drain(client, 'dlq', 1);
  t.like(dead?.deadLetter, { reason: 'ttl', sourceQueue: 'source', receiveCount: 0 });
  t.is(text(dead?.body ?? new Uint8Array()), 'short-lived');
  t.deepEqual(bodies(await receiveSome(client, 'source')), ['long-lived']);
});

test('overflow reject: a send beyond maxLength fails with queue_full and stores nothing', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('bounded', { maxLength: 2 });
  await client.sendMessage('bounded', 'a');
  await client.sendMessage('bounded', 'b');
  await failsWith(t, client.sendMessage('bounded', 'c'), ErrorCode.QueueFull);
  const batch = await client.sendMessageBatch('bounded', [{ id: 'x', body: new TextEncoder().encode('x') }]);
  t.deepEqual(batch.failed.map((f) => [f.id, f.code]), [['x', ErrorCode.QueueFull]]);
  t.like((await client.getQueueAttributes('bounded')).counts, { approximateNumberOfMessages: 2 });
});

test('overflow drop-oldest: a send beyond maxLength deletes the oldest ready message', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('bounded', { maxLength: 2, overflowPolicy: 'drop-oldest' });
  for (const body of ['a', 'b', 'c']) await client.sendMessage('bounded', body);
  t.deepEqual(bodies(await client.receive('bounded', { maxMessages: 10 })).sort(), ['b', 'c']);
});

test('overflow dead-letter: the message beyond maxLength goes to the DLQ', async (t) => {
  const { client } = await startWharf(t);
  await withDlq(client, 5, { maxLength: 1, overflowPolicy: 'dead-letter' });
  await client.sendMessage('source', 'kept');
  const { messageId } = await client.sendMessage('source', 'overflowed');
  const [dead] = await drain(client, 'dlq', 1);
  t.is(dead?.messageId, messageId);
  t.like(dead?.deadLetter, { reason: 'overflow', sourceQueue: 'source' });
  t.deepEqual(bodies(await client.receive('source', { maxMessages: 10 })), ['kept']);
});

test('with the cluster DLQ configured, a send to a queue that does not exist is kept there and still answered queue_not_found', async (t) => {
  const { client } = await startWharf(t, { unknownQueueDlq: 'lost' });
  await client.createQueue('lost');
  await failsWith(t, client.sendMessage('no-such-queue', 'misaddressed'), ErrorCode.QueueNotFound);
  const [dead] = await drain(client, 'lost', 1);
  t.like(dead?.deadLetter, { reason: 'unknown-queue', sourceQueue: 'no-such-queue' });
  t.is(text(dead?.body ?? new Uint8Array()), 'misaddressed');
});

test("a redrive policy is refused with redrive_not_allowed when the DLQ's allow policy excludes the source; other mistakes are invalid_attribute", async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('closed', { redriveAllowPolicy: { redrivePermission: 'denyAll' } });
  await client.createQueue('picky', { redriveAllowPolicy: { redrivePermission: 'byQueue', sourceQueues: ['friend'] } });
  await failsWith(t, client.createQueue('q1', { redrivePolicy: { deadLetterQueue: 'closed', maxReceiveCount: 3 } }), ErrorCode.RedriveNotAllowed);
  await failsWith(t, client.createQueue('q2', { redrivePolicy: { deadLetterQueue: 'picky', maxReceiveCount: 3 } }), ErrorCode.RedriveNotAllowed);
  await client.createQueue('friend', { redrivePolicy: { deadLetterQueue: 'picky', maxReceiveCount: 3 } });
  await client.createQueue('q3');
  await failsWith(t, client.setQueueAttributes('q3', { redrivePolicy: { deadLetterQueue: 'closed', maxReceiveCount: 3 } }), ErrorCode.RedriveNotAllowed);
  await failsWith(t, client.setQueueAttributes('q3', { redrivePolicy: { deadLetterQueue: 'nowhere', maxReceiveCount: 3 } }), ErrorCode.InvalidAttribute);
  await failsWith(t, client.setQueueAttributes('q3', { redrivePolicy: { deadLetterQueue: 'picky', maxReceiveCount: 1001 } }), ErrorCode.InvalidAttribute);
  await failsWith(t, client.setQueueAttributes('q3', { deadLetterOnExpiry: true }), ErrorCode.InvalidAttribute, 'expiry needs a DLQ');
  t.is((await client.getQueueAttributes('q3')).attributes.redrivePolicy, undefined, 'nothing was written');
  const set = await client.setQueueAttributes('friend', { redrivePolicy: null });
  t.is(set.redrivePolicy, undefined, 'null removes the policy');
});
