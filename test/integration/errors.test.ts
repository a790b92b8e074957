/**
 * The wire protocol's error replies, through raw NATS requests (no SDK in between) against a real
 * node: malformed frames, wrong versions, unknown actions, unknown fields, wrong types and missing
 * queues each get their error code, and the node keeps serving afterwards.
 */
import test, { type ExecutionContext } from 'ava';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { ErrorCode } from '../../src/errors.ts';
import { decode, encode } from '../../src/protocol/codec.ts';
import { clusterName } from '../../src/names.ts';
import { subjects } from '../../src/protocol/subjects.ts';
import { startWharf, type WharfFixture } from '../helpers/wharf.ts';

interface Raw {
  nc: NatsConnection;
  /** Sends raw bytes to `wharf.<cluster>.api.anonymous.<action>` and decodes the reply frame. */
  request(action: string, payload: Uint8Array): Promise<Record<string, unknown>>;
  /** Sends the frame `{ v: 1, ...fields }`. */
  call(action: string, fields: Record<string, unknown>): Promise<Record<string, unknown>>;
}

async function raw(t: ExecutionContext, fixture: WharfFixture): Promise<Raw> {
  const nc = await connect({ servers: fixture.nats.url });
  t.teardown(() => nc.close());
  const request = async (action: string, payload: Uint8Array) => {
    const reply = await nc.request(`wharf.${fixture.cluster}.api.anonymous.${action}`, payload, { timeout: 5_000 });
    const value = decode(reply.data);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('reply is not a map');
    return value as Record<string, unknown>;
  };
  return { nc, request, call: (action, fields) => request(action, encode({ v: 1, ...fields })) };
}

/** Asserts an error envelope with `code` and a message. */
function isError(t: ExecutionContext, reply: Record<string, unknown>, code: ErrorCode, what: string): void {
  const error = reply['error'] as Record<string, unknown> | undefined;
  t.is(reply['v'], 1, `${what}: v`);
  t.is(reply['ok'], false, `${what}: ok`);
  t.is(error?.['code'], code, `${what}: code (message: ${String(error?.['message'])})`);
  t.is(typeof error?.['message'], 'string', `${what}: message`);
}

/** Checks that the node still does real work through the SDK. */
async function servesNormally(t: ExecutionContext, fixture: WharfFixture): Promise<void> {
  const { client } = fixture;
  await client.createQueue('after');
  await client.sendMessage('after', 'still here');
  const [message] = await client.receive('after');
  t.is(Buffer.from(message?.body ?? new Uint8Array()).toString(), 'still here');
  await client.deleteMessage('after', message?.receiptHandle ?? '');
  t.deepEqual((await client.getQueueAttributes('after')).counts, {
    approximateNumberOfMessages: 0,
    approximateNumberOfMessagesNotVisible: 0,
    approximateNumberOfMessagesDelayed: 0,
    approximateNumberOfMessagesDeadLettered: 0,
    approximateStoredBytes: 0,
    approximateAgeOfOldestMessage: 0,
  });
}

test('a well-formed raw request is answered with an ok envelope', async (t) => {
  const fixture = await startWharf(t);
  const api = await raw(t, fixture);

  const reply = await api.call('CreateQueue', { queue: 'orders' });

  t.deepEqual(reply, { v: 1, ok: true, body: { queue: 'orders', created: true } });
});

test('garbage bytes are answered with invalid_request', async (t) => {
  const fixture = await startWharf(t);
  const api = await raw(t, fixture);
  const garbage: Array<[string, Uint8Array]> = [
    ['an empty frame', new Uint8Array(0)],
    ['the never-used byte 0xc1', Uint8Array.from([0xc1])],
    ['a truncated map', Uint8Array.from([0x82, 0xa1, 0x76])],
    ['a truncated string', Uint8Array.from([0xdb, 0xff, 0xff, 0xff, 0xff, 0x61])],
    ['JSON text', Buffer.from('{"v":1,"queue":"orders"}')],
    ['a number', encode(1)],
    ['an array', encode([1, 'orders'])],
    ['nil', encode(null)],
    ['a string', encode('CreateQueue')],
  ];

  for (const [what, payload] of garbage) {
    isError(t, await api.request('CreateQueue', payload), ErrorCode.InvalidRequest, what);
  }
  t.deepEqual((await fixture.client.listQueues()).queues, []);
});

