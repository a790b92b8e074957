/**
 * Queue management through the SDK against a real node (real nats-server, real RocksDB):
 * CreateQueue, ListQueues, GetQueueAttributes, SetQueueAttributes, DeleteQueue, PurgeQueue, and a
 * queue with several partitions.
 */
import test from 'ava';
import type { WharfClient } from '../../src/client/client.ts';
import { ErrorCode } from '../../src/errors.ts';
import type { QueueAttributes, ReceivedMessage } from '../../src/protocol/messages.ts';
import { decodeReceipt } from '../../src/protocol/receipt.ts';
import { OffsetClock } from '../helpers/clock.ts';
import { eventually } from '../helpers/eventually.ts';
import { startWharf } from '../helpers/wharf.ts';
import { bodies, text, failsWith, counts } from '../helpers/queue-assertions.ts';




/** Receives (short polls) until `n` messages arrived in total; fails after a bound. */
async function receiveAll(client: WharfClient, queue: string, n: number): Promise<ReceivedMessage[]> {
  const got: ReceivedMessage[] = [];
  await eventually(
    async () => {
      got.push(...(await client.receive(queue, { maxMessages: 10 })));
      return got.length >= n;
    },
    { timeoutMs: 20_000, intervalMs: 5, message: `${n} messages from ${queue}` },
  );
  return got;
}

// ---- CreateQueue ---------------------------------------------------------------------------------

test('CreateQueue creates a new queue and answers created true', async (t) => {
  const { client } = await startWharf(t);

  const reply = await client.createQueue('orders');

  t.deepEqual(reply, { queue: 'orders', created: true });
  t.deepEqual((await client.listQueues()).queues, ['orders']);
});

test('CreateQueue of an existing queue with the same attributes answers created false', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('orders', { visibilityTimeout: 45, partitions: 2 });

  const again = await client.createQueue('orders', { visibilityTimeout: 45, partitions: 2 });

  t.deepEqual(again, { queue: 'orders', created: false });
  t.is((await client.getQueueAttributes('orders')).attributes.visibilityTimeout, 45);
});

test('CreateQueue with attributes equal to the defaults is the same as CreateQueue without attributes', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('orders');

  const again = await client.createQueue('orders', { visibilityTimeout: 30, partitions: 1, delaySeconds: 0 });

  t.false(again.created);
});

test('CreateQueue of an existing queue with different attributes fails with queue_already_exists', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('orders', { visibilityTimeout: 45 });

  await failsWith(t, client.createQueue('orders', { visibilityTimeout: 46 }), ErrorCode.QueueAlreadyExists);
  await failsWith(t, client.createQueue('orders'), ErrorCode.QueueAlreadyExists);

  t.is((await client.getQueueAttributes('orders')).attributes.visibilityTimeout, 45);
});

test('CreateQueue rejects names that break the naming rule with invalid_name', async (t) => {
  const { client } = await startWharf(t);
  const invalid = ['a.b', 'a*', '>', 'a>', 'has space', ' ', 'tab\there', '', 'x'.repeat(81), 'a/b', 'ü', 'a:b', 'fifo.fifo'];

  for (const name of invalid) {
    await failsWith(t, client.createQueue(name), ErrorCode.InvalidName, `name ${JSON.stringify(name)}`);
  }

  t.deepEqual((await client.listQueues()).queues, []);
});

test('CreateQueue accepts a name of 80 letters, digits, hyphens and underscores', async (t) => {
  const { client } = await startWharf(t);
  const name = `${'Az09_-'.repeat(13)}xy`;
  t.is(name.length, 80);

  const reply = await client.createQueue(name);

  t.true(reply.created);
  await client.sendMessage(name, 'hello');
  const [message] = await eventually(() => client.receive(name).then((m) => m.length > 0 && m));
  t.is(text(message?.body ?? new Uint8Array()), 'hello');
});

