/**
 * Message operations through the SDK against a real node (real nats-server, real RocksDB):
 * SendMessage, SendMessageBatch, ReceiveMessage, DeleteMessage(Batch),
 * ChangeMessageVisibility(Batch), and delays.
 */
import test from 'ava';
import { ErrorCode } from '../../src/errors.ts';
import type { MessageAttributes } from '../../src/protocol/messages.ts';
import { OffsetClock } from '../helpers/clock.ts';
import { eventually } from '../helpers/eventually.ts';
import { startWharf } from '../helpers/wharf.ts';
import { text, bodies, failsWith, counts, receiveSome } from '../helpers/queue-assertions.ts';





/** Attributes with byte values as plain Uint8Arrays, so they compare equal whatever array class decoding made. */
function plain(attributes: MessageAttributes): MessageAttributes {
  return Object.fromEntries(
    Object.entries(attributes).map(([name, a]) => [name, a.type === 'binary' ? { type: 'binary', value: new Uint8Array(a.value) } : a]),
  );
}

// ---- SendMessage ---------------------------------------------------------------------------------

test('a message with a body of every byte value and attributes of all three types is received unchanged', async (t) => {
  const clock = new OffsetClock();
  const { client } = await startWharf(t, { clock });
  await client.createQueue('orders');
  const body = Uint8Array.from({ length: 256 }, (_, i) => i);
  const attributes: MessageAttributes = {
    customer: { type: 'string', value: 'Zoë ✓ "quoted"' },
    amount: { type: 'number', value: '-12.5e3' },
    'trace.id': { type: 'binary', value: Uint8Array.from([0, 255, 1, 254, 0]) },
  };

  const before = clock.now();
  const { messageId } = await client.sendMessage('orders', body, { attributes });
  const [message] = await client.receive('orders');

  t.truthy(message);
  t.is(message?.messageId, messageId);
  t.deepEqual(new Uint8Array(message?.body ?? []), body);
  t.deepEqual(plain(message?.attributes ?? {}), attributes);
  t.is(message?.receiveCount, 1);
  t.true((message?.sentAt ?? 0) >= before && (message?.sentAt ?? 0) <= clock.now());
  t.true((message?.firstReceivedAt ?? 0) >= (message?.sentAt ?? Infinity));
});

test('a message sent without attributes is received with empty attributes and an empty body stays empty', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('orders');

  await client.sendMessage('orders', new Uint8Array(0));
  const [message] = await client.receive('orders');

  t.is(message?.body.byteLength, 0);
  t.deepEqual(message?.attributes, {});
});

test('SendMessage larger than maximumMessageSize fails with message_too_large', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('orders', { maximumMessageSize: 1024 });

  await failsWith(t, client.sendMessage('orders', new Uint8Array(1025)), ErrorCode.MessageTooLarge, 'a body of 1025 bytes');
  await failsWith(
    t,
    client.sendMessage('orders', new Uint8Array(1000), { attributes: { note: { type: 'string', value: 'x'.repeat(100) } } }),
    ErrorCode.MessageTooLarge,
    'a body of 1000 bytes and 100 bytes of attributes',
  );
  await client.sendMessage('orders', new Uint8Array(1024).fill(7));

  t.like((await client.getQueueAttributes('orders')).counts, counts(1, 0, 0));
  const [message] = await client.receive('orders');
  t.is(message?.body.byteLength, 1024);
});

test('SendMessage with more than 10 message attributes fails with invalid_message_attribute', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('orders');
  const attributes: MessageAttributes = Object.fromEntries(
    Array.from({ length: 11 }, (_, i) => [`a${i}`, { type: 'string', value: String(i) }]),
  );

  await failsWith(t, client.sendMessage('orders', 'hello', { attributes }), ErrorCode.InvalidMessageAttribute);

  t.like((await client.getQueueAttributes('orders')).counts, counts(0, 0, 0));
});

// ---- SendMessageBatch ----------------------------------------------------------------------------