test('a request with another protocol version is answered with unsupported_version', async (t) => {
  const fixture = await startWharf(t);
  const api = await raw(t, fixture);

  isError(t, await api.request('CreateQueue', encode({ v: 2, queue: 'orders' })), ErrorCode.UnsupportedVersion, 'v 2');
  isError(t, await api.request('CreateQueue', encode({ v: 0, queue: 'orders' })), ErrorCode.UnsupportedVersion, 'v 0');
  isError(t, await api.request('CreateQueue', encode({ v: '1', queue: 'orders' })), ErrorCode.UnsupportedVersion, "v '1'");
  isError(t, await api.request('CreateQueue', encode({ queue: 'orders' })), ErrorCode.UnsupportedVersion, 'no v');

  t.deepEqual((await fixture.client.listQueues()).queues, []);
});

test('a request on the subject of an unknown action is answered with unknown_action', async (t) => {
  const fixture = await startWharf(t);
  const api = await raw(t, fixture);

  for (const action of ['Nope', 'createQueue', 'CREATEQUEUE', 'toString', 'constructor', 'hasOwnProperty', '__proto__', 'SendMessages']) {
    isError(t, await api.call(action, { queue: 'orders' }), ErrorCode.UnknownAction, action);
  }
});

test('a request with an unknown field is answered with invalid_parameter', async (t) => {
  const fixture = await startWharf(t);
  const api = await raw(t, fixture);
  await fixture.client.createQueue('orders');

  isError(t, await api.call('CreateQueue', { queue: 'other', fifo: true }), ErrorCode.InvalidParameter, 'CreateQueue fifo');
  isError(t, await api.call('ReceiveMessage', { queue: 'orders', maxMessage: 5 }), ErrorCode.InvalidParameter, 'ReceiveMessage maxMessage');
  isError(
    t,
    await api.call('SendMessageBatch', { queue: 'orders', entries: [{ id: 'a', body: new Uint8Array([1]), priority: 1 }] }),
    ErrorCode.InvalidParameter,
    'a batch entry with priority',
  );
  isError(
    t,
    await api.call('SendMessage', { queue: 'orders', body: new Uint8Array([1]), attributes: { k: { type: 'string', value: 'x', extra: 1 } } }),
    ErrorCode.InvalidParameter,
    'a message attribute with an extra field',
  );

  t.deepEqual((await fixture.client.listQueues()).queues, ['orders']);
  t.is((await fixture.client.getQueueAttributes('orders')).counts.approximateNumberOfMessages, 0);
});

test('a request with fields of the wrong type or missing is answered with invalid_parameter', async (t) => {
  const fixture = await startWharf(t);
  const api = await raw(t, fixture);
  await fixture.client.createQueue('orders');
  const cases: Array<[string, string, Record<string, unknown>]> = [
    ['a numeric queue name', 'CreateQueue', { queue: 42 }],
    ['a missing queue', 'GetQueueAttributes', {}],
    ['a string body', 'SendMessage', { queue: 'orders', body: 'text' }],
    ['a missing body', 'SendMessage', { queue: 'orders' }],
    ['a string maxMessages', 'ReceiveMessage', { queue: 'orders', maxMessages: '5' }],
    ['a fractional waitTimeSeconds', 'ReceiveMessage', { queue: 'orders', waitTimeSeconds: 0.5 }],
    ['entries as a map', 'SendMessageBatch', { queue: 'orders', entries: { a: { body: new Uint8Array([1]) } } }],
    ['a numeric receipt handle', 'DeleteMessage', { queue: 'orders', receiptHandle: 7 }],
    ['an attribute of an unknown type', 'SendMessage', { queue: 'orders', body: new Uint8Array([1]), attributes: { k: { type: 'date', value: 'x' } } }],
    // A number travels as a decimal string: a MessagePack number is the wrong shape. (A string that
    // is no decimal is invalid_message_attribute: test/integration/message-attributes.test.ts.)
    ['a number attribute given as a number', 'SendMessage', { queue: 'orders', body: new Uint8Array([1]), attributes: { k: { type: 'number', value: 10 } } }],
    ['a boolean limit', 'ListQueues', { limit: true }],
  ];

  for (const [what, action, fields] of cases) {
    isError(t, await api.call(action, fields), ErrorCode.InvalidParameter, what);
  }

  t.deepEqual((await fixture.client.getQueueAttributes('orders')).counts.approximateNumberOfMessages, 0);
});

