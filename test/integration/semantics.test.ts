/**
 * Delivery semantics against a real node (real nats-server, real RocksDB): leases and redelivery,
 * stale receipt handles, long polling, receive attempt ids, retention, and what survives a restart.
 * Time-based behaviour is driven by an OffsetClock, never by waiting it out.
 */
import test, { type ExecutionContext } from 'ava';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { ErrorCode } from '../../src/errors.ts';
import { clusterName } from '../../src/names.ts';
import type { Action } from '../../src/protocol/messages.ts';
import { subjects } from '../../src/protocol/subjects.ts';
import { OffsetClock } from '../helpers/clock.ts';
import { eventually } from '../helpers/eventually.ts';
import { startWharf } from '../helpers/wharf.ts';
import { text, bodies, failsWith, counts, receiveSome } from '../helpers/queue-assertions.ts';





async function rawConnection(t: ExecutionContext, servers: string): Promise<NatsConnection> {
  const nc = await connect({ servers });
  t.teardown(() => nc.close());
  return nc;
}

/** Starts watching for a request of `action` on NATS (from a connection of its own); `seen` resolves true when one crosses. */
async function watchRequest(t: ExecutionContext, servers: string, cluster: string, action: Action): Promise<{ seen: Promise<boolean> }> {
  const sniffer = await rawConnection(t, servers);
  // The SDK sends to the node of the partition's primary once it knows it, else to any node.
  const s = subjects(clusterName(cluster));
  const seen = new Promise<boolean>((resolve) => {
    for (const subject of [s.api(action), s.nodeApi('*', action)]) sniffer.subscribe(subject, { max: 1, callback: () => resolve(true) });
  });
  await sniffer.flush();
  return { seen };
}

// ---- leases --------------------------------------------------------------------------------------

test('a message whose visibility timeout expires is redelivered with a higher receiveCount and a new receipt handle', async (t) => {
  const clock = new OffsetClock();
  const { client } = await startWharf(t, { clock });
  await client.createQueue('orders', { visibilityTimeout: 30 });
  const { messageId } = await client.sendMessage('orders', 'hello');
  const [first] = await client.receive('orders');
  t.is(first?.receiveCount, 1);

  clock.advance(31_000);
  const [second] = await receiveSome(client, 'orders', 1, 'the redelivery');

  t.is(second?.messageId, messageId);
  t.is(text(second?.body ?? new Uint8Array()), 'hello');
  t.is(second?.receiveCount, 2);
  t.not(second?.receiptHandle, first?.receiptHandle);
  t.is(second?.firstReceivedAt, first?.firstReceivedAt);
  t.is(second?.sentAt, first?.sentAt);
});

test('after a redelivery the old receipt handle is rejected and the new one works', async (t) => {
  const clock = new OffsetClock();
  const { client } = await startWharf(t, { clock });
  await client.createQueue('orders', { visibilityTimeout: 30 });
  await client.sendMessage('orders', 'hello');
  const [first] = await client.receive('orders');
  clock.advance(31_000);
  const [second] = await receiveSome(client, 'orders', 1, 'the redelivery');
  const stale = first?.receiptHandle ?? '';
  const current = second?.receiptHandle ?? '';

  await failsWith(t, client.deleteMessage('orders', stale), ErrorCode.InvalidReceiptHandle, 'DeleteMessage with the old handle');
  await failsWith(t, client.changeMessageVisibility('orders', stale, 0), ErrorCode.InvalidReceiptHandle, 'ChangeMessageVisibility with the old handle');
  const batch = await client.deleteMessageBatch('orders', [{ id: 'stale', receiptHandle: stale }]);
  t.like(batch.failed[0], { id: 'stale', code: ErrorCode.InvalidReceiptHandle });
  t.like((await client.getQueueAttributes('orders')).counts, counts(0, 1, 0), 'the stale handles changed nothing');

  await client.changeMessageVisibility('orders', current, 120);
  await client.deleteMessage('orders', current);
  t.like((await client.getQueueAttributes('orders')).counts, counts(0, 0, 0));
});