test('SendMessageBatch on a one-partition queue delivers the entries in batch order', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('orders');
  const entries = Array.from({ length: 50 }, (_, i) => ({ id: `e${i}`, body: Buffer.from(`m${i}`) }));

  const reply = await client.sendMessageBatch('orders', entries);
  const received = await client.receive('orders', { maxMessages: 100 });

  t.deepEqual(reply.failed, []);
  t.deepEqual(reply.successful.map((s) => s.id), entries.map((e) => e.id));
  t.deepEqual(bodies(received), entries.map((e) => text(e.body)));
  t.deepEqual(received.map((m) => m.messageId), reply.successful.map((s) => s.messageId));
});

test('SendMessageBatch reports an oversized entry as failed and sends the other entries', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('orders', { maximumMessageSize: 1024 });

  const reply = await client.sendMessageBatch('orders', [
    { id: 'first', body: Buffer.from('first') },
    { id: 'big', body: new Uint8Array(2000) },
    { id: 'last', body: Buffer.from('last'), attributes: { k: { type: 'number', value: '1' } } },
  ]);

  t.deepEqual(reply.successful.map((s) => s.id), ['first', 'last']);
  t.is(reply.failed.length, 1);
  t.like(reply.failed[0], { id: 'big', code: ErrorCode.MessageTooLarge, senderFault: true });
  const received = await client.receive('orders', { maxMessages: 10 });
  t.deepEqual(bodies(received), ['first', 'last']);
});

test('SendMessageBatch without entries fails with empty_batch', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('orders');

  await failsWith(t, client.sendMessageBatch('orders', []), ErrorCode.EmptyBatch);
});

test('SendMessageBatch with two entries of the same id fails with batch_ids_not_distinct and sends nothing', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('orders');

  await failsWith(
    t,
    client.sendMessageBatch('orders', [
      { id: 'a', body: Buffer.from('1') },
      { id: 'b', body: Buffer.from('2') },
      { id: 'a', body: Buffer.from('3') },
    ]),
    ErrorCode.BatchIdsNotDistinct,
  );

  t.like((await client.getQueueAttributes('orders')).counts, counts(0, 0, 0));
});

test('SendMessageBatch with more than 1000 entries fails with invalid_parameter and sends nothing', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('orders');
  const entries = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `e${i}`, body: Buffer.from(String(i)) }));

  await failsWith(t, client.sendMessageBatch('orders', entries(1001)), ErrorCode.InvalidParameter);
  t.like((await client.getQueueAttributes('orders')).counts, counts(0, 0, 0));

  const reply = await client.sendMessageBatch('orders', entries(1000));
  t.is(reply.successful.length, 1000);
  t.like((await client.getQueueAttributes('orders')).counts, counts(1000, 0, 0));
});

test('SendMessageBatch with an entry id of characters outside A-Z, a-z, 0-9, - and _ fails with invalid_parameter', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('orders');

  await failsWith(t, client.sendMessageBatch('orders', [{ id: 'a.b', body: Buffer.from('x') }]), ErrorCode.InvalidParameter);
});

// ---- ReceiveMessage ------------------------------------------------------------------------------

test('ReceiveMessage returns one message by default and at most maxMessages', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('orders');
  await client.sendMessageBatch('orders', Array.from({ length: 10 }, (_, i) => ({ id: `e${i}`, body: Buffer.from(`m${i}`) })));

  const one = await client.receive('orders');
  const three = await client.receive('orders', { maxMessages: 3 });
  const rest = await client.receive('orders', { maxMessages: 100 });

  t.deepEqual(bodies(one), ['m0']);
  t.deepEqual(bodies(three), ['m1', 'm2', 'm3']);
  t.deepEqual(bodies(rest), ['m4', 'm5', 'm6', 'm7', 'm8', 'm9']);
  t.deepEqual(await client.receive('orders', { maxMessages: 10 }), []);
});

test('ReceiveMessage with maxMessages outside 1 to 1000 fails with invalid_parameter', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('orders');
  await client.sendMessage('orders', 'hello');

  for (const maxMessages of [0, 1001, 2.5]) {
    await failsWith(t, client.receive('orders', { maxMessages }), ErrorCode.InvalidParameter, `maxMessages ${maxMessages}`);
  }
  t.like((await client.getQueueAttributes('orders')).counts, counts(1, 0, 0));
});