test('CreateQueue rejects attribute values out of range or not integers with invalid_attribute', async (t) => {
  const { client } = await startWharf(t);
  const invalid: Array<Partial<QueueAttributes>> = [
    { visibilityTimeout: -1 },
    { visibilityTimeout: 43_201 },
    { visibilityTimeout: 1.5 },
    { retentionPeriod: 59 },
    { retentionPeriod: 1_209_601 },
    { maximumMessageSize: 1_023 },
    { maximumMessageSize: 1_048_577 },
    { delaySeconds: 604_801 },
    { orderingWindowMs: 0 },
    { ordering: 'lifo' as 'arrival' },
    { receiveWaitTime: 21 },
    { partitions: 0 },
    { partitions: 65 },
  ];

  for (const attributes of invalid) {
    await failsWith(t, client.createQueue('q', attributes), ErrorCode.InvalidAttribute, JSON.stringify(attributes));
  }

  t.deepEqual((await client.listQueues()).queues, []);
});

test('CreateQueue accepts attribute values at both ends of their ranges', async (t) => {
  const { client } = await startWharf(t);
  const low: QueueAttributes = {
    visibilityTimeout: 0,
    retentionPeriod: 60,
    maximumMessageSize: 1_024,
    delaySeconds: 0,
    receiveWaitTime: 0,
    partitions: 1,
    replicationFactor: 1,
    replication: 'async',
    ordering: 'arrival',
    orderingWindowMs: 1,
    deduplicationWindow: 300,
    deduplicationScope: 'queue',
    contentBasedDeduplication: false,
    fifo: false,
    retentionBytes: 0,
    maxRequestsPerSecond: 0,
    maxBytesPerSecond: 0,
    maxStoredBytes: 0,
    mode: 'queue',
  };
  const high: QueueAttributes = {
    visibilityTimeout: 43_200,
    retentionPeriod: 1_209_600,
    maximumMessageSize: 1_048_576,
    delaySeconds: 604_800,
    receiveWaitTime: 20,
    partitions: 64,
    replicationFactor: 5,
    replication: 'sync',
    ordering: 'timeWindow',
    orderingWindowMs: 300_000,
    deduplicationWindow: 300,
    deduplicationScope: 'queue',
    contentBasedDeduplication: false,
    fifo: false,
    retentionBytes: 0,
    maxRequestsPerSecond: 1_000_000,
    maxBytesPerSecond: 2 ** 40,
    maxStoredBytes: 2 ** 50,
    mode: 'queue',
  };

  t.true((await client.createQueue('low', low)).created);
  t.true((await client.createQueue('high', high)).created);

  t.deepEqual((await client.getQueueAttributes('low')).attributes, low);
  t.deepEqual((await client.getQueueAttributes('high')).attributes, high);
});

test('CreateQueue rejects an unknown attribute with invalid_attribute', async (t) => {
  const { client } = await startWharf(t);
  const unknown = { visibilityTimeout: 30, fifoQueue: 1 } as unknown as Partial<QueueAttributes>;

  await failsWith(t, client.createQueue('q', unknown), ErrorCode.InvalidAttribute);

  t.deepEqual((await client.listQueues()).queues, []);
});

test('CreateQueue rejects an attribute value that is not an integer number with invalid_attribute', async (t) => {
  const { client } = await startWharf(t);
  const wrongTypes = [{ visibilityTimeout: '30' }, { delaySeconds: true }, { partitions: null }, { retentionPeriod: [60] }, { visibilityTimeout: Number.NaN }];

  for (const attributes of wrongTypes) {
    await failsWith(t, client.createQueue('q', attributes as unknown as Partial<QueueAttributes>), ErrorCode.InvalidAttribute, String(Object.values(attributes)[0]));
  }

  t.deepEqual((await client.listQueues()).queues, []);
});

// ---- ListQueues ----------------------------------------------------------------------------------

test('ListQueues with a prefix returns only the queues whose names start with it, sorted', async (t) => {
  const { client } = await startWharf(t);
  for (const name of ['orders-eu', 'billing', 'orders-us', 'orders', 'Orders-x', 'ordersX']) await client.createQueue(name);

  t.deepEqual((await client.listQueues({ prefix: 'orders-' })).queues, ['orders-eu', 'orders-us']);
  t.deepEqual((await client.listQueues({ prefix: 'orders' })).queues, ['orders', 'orders-eu', 'orders-us', 'ordersX']);
  t.deepEqual((await client.listQueues({ prefix: 'none' })).queues, []);
  t.deepEqual((await client.listQueues()).queues, ['Orders-x', 'billing', 'orders', 'orders-eu', 'orders-us', 'ordersX']);
});