test('a deleted message is never received again while the others keep being redelivered', async (t) => {
  const clock = new OffsetClock();
  const { client } = await startWharf(t, { clock });
  await client.createQueue('orders', { visibilityTimeout: 30 });
  await client.sendMessageBatch('orders', ['a', 'b', 'c'].map((id) => ({ id, body: Buffer.from(id) })));
  const firstRound = await client.receive('orders', { maxMessages: 10 });
  const deleted = firstRound.find((m) => text(m.body) === 'b');
  await client.deleteMessage('orders', deleted?.receiptHandle ?? '');

  const seen: string[][] = [];
  for (let round = 0; round < 3; round++) {
    clock.advance(31_000);
    const got = await eventually(async () => {
      const m = await client.receive('orders', { maxMessages: 10 });
      return m.length === 2 && m;
    }, { message: `redelivery round ${round}` });
    seen.push(bodies(got).sort());
  }

  t.deepEqual(seen, [
    ['a', 'c'],
    ['a', 'c'],
    ['a', 'c'],
  ]);
  t.like((await client.getQueueAttributes('orders')).counts, counts(0, 2, 0));
});

test('a visibility timeout given on receive overrides a longer one of the queue', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('orders', { visibilityTimeout: 3600 });
  await client.sendMessage('orders', 'hello');

  const [first] = await client.receive('orders', { visibilityTimeout: 0 });

  const [again] = await receiveSome(client, 'orders', 1, 'the message released at once');
  t.is(again?.messageId, first?.messageId);
  t.is(again?.receiveCount, 2);
});

test('a visibility timeout given on receive overrides a shorter one of the queue', async (t) => {
  const clock = new OffsetClock();
  const { client } = await startWharf(t, { clock });
  await client.createQueue('orders', { visibilityTimeout: 30 });
  await client.sendMessage('orders', 'hello');

  const [first] = await client.receive('orders', { visibilityTimeout: 300 });
  clock.advance(120_000);

  t.deepEqual(await client.receive('orders', { waitTimeSeconds: 1 }), [], 'still leased after 120 s');
  clock.advance(181_000);
  const [again] = await receiveSome(client, 'orders', 1, 'the redelivery after 300 s');
  t.is(again?.messageId, first?.messageId);
});

// ---- long polling --------------------------------------------------------------------------------

test('a long poll that starts before a send returns the message sent while it waits', async (t) => {
  const fixture = await startWharf(t);
  const { client, cluster } = fixture;
  await client.createQueue('orders');
  const sender = await fixture.newClient();
  // Watch the receive request cross NATS so the send is made after it.
  const { seen: requested } = await watchRequest(t, fixture.nats.url, cluster, 'ReceiveMessage');

  let settled = false;
  const receiving = client.receive('orders', { waitTimeSeconds: 5 }).finally(() => {
    settled = true;
  });
  t.true(await requested);
  t.false(settled, 'the receive waited');
  await sender.sendMessage('orders', 'late');
  const received = await receiving;

  t.deepEqual(bodies(received), ['late']);
  t.like((await client.getQueueAttributes('orders')).counts, counts(0, 1, 0));
});

test('a long poll on an empty queue returns no messages when its wait ends', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('orders');

  const received = await client.receive('orders', { waitTimeSeconds: 1 });

  t.deepEqual(received, []);
});

test('a queue receiveWaitTime makes a receive without waitTimeSeconds a long poll', async (t) => {
  const fixture = await startWharf(t);
  const { client, cluster } = fixture;
  await client.createQueue('orders', { receiveWaitTime: 5 });
  const sender = await fixture.newClient();
  const { seen: requested } = await watchRequest(t, fixture.nats.url, cluster, 'ReceiveMessage');

  const receiving = client.receive('orders');
  t.true(await requested);
  await sender.sendMessage('orders', 'late');

  t.deepEqual(bodies(await receiving), ['late']);
});

test('several long polls waiting on one queue each get a different message', async (t) => {
  const fixture = await startWharf(t);
  const { client } = fixture;
  await client.createQueue('orders');
  const receivers = await Promise.all([fixture.newClient(), fixture.newClient(), fixture.newClient()]);

  const receiving = receivers.map((r) => r.receive('orders', { waitTimeSeconds: 5 }));
  await client.sendMessageBatch('orders', ['a', 'b', 'c'].map((id) => ({ id, body: Buffer.from(id) })));
  const got = (await Promise.all(receiving)).flat();
  // A receiver whose wait ended before the batch arrived got nothing: collect what is left.
  const rest = got.length < 3 ? await client.receive('orders', { maxMessages: 10 }) : [];

  t.deepEqual([...bodies(got), ...bodies(rest)].sort(), ['a', 'b', 'c']);
  t.is(new Set(got.map((m) => m.messageId)).size, got.length);
});

// ---- receive attempt ids -------------------------------------------------------------------------