test('every message received in one reply has its own receipt handle', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('orders');
  await client.sendMessageBatch('orders', Array.from({ length: 20 }, (_, i) => ({ id: `e${i}`, body: Buffer.from(`m${i}`) })));

  const received = await client.receive('orders', { maxMessages: 20 });

  t.is(received.length, 20);
  t.is(new Set(received.map((m) => m.receiptHandle)).size, 20);
  t.is(new Set(received.map((m) => m.messageId)).size, 20);
});

// ---- DeleteMessage -------------------------------------------------------------------------------

test('DeleteMessage removes a received message: it is not received again after its visibility timeout', async (t) => {
  const clock = new OffsetClock();
  const { client } = await startWharf(t, { clock });
  await client.createQueue('orders', { visibilityTimeout: 10 });
  await client.sendMessage('orders', 'deleted');
  await client.sendMessage('orders', 'kept');
  const [deleted, kept] = await client.receive('orders', { maxMessages: 2 });

  await client.deleteMessage('orders', deleted?.receiptHandle ?? '');
  t.like((await client.getQueueAttributes('orders')).counts, counts(0, 1, 0));
  clock.advance(11_000);

  const again = await receiveSome(client, 'orders', 10, 'the kept message to come back');
  t.deepEqual(bodies(again), ['kept']);
  t.is(again[0]?.messageId, kept?.messageId);
  t.deepEqual(await client.receive('orders', { maxMessages: 10, waitTimeSeconds: 1 }), []);
});

test('DeleteMessage with a handle Wharf did not issue fails with invalid_receipt_handle', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('orders');

  for (const handle of ['bogus', 'r1.x.0.0.1', 'r1.0.0.0', 'r2.1.0.0.1', 'r1.1.0.0.1.2', 'r1.1.z.0.1']) {
    await failsWith(t, client.deleteMessage('orders', handle), ErrorCode.InvalidReceiptHandle, handle);
  }
});

test('DeleteMessageBatch deletes the valid handles and reports a bogus one as invalid_receipt_handle', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('orders');
  await client.sendMessageBatch('orders', Array.from({ length: 3 }, (_, i) => ({ id: `e${i}`, body: Buffer.from(`m${i}`) })));
  const received = await client.receive('orders', { maxMessages: 3 });
  t.is(received.length, 3);

  const outcome = await client.deleteMessageBatch('orders', [
    { id: 'one', receiptHandle: received[0]?.receiptHandle ?? '' },
    { id: 'bogus', receiptHandle: 'not-a-handle' },
    { id: 'two', receiptHandle: received[1]?.receiptHandle ?? '' },
  ]);

  t.deepEqual(outcome.successful.map((s) => s.id).sort(), ['one', 'two']);
  t.is(outcome.failed.length, 1);
  t.like(outcome.failed[0], { id: 'bogus', code: ErrorCode.InvalidReceiptHandle, senderFault: true });
  t.like((await client.getQueueAttributes('orders')).counts, counts(0, 1, 0));
});

test('DeleteMessageBatch reports a handle already used for a delete as invalid_receipt_handle', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('orders');
  await client.sendMessage('orders', 'hello');
  const [message] = await client.receive('orders');
  const handle = message?.receiptHandle ?? '';
  await client.deleteMessage('orders', handle);

  const outcome = await client.deleteMessageBatch('orders', [{ id: 'again', receiptHandle: handle }]);

  t.deepEqual(outcome.successful, []);
  t.like(outcome.failed[0], { id: 'again', code: ErrorCode.InvalidReceiptHandle });
});

test('DeleteMessageBatch without entries fails with empty_batch and with a repeated id with batch_ids_not_distinct', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('orders');
  await client.sendMessage('orders', 'hello');
  const [message] = await client.receive('orders');
  const handle = message?.receiptHandle ?? '';

  await failsWith(t, client.deleteMessageBatch('orders', []), ErrorCode.EmptyBatch);
  await failsWith(
    t,
    client.deleteMessageBatch('orders', [
      { id: 'a', receiptHandle: handle },
      { id: 'a', receiptHandle: handle },
    ]),
    ErrorCode.BatchIdsNotDistinct,
  );
  t.like((await client.getQueueAttributes('orders')).counts, counts(0, 1, 0));
});