test('message attributes given as a list instead of a map are answered with invalid_parameter', async (t) => {
  const fixture = await startWharf(t);
  const api = await raw(t, fixture);
  await fixture.client.createQueue('orders');

  const reply = await api.call('SendMessage', {
    queue: 'orders',
    body: new Uint8Array([1]),
    attributes: [{ type: 'string', value: 'x' }],
  });

  // Today the list is accepted and its entry stored as an attribute named "0".
  isError(t, reply, ErrorCode.InvalidParameter, 'message attributes as a list');
  t.is((await fixture.client.getQueueAttributes('orders')).counts.approximateNumberOfMessages, 0, 'nothing was sent');
});

test('a request for a queue that does not exist is answered with queue_not_found', async (t) => {
  const fixture = await startWharf(t);
  const api = await raw(t, fixture);

  isError(t, await api.call('GetQueueAttributes', { queue: 'missing' }), ErrorCode.QueueNotFound, 'GetQueueAttributes');
  isError(t, await api.call('SendMessage', { queue: 'missing', body: new Uint8Array([1]) }), ErrorCode.QueueNotFound, 'SendMessage');
  isError(t, await api.call('ReceiveMessage', { queue: 'missing', waitTimeSeconds: 1 }), ErrorCode.QueueNotFound, 'ReceiveMessage');
  isError(t, await api.call('PurgeQueue', { queue: 'missing' }), ErrorCode.QueueNotFound, 'PurgeQueue');
  isError(t, await api.call('DeleteQueue', { queue: 'missing' }), ErrorCode.QueueNotFound, 'DeleteQueue');
});

test('after malformed requests of every kind the node still serves normally', async (t) => {
  const fixture = await startWharf(t);
  const api = await raw(t, fixture);
  await fixture.client.createQueue('orders');
  await fixture.client.sendMessage('orders', 'before');

  const replies = await Promise.all([
    api.request('SendMessage', Uint8Array.from([0xc1, 0xc1, 0xc1])),
    api.request('SendMessage', new Uint8Array(0)),
    api.request('ReceiveMessage', encode({ v: 99, queue: 'orders' })),
    api.call('Nope', { queue: 'orders' }),
    api.call('ReceiveMessage', { queue: 'orders', nope: 1 }),
    api.call('DeleteMessage', { queue: 'orders', receiptHandle: { r: 1 } }),
    api.call('DeleteMessage', { queue: 'orders', receiptHandle: 'r1.zz.zz.zz.zz' }),
    api.call('GetQueueAttributes', { queue: 'missing' }),
    api.call('CreateQueue', { queue: 'a.b' }),
  ]);
  // A publish without a reply subject has nobody to answer and must not hurt either.
  const sendSubject = subjects(clusterName(fixture.cluster)).api('SendMessage');
  api.nc.publish(sendSubject, Uint8Array.from([0xc1]));
  api.nc.publish(sendSubject, encode({ v: 1, queue: 'orders', body: 'x' }));
  await api.nc.flush();

  t.true(replies.every((r) => r['ok'] === false));
  t.deepEqual(
    replies.map((r) => (r['error'] as Record<string, unknown> | undefined)?.['code']),
    [
      ErrorCode.InvalidRequest,
      ErrorCode.InvalidRequest,
      ErrorCode.UnsupportedVersion,
      ErrorCode.UnknownAction,
      ErrorCode.InvalidParameter,
      ErrorCode.InvalidParameter,
      ErrorCode.InvalidReceiptHandle,
      ErrorCode.QueueNotFound,
      ErrorCode.InvalidName,
    ],
  );
  const [message] = await fixture.client.receive('orders');
  t.is(Buffer.from(message?.body ?? new Uint8Array()).toString(), 'before');
  await servesNormally(t, fixture);
});