test('ListQueues pages through every queue with limit and nextToken', async (t) => {
  const { client } = await startWharf(t);
  const names = Array.from({ length: 8 }, (_, i) => `q${i}`);
  for (const name of [...names].reverse()) await client.createQueue(name);
  await client.createQueue('other');

  const pages: string[][] = [];
  let nextToken: string | undefined;
  do {
    const page = await client.listQueues(nextToken === undefined ? { prefix: 'q', limit: 3 } : { prefix: 'q', limit: 3, nextToken });
    pages.push(page.queues);
    nextToken = page.nextToken;
  } while (nextToken !== undefined && pages.length < 10);

  t.deepEqual(pages, [
    ['q0', 'q1', 'q2'],
    ['q3', 'q4', 'q5'],
    ['q6', 'q7'],
  ]);
});

test('ListQueues answers no nextToken when the last page is exactly full', async (t) => {
  const { client } = await startWharf(t);
  for (const name of ['a', 'b', 'c', 'd']) await client.createQueue(name);

  const first = await client.listQueues({ limit: 2 });
  const second = await client.listQueues({ limit: 2, nextToken: first.nextToken ?? '' });

  t.deepEqual(first.queues, ['a', 'b']);
  t.deepEqual(second, { queues: ['c', 'd'] });
});

// ---- GetQueueAttributes --------------------------------------------------------------------------

test('GetQueueAttributes of a new queue returns the default attributes and zero counts', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('orders');

  const description = await client.getQueueAttributes('orders');

  t.is(description.queue, 'orders');
  t.deepEqual(description.attributes, {
    visibilityTimeout: 30,
    retentionPeriod: 345_600,
    maximumMessageSize: 262_144,
    delaySeconds: 0,
    receiveWaitTime: 0,
    partitions: 1,
    replicationFactor: 3,
    replication: 'sync',
    ordering: 'arrival',
    orderingWindowMs: 1000,
    deduplicationWindow: 300,
    deduplicationScope: 'queue',
    contentBasedDeduplication: false,
    fifo: false,
    retentionBytes: 0,
    maxRequestsPerSecond: 0,
    maxBytesPerSecond: 0,
    maxStoredBytes: 0,
    mode: 'queue',
  });
  t.like(description.counts, counts(0, 0, 0));
});

test('GetQueueAttributes counts visible, not visible and delayed messages', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('orders');
  for (let i = 0; i < 5; i++) await client.sendMessage('orders', `m${i}`);
  await client.sendMessage('orders', 'later', { delaySeconds: 600 });
  await client.sendMessage('orders', 'later too', { delaySeconds: 900 });

  const received = await client.receive('orders', { maxMessages: 2 });
  t.is(received.length, 2);

  t.like((await client.getQueueAttributes('orders')).counts, counts(3, 2, 2));
  await client.deleteMessage('orders', received[0]?.receiptHandle ?? '');
  t.like((await client.getQueueAttributes('orders')).counts, counts(3, 1, 2));
});

test('GetQueueAttributes reports createdAt and modifiedAt from the node clock', async (t) => {
  const clock = new OffsetClock(7 * 24 * 3600_000);
  const { client } = await startWharf(t, { clock });

  const before = clock.now();
  await client.createQueue('orders');
  const after = clock.now();
  const description = await client.getQueueAttributes('orders');

  t.true(description.createdAt >= before && description.createdAt <= after, `createdAt ${description.createdAt}`);
  t.is(description.modifiedAt, description.createdAt);
});

test('GetQueueAttributes of a queue that does not exist fails with queue_not_found', async (t) => {
  const { client } = await startWharf(t);

  await failsWith(t, client.getQueueAttributes('nope'), ErrorCode.QueueNotFound);
});

// ---- SetQueueAttributes --------------------------------------------------------------------------