// ---- ChangeMessageVisibility ---------------------------------------------------------------------

test('ChangeMessageVisibility extends a lease: the message is not redelivered until the extension ends', async (t) => {
  const clock = new OffsetClock();
  const { client } = await startWharf(t, { clock });
  await client.createQueue('orders', { visibilityTimeout: 30 });
  await client.sendMessage('orders', 'hello');
  const [message] = await client.receive('orders');

  await client.changeMessageVisibility('orders', message?.receiptHandle ?? '', 300);
  clock.advance(60_000);

  // Two minutes after the original lease ended the message is still leased.
  t.deepEqual(await client.receive('orders', { waitTimeSeconds: 1 }), []);
  t.like((await client.getQueueAttributes('orders')).counts, counts(0, 1, 0));
  await t.notThrowsAsync(client.deleteMessage('orders', message?.receiptHandle ?? ''), 'the handle is still current');
});

test('a message whose lease was extended is redelivered once the extension ends', async (t) => {
  const clock = new OffsetClock();
  const { client } = await startWharf(t, { clock });
  await client.createQueue('orders', { visibilityTimeout: 30 });
  await client.sendMessage('orders', 'hello');
  const [message] = await client.receive('orders');
  await client.changeMessageVisibility('orders', message?.receiptHandle ?? '', 300);

  clock.advance(301_000);

  const [again] = await receiveSome(client, 'orders', 1, 'the redelivery');
  t.is(again?.messageId, message?.messageId);
  t.is(again?.receiveCount, 2);
});

test('ChangeMessageVisibility to 0 makes the message visible again at once', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('orders', { visibilityTimeout: 600 });
  await client.sendMessage('orders', 'hello');
  const [message] = await client.receive('orders');

  await client.changeMessageVisibility('orders', message?.receiptHandle ?? '', 0);

  const [again] = await receiveSome(client, 'orders', 1, 'the message released by visibility 0');
  t.is(again?.messageId, message?.messageId);
  t.is(again?.receiveCount, 2);
  t.not(again?.receiptHandle, message?.receiptHandle);
});

test('ChangeMessageVisibility on a message whose lease has ended fails with message_not_in_flight', async (t) => {
  const clock = new OffsetClock();
  const { client } = await startWharf(t, { clock });
  await client.createQueue('orders', { visibilityTimeout: 30 });
  await client.sendMessage('orders', 'hello');
  const [message] = await client.receive('orders');

  clock.advance(31_000);
  await eventually(async () => (await client.getQueueAttributes('orders')).counts.approximateNumberOfMessages === 1, {
    message: 'the lease to expire',
  });

  await failsWith(t, client.changeMessageVisibility('orders', message?.receiptHandle ?? '', 60), ErrorCode.MessageNotInFlight);
});

test('ChangeMessageVisibility with a timeout over 43200 seconds fails with invalid_parameter', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('orders');
  await client.sendMessage('orders', 'hello');
  const [message] = await client.receive('orders');

  await failsWith(t, client.changeMessageVisibility('orders', message?.receiptHandle ?? '', 43_201), ErrorCode.InvalidParameter);
  await failsWith(t, client.changeMessageVisibility('orders', message?.receiptHandle ?? '', -1), ErrorCode.InvalidParameter);
});

test('ChangeMessageVisibilityBatch changes each entry and reports a bogus handle as failed', async (t) => {
  const clock = new OffsetClock();
  const { client } = await startWharf(t, { clock });
  await client.createQueue('orders', { visibilityTimeout: 30 });
  await client.sendMessage('orders', 'released');
  await client.sendMessage('orders', 'extended');
  const [released, extended] = await client.receive('orders', { maxMessages: 2 });

  const outcome = await client.changeMessageVisibilityBatch('orders', [
    { id: 'released', receiptHandle: released?.receiptHandle ?? '', visibilityTimeout: 0 },
    { id: 'bogus', receiptHandle: 'r1.0.0.0.0', visibilityTimeout: 0 },
    { id: 'extended', receiptHandle: extended?.receiptHandle ?? '', visibilityTimeout: 600 },
  ]);

  t.deepEqual(outcome.successful.map((s) => s.id).sort(), ['extended', 'released']);
  t.is(outcome.failed.length, 1);
  t.like(outcome.failed[0], { id: 'bogus', code: ErrorCode.InvalidReceiptHandle, senderFault: true });
  const [again] = await receiveSome(client, 'orders', 10, 'the released message');
  t.is(again?.messageId, released?.messageId);
  await client.deleteMessage('orders', again?.receiptHandle ?? '');
  clock.advance(60_000);
  t.deepEqual(await client.receive('orders', { maxMessages: 10, waitTimeSeconds: 1 }), [], 'the extended one stays leased');
});