test('repeating a receive with the same receiveRequestAttemptId returns the same messages and handles', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('orders');
  await client.sendMessageBatch('orders', ['a', 'b', 'c'].map((id) => ({ id, body: Buffer.from(id) })));

  const first = await client.receive('orders', { maxMessages: 2, receiveRequestAttemptId: 'attempt-1' });
  const again = await client.receive('orders', { maxMessages: 2, receiveRequestAttemptId: 'attempt-1' });

  t.deepEqual(bodies(first), ['a', 'b']);
  t.deepEqual(again.map((m) => [m.messageId, m.receiptHandle, text(m.body), m.receiveCount]), first.map((m) => [m.messageId, m.receiptHandle, text(m.body), m.receiveCount]));
  t.like((await client.getQueueAttributes('orders')).counts, counts(1, 2, 0));
  const other = await client.receive('orders', { maxMessages: 2, receiveRequestAttemptId: 'attempt-2' });
  t.deepEqual(bodies(other), ['c']);
});

test('repeating a receive with the same receiveRequestAttemptId on a queue with 4 partitions returns the same messages', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('orders', { partitions: 4 });
  for (let i = 0; i < 8; i++) await client.sendMessage('orders', `m${i}`);

  const first = await client.receive('orders', { maxMessages: 1, receiveRequestAttemptId: 'attempt-1' });
  const again = await client.receive('orders', { maxMessages: 1, receiveRequestAttemptId: 'attempt-1' });

  t.is(first.length, 1);
  t.deepEqual(again.map((m) => m.receiptHandle), first.map((m) => m.receiptHandle));
  t.like((await client.getQueueAttributes('orders')).counts, counts(7, 1, 0));
});

// ---- retention -----------------------------------------------------------------------------------

test('messages older than the retention period are removed and never received', async (t) => {
  const clock = new OffsetClock();
  const { client } = await startWharf(t, { clock });
  await client.createQueue('orders', { retentionPeriod: 60, visibilityTimeout: 30 });
  await client.sendMessageBatch('orders', ['a', 'b', 'c', 'd'].map((id) => ({ id, body: Buffer.from(id) })));
  await client.sendMessage('orders', 'delayed', { delaySeconds: 40 });
  await client.receive('orders');
  t.like((await client.getQueueAttributes('orders')).counts, counts(3, 1, 1));

  clock.advance(61_000);

  await eventually(async () => {
    const c = (await client.getQueueAttributes('orders')).counts;
    return c.approximateNumberOfMessages + c.approximateNumberOfMessagesNotVisible + c.approximateNumberOfMessagesDelayed === 0;
  }, { message: 'the counts to drop to 0' });
  t.deepEqual(await client.receive('orders', { maxMessages: 10, waitTimeSeconds: 1 }), []);
  await client.sendMessage('orders', 'fresh');
  t.deepEqual(bodies(await client.receive('orders', { maxMessages: 10 })), ['fresh']);
});

test('retention removes old messages of a queue that was purged of more than 1000 messages', async (t) => {
  const clock = new OffsetClock();
  const { client } = await startWharf(t, { clock });
  await client.createQueue('orders', { retentionPeriod: 60 });
  const entries = Array.from({ length: 1000 }, (_, i) => ({ id: `e${i}`, body: Buffer.from(String(i)) }));
  await client.sendMessageBatch('orders', entries);
  await client.sendMessage('orders', 'one more');
  t.is((await client.purgeQueue('orders')).purged, 1001);
  await client.sendMessage('orders', 'old');

  clock.advance(61_000);

  await eventually(async () => (await client.getQueueAttributes('orders')).counts.approximateNumberOfMessages === 0, {
    timeoutMs: 5_000,
    message: 'the old message to be removed by retention',
  });
  t.pass();
});

// ---- restart -------------------------------------------------------------------------------------

test('messages sent before a restart are received after it, unchanged', async (t) => {
  const fixture = await startWharf(t);
  const { client } = fixture;
  await client.createQueue('orders');
  const sent: Array<{ messageId: string }> = [];
  for (let i = 0; i < 5; i++) {
    sent.push(await client.sendMessage('orders', `m${i}`, { attributes: { n: { type: 'number', value: String(i) } } }));
  }

  await fixture.restart();

  const received = await receiveSome(client, 'orders', 10, 'the messages after restart');
  t.deepEqual(bodies(received), ['m0', 'm1', 'm2', 'm3', 'm4']);
  t.deepEqual(received.map((m) => m.messageId), sent.map((s) => s.messageId));
  t.deepEqual(received.map((m) => m.attributes), [0, 1, 2, 3, 4].map((i) => ({ n: { type: 'number', value: String(i) } })));
  t.true(received.every((m) => m.receiveCount === 1));
});