test('SetQueueAttributes returns and stores the changed attributes, keeping the others', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('orders', { delaySeconds: 5, partitions: 2 });

  const attributes = await client.setQueueAttributes('orders', { visibilityTimeout: 90, receiveWaitTime: 3 });

  const expected: QueueAttributes = {
    visibilityTimeout: 90,
    retentionPeriod: 345_600,
    maximumMessageSize: 262_144,
    delaySeconds: 5,
    receiveWaitTime: 3,
    partitions: 2,
    replicationFactor: 3,
    replication: 'sync',
    ordering: 'arrival',
    orderingWindowMs: 1000,
    deduplicationWindow: 300,
    deduplicationScope: 'queue',
    contentBasedDeduplication: false,
    fifo: false,
    retentionBytes: 0,
    maxRequestsPerSecond: 0,
    maxBytesPerSecond: 0,
    maxStoredBytes: 0,
    mode: 'queue',
  };
  t.deepEqual(attributes, expected);
  t.deepEqual((await client.getQueueAttributes('orders')).attributes, expected);
});

test('SetQueueAttributes changes the visibility timeout of later receives', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('orders');
  await client.setQueueAttributes('orders', { visibilityTimeout: 0 });
  await client.sendMessage('orders', 'hello');

  const [first] = await client.receive('orders');
  // With the default of 30 s the message would stay invisible; with 0 it is visible again at once.
  const [again] = await eventually(async () => {
    const got = await client.receive('orders');
    return got.length > 0 && got;
  }, { timeoutMs: 5_000, message: 'the message to be visible again' });

  t.is(again?.messageId, first?.messageId);
  t.is(again?.receiveCount, 2);
});

test('SetQueueAttributes changes the delay of later sends', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('orders');
  await client.sendMessage('orders', 'before');

  await client.setQueueAttributes('orders', { delaySeconds: 600 });
  await client.sendMessage('orders', 'after');

  t.like((await client.getQueueAttributes('orders')).counts, counts(1, 0, 1));
});

test('SetQueueAttributes rejects partitions, which are fixed at creation, with invalid_attribute', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('orders', { partitions: 2 });
  const partitions = { partitions: 4 } as unknown as Partial<Omit<QueueAttributes, 'partitions'>>;

  await failsWith(t, client.setQueueAttributes('orders', partitions), ErrorCode.InvalidAttribute);

  t.is((await client.getQueueAttributes('orders')).attributes.partitions, 2);
});

test('SetQueueAttributes rejects an out-of-range value with invalid_attribute and changes nothing', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('orders');

  await failsWith(t, client.setQueueAttributes('orders', { visibilityTimeout: 60, delaySeconds: 604_801 }), ErrorCode.InvalidAttribute);

  t.is((await client.getQueueAttributes('orders')).attributes.visibilityTimeout, 30);
});

test('SetQueueAttributes moves modifiedAt and keeps createdAt', async (t) => {
  const clock = new OffsetClock();
  const { client } = await startWharf(t, { clock });
  await client.createQueue('orders');
  const created = await client.getQueueAttributes('orders');

  clock.advance(60_000);
  await client.setQueueAttributes('orders', { visibilityTimeout: 10 });
  const modified = await client.getQueueAttributes('orders');

  t.is(modified.createdAt, created.createdAt);
  t.true(modified.modifiedAt >= created.modifiedAt + 60_000, `modifiedAt ${modified.modifiedAt} vs ${created.modifiedAt}`);
});

test('SetQueueAttributes survives a restart', async (t) => {
  const fixture = await startWharf(t);
  await fixture.client.createQueue('orders');
  await fixture.client.setQueueAttributes('orders', { visibilityTimeout: 77, retentionPeriod: 600 });

  await fixture.restart();

  const { attributes } = await eventually(() => fixture.client.getQueueAttributes('orders'), { message: 'the queue after restart' });
  t.is(attributes.visibilityTimeout, 77);
  t.is(attributes.retentionPeriod, 600);
});

// ---- DeleteQueue ---------------------------------------------------------------------------------

test('DeleteQueue removes the queue from ListQueues', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('orders');
  await client.createQueue('billing');

  await client.deleteQueue('orders');

  t.deepEqual((await client.listQueues()).queues, ['billing']);
});