// ---- delays --------------------------------------------------------------------------------------

test('a queue delay keeps new messages delayed and invisible until they are due', async (t) => {
  const clock = new OffsetClock();
  const { client } = await startWharf(t, { clock });
  await client.createQueue('orders', { delaySeconds: 60 });

  await client.sendMessage('orders', 'delayed');

  t.like((await client.getQueueAttributes('orders')).counts, counts(0, 0, 1));
  t.deepEqual(await client.receive('orders', { waitTimeSeconds: 1 }), []);
  clock.advance(61_000);
  const [message] = await receiveSome(client, 'orders', 1, 'the delayed message');
  t.is(text(message?.body ?? new Uint8Array()), 'delayed');
  t.like((await client.getQueueAttributes('orders')).counts, counts(0, 1, 0));
});

test('a per-message delay keeps that message delayed on a queue without delay', async (t) => {
  const clock = new OffsetClock();
  const { client } = await startWharf(t, { clock });
  await client.createQueue('orders', { visibilityTimeout: 3600 });

  await client.sendMessage('orders', 'later', { delaySeconds: 120 });
  await client.sendMessage('orders', 'now');

  t.like((await client.getQueueAttributes('orders')).counts, counts(1, 0, 1));
  t.deepEqual(bodies(await client.receive('orders', { maxMessages: 10 })), ['now']);
  t.deepEqual(await client.receive('orders', { maxMessages: 10, waitTimeSeconds: 1 }), []);
  clock.advance(121_000);
  t.deepEqual(bodies(await receiveSome(client, 'orders', 10, 'the delayed message')), ['later']);
});

test('a per-message delay of 0 overrides the queue delay', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('orders', { delaySeconds: 900 });

  await client.sendMessage('orders', 'now', { delaySeconds: 0 });
  await client.sendMessage('orders', 'later');

  t.like((await client.getQueueAttributes('orders')).counts, counts(1, 0, 1));
  t.deepEqual(bodies(await client.receive('orders', { maxMessages: 10 })), ['now']);
});

test('per-entry delays of a batch are applied entry by entry', async (t) => {
  const clock = new OffsetClock();
  const { client } = await startWharf(t, { clock });
  await client.createQueue('orders', { visibilityTimeout: 3600 });

  await client.sendMessageBatch('orders', [
    { id: 'a', body: Buffer.from('in 10 s'), delaySeconds: 10 },
    { id: 'b', body: Buffer.from('now') },
    { id: 'c', body: Buffer.from('in 100 s'), delaySeconds: 100 },
  ]);

  t.like((await client.getQueueAttributes('orders')).counts, counts(1, 0, 2));
  t.deepEqual(bodies(await client.receive('orders', { maxMessages: 10 })), ['now']);
  clock.advance(11_000);
  t.deepEqual(bodies(await receiveSome(client, 'orders', 10, 'the first delayed message')), ['in 10 s']);
  t.like((await client.getQueueAttributes('orders')).counts, counts(0, 2, 1));
  clock.advance(90_000);
  t.deepEqual(bodies(await receiveSome(client, 'orders', 10, 'the second delayed message')), ['in 100 s']);
});

test('SendMessage with a delay over 604,800 seconds (7 days) fails with invalid_parameter', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('orders');

  await failsWith(t, client.sendMessage('orders', 'x', { delaySeconds: 604_801 }), ErrorCode.InvalidParameter);

  t.like((await client.getQueueAttributes('orders')).counts, counts(0, 0, 0));
});