test('a message deleted before a restart does not come back after it', async (t) => {
  const clock = new OffsetClock();
  const fixture = await startWharf(t, { clock });
  const { client } = fixture;
  await client.createQueue('orders', { visibilityTimeout: 30 });
  await client.sendMessageBatch('orders', ['gone', 'kept'].map((id) => ({ id, body: Buffer.from(id) })));
  const [gone] = await client.receive('orders');
  t.is(text(gone?.body ?? new Uint8Array()), 'gone');
  await client.deleteMessage('orders', gone?.receiptHandle ?? '');

  await fixture.restart();
  clock.advance(31_000);

  t.deepEqual(bodies(await receiveSome(client, 'orders', 10, 'the kept message')), ['kept']);
  t.deepEqual(await client.receive('orders', { maxMessages: 10, waitTimeSeconds: 1 }), []);
  t.like((await client.getQueueAttributes('orders')).counts, counts(0, 1, 0));
});

test('an in-flight message stays leased across a restart and comes back after its visibility timeout with its receive count', async (t) => {
  const clock = new OffsetClock();
  const fixture = await startWharf(t, { clock });
  const { client } = fixture;
  await client.createQueue('orders', { visibilityTimeout: 30 });
  await client.sendMessage('orders', 'hello');
  const [first] = await client.receive('orders');

  await fixture.restart();

  t.deepEqual(await eventually(() => client.receive('orders', { waitTimeSeconds: 1 })), [], 'still leased after the restart');
  t.like((await client.getQueueAttributes('orders')).counts, counts(0, 1, 0));
  clock.advance(31_000);
  const [again] = await receiveSome(client, 'orders', 1, 'the redelivery after restart');
  t.is(again?.messageId, first?.messageId);
  t.is(again?.receiveCount, 2);
  t.is(again?.firstReceivedAt, first?.firstReceivedAt);
  await failsWith(t, client.deleteMessage('orders', first?.receiptHandle ?? ''), ErrorCode.InvalidReceiptHandle);
});

test('a receipt handle issued before a restart still deletes its message after it', async (t) => {
  const fixture = await startWharf(t);
  const { client } = fixture;
  await client.createQueue('orders');
  await client.sendMessage('orders', 'hello');
  const [message] = await client.receive('orders');

  await fixture.restart();

  await eventually(() => client.deleteMessage('orders', message?.receiptHandle ?? '').then(() => true), { message: 'the delete after restart' });
  t.like((await client.getQueueAttributes('orders')).counts, counts(0, 0, 0));
});

test('GetQueueAttributes right after a restart counts the messages stored before it', async (t) => {
  const fixture = await startWharf(t);
  const { client } = fixture;
  // 64 partitions with messages in flight, visible and delayed: each loads its leases from disk at start.
  await client.createQueue('orders', { partitions: 64, visibilityTimeout: 3600 });
  for (let b = 0; b < 64; b++) {
    await client.sendMessageBatch('orders', Array.from({ length: 100 }, (_, i) => ({ id: `e${i}`, body: Buffer.from(`${b}-${i}`) })));
  }
  let inFlight = 0;
  for (let i = 0; i < 100 && inFlight < 6400; i++) inFlight += (await client.receive('orders', { maxMessages: 1000 })).length;
  for (let i = 0; i < 64; i++) await client.sendMessage('orders', `visible ${i}`);
  for (let i = 0; i < 64; i++) await client.sendMessage('orders', `delayed ${i}`, { delaySeconds: 600 });
  t.like((await client.getQueueAttributes('orders')).counts, counts(64, 6400, 64));

  await fixture.restart();

  // The partitions load in the background: the node may answer `unavailable` while they do (the SDK
  // retries it), but never counts that leave out stored messages.
  t.like((await client.getQueueAttributes('orders')).counts, counts(64, 6400, 64));
});

test('a delayed message survives a restart and is released when due', async (t) => {
  const clock = new OffsetClock();
  const fixture = await startWharf(t, { clock });
  const { client } = fixture;
  await client.createQueue('orders');
  await client.sendMessage('orders', 'delayed', { delaySeconds: 60 });

  await fixture.restart();

  t.deepEqual(await client.receive('orders', { waitTimeSeconds: 1 }), [], 'not due yet');
  t.like((await client.getQueueAttributes('orders')).counts, counts(0, 0, 1));
  clock.advance(61_000);
  t.deepEqual(bodies(await receiveSome(client, 'orders', 1, 'the delayed message')), ['delayed']);
  t.like((await client.getQueueAttributes('orders')).counts, counts(0, 1, 0));
});