test('every operation on a deleted queue fails with queue_not_found', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('orders');
  await client.sendMessage('orders', 'hello');
  const [message] = await client.receive('orders');
  const handle = message?.receiptHandle ?? '';
  t.not(handle, '');

  await client.deleteQueue('orders');

  const operations: Array<[string, () => Promise<unknown>]> = [
    ['GetQueueAttributes', () => client.getQueueAttributes('orders')],
    ['SetQueueAttributes', () => client.setQueueAttributes('orders', { visibilityTimeout: 5 })],
    ['SendMessage', () => client.sendMessage('orders', 'x')],
    ['SendMessageBatch', () => client.sendMessageBatch('orders', [{ id: 'a', body: new Uint8Array([1]) }])],
    ['ReceiveMessage', () => client.receive('orders')],
    ['DeleteMessage', () => client.deleteMessage('orders', handle)],
    ['DeleteMessageBatch', () => client.deleteMessageBatch('orders', [{ id: 'a', receiptHandle: handle }])],
    ['ChangeMessageVisibility', () => client.changeMessageVisibility('orders', handle, 5)],
    ['ChangeMessageVisibilityBatch', () => client.changeMessageVisibilityBatch('orders', [{ id: 'a', receiptHandle: handle, visibilityTimeout: 5 }])],
    ['PurgeQueue', () => client.purgeQueue('orders')],
    ['DeleteQueue', () => client.deleteQueue('orders')],
  ];
  for (const [action, run] of operations) {
    await failsWith(t, run(), ErrorCode.QueueNotFound, action);
  }
});

test('a queue re-created with the same name after DeleteQueue is empty', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('orders');
  await client.sendMessage('orders', 'old visible');
  await client.sendMessage('orders', 'old in flight');
  await client.sendMessage('orders', 'old delayed', { delaySeconds: 1 });
  await client.receive('orders');

  await client.deleteQueue('orders');
  await eventually(() => client.createQueue('orders').then((r) => r.created), { message: 'the queue to be re-created' });

  t.like((await client.getQueueAttributes('orders')).counts, counts(0, 0, 0));
  await client.sendMessage('orders', 'new');
  const received = await client.receive('orders', { maxMessages: 10, waitTimeSeconds: 2 });
  t.deepEqual(received.map((m) => text(m.body)), ['new']);
});

test('a receipt handle from a deleted queue is rejected by a re-created queue of the same name', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('orders');
  await client.sendMessage('orders', 'old');
  const [old] = await client.receive('orders');
  const oldHandle = old?.receiptHandle ?? '';
  t.not(oldHandle, '');

  await client.deleteQueue('orders');
  await eventually(() => client.createQueue('orders').then((r) => r.created), { message: 'the queue to be re-created' });
  // The new queue's first delivery sits at the same place (partition, offset, sequence) as the old one.
  await client.sendMessage('orders', 'new');
  const [fresh] = await client.receive('orders');
  t.is(text(fresh?.body ?? new Uint8Array()), 'new');

  await failsWith(t, client.deleteMessage('orders', oldHandle), ErrorCode.InvalidReceiptHandle, 'DeleteMessage');
  await failsWith(t, client.changeMessageVisibility('orders', oldHandle, 0), ErrorCode.InvalidReceiptHandle, 'ChangeMessageVisibility');
  t.like((await client.getQueueAttributes('orders')).counts, counts(0, 1, 0));
});

test('a deleted queue stays deleted after a restart', async (t) => {
  const fixture = await startWharf(t);
  await fixture.client.createQueue('orders');
  await fixture.client.createQueue('billing');
  await fixture.client.sendMessage('orders', 'hello');
  await fixture.client.deleteQueue('orders');

  await fixture.restart();

  const { queues } = await eventually(() => fixture.client.listQueues(), { message: 'ListQueues after restart' });
  t.deepEqual(queues, ['billing']);
  await failsWith(t, fixture.client.receive('orders'), ErrorCode.QueueNotFound);
});

// ---- PurgeQueue ----------------------------------------------------------------------------------

test('PurgeQueue removes visible, in-flight and delayed messages and answers how many', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('orders');
  for (let i = 0; i < 3; i++) await client.sendMessage('orders', `m${i}`);
  await client.sendMessage('orders', 'delayed', { delaySeconds: 600 });
  await client.receive('orders');
  t.like((await client.getQueueAttributes('orders')).counts, counts(2, 1, 1));

  const { purged } = await client.purgeQueue('orders');

  t.is(purged, 4);
  t.like((await client.getQueueAttributes('orders')).counts, counts(0, 0, 0));
});

test('purged messages are never received again, even after their visibility timeout and delay', async (t) => {
  const clock = new OffsetClock();
  const { client } = await startWharf(t, { clock });
  await client.createQueue('orders', { visibilityTimeout: 10 });
  for (let i = 0; i < 3; i++) await client.sendMessage('orders', `old${i}`);
  await client.sendMessage('orders', 'old delayed', { delaySeconds: 5 });
  const [inFlight] = await client.receive('orders');
  t.truthy(inFlight);

  await client.purgeQueue('orders');
  clock.advance(60_000);
  await client.sendMessage('orders', 'new');

  const received = await client.receive('orders', { maxMessages: 10, waitTimeSeconds: 1 });
  t.deepEqual(received.map((m) => text(m.body)), ['new']);
  t.deepEqual(await client.receive('orders', { maxMessages: 10, waitTimeSeconds: 1 }), []);
  await failsWith(t, client.deleteMessage('orders', inFlight?.receiptHandle ?? ''), ErrorCode.InvalidReceiptHandle);
});

test('purged messages do not come back after a restart', async (t) => {
  const clock = new OffsetClock();
  const fixture = await startWharf(t, { clock });
  const { client } = fixture;
  await client.createQueue('orders', { visibilityTimeout: 10 });
  for (let i = 0; i < 3; i++) await client.sendMessage('orders', `old${i}`);
  await client.sendMessage('orders', 'old delayed', { delaySeconds: 5 });
  await client.receive('orders');
  await client.purgeQueue('orders');
  await client.sendMessage('orders', 'kept');

  await fixture.restart();
  clock.advance(60_000);

  const received = await eventually(() => client.receive('orders', { maxMessages: 10, waitTimeSeconds: 1 }).then((m) => m.length > 0 && m), {
    message: 'the message sent after the purge',
  });
  t.deepEqual(received.map((m) => text(m.body)), ['kept']);
  t.deepEqual(await client.receive('orders', { maxMessages: 10, waitTimeSeconds: 1 }), []);
  t.like((await client.getQueueAttributes('orders')).counts, counts(0, 1, 0));
});

// ---- partitions ----------------------------------------------------------------------------------

test('a queue with 4 partitions delivers every message sent exactly once', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('orders', { partitions: 4 });
  const sent = new Set<string>();
  for (let b = 0; b < 8; b++) {
    const entries = Array.from({ length: 25 }, (_, i) => ({ id: `e${i}`, body: Buffer.from(`b${b}-${i}`) }));
    const reply = await client.sendMessageBatch('orders', entries);
    t.deepEqual(reply.failed, []);
    for (const s of reply.successful) sent.add(s.messageId);
  }
  for (let i = 0; i < 20; i++) sent.add((await client.sendMessage('orders', `single-${i}`)).messageId);
  t.is(sent.size, 220);
  t.is((await client.getQueueAttributes('orders')).counts.approximateNumberOfMessages, 220);

  const received = await receiveAll(client, 'orders', 220);
  const ids = received.map((m) => m.messageId);

  t.is(ids.length, 220, 'no message twice');
  t.deepEqual([...ids].sort(), [...sent].sort());
  t.deepEqual([...new Set(received.map((m) => decodeReceipt(m.receiptHandle).partition))].sort(), [0, 1, 2, 3]);
  t.true(received.every((m) => m.receiveCount === 1));
  const outcome = await client.deleteMessageBatch('orders', received.slice(0, 1000).map((m, i) => ({ id: `d${i}`, receiptHandle: m.receiptHandle })));
  t.deepEqual(outcome.failed, []);
  t.deepEqual(await client.receive('orders', { maxMessages: 10, waitTimeSeconds: 1 }), []);
  t.like((await client.getQueueAttributes('orders')).counts, counts(0, 0, 0));
});

test('a queue deleted and re-created at once keeps what is sent to the new one while the old data is dropped', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('orders');
  await client.sendMessageBatch('orders', Array.from({ length: 100 }, (_, i) => ({ id: `m${i}`, body: Buffer.from(`old${i}`) })));
  await client.deleteQueue('orders');
  await client.createQueue('orders');
  for (const body of ['a', 'b', 'c']) await client.sendMessage('orders', body);
  const received = await client.receive('orders', { maxMessages: 10 });
  t.deepEqual(bodies(received).sort(), ['a', 'b', 'c']);
  t.like((await client.getQueueAttributes('orders')).counts, counts(0, 3, 0));
});
