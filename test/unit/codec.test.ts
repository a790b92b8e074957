/**
 * The wire codec (src/protocol/codec.ts): every action's valid request survives a round trip, and
 * malformed frames and requests are rejected with the documented codes.
 */
import test from 'ava';
import { ErrorCode, WharfError } from '../../src/errors.ts';
import {
  decode,
  decodeReply,
  decodeRequest,
  encode,
  encodeError,
  encodeOk,
  encodeRequest,
  isAction,
} from '../../src/protocol/codec.ts';
import { LIMITS } from '../../src/protocol/limits.ts';
import { ACTIONS, PROTOCOL_VERSION, type Action, type Request } from '../../src/protocol/messages.ts';

const body = (s: string) => new TextEncoder().encode(s);

/** One valid request of every action, with every optional field set. */
const VALID: { [A in Action]: Request<A> } = {
  CreateQueue: { queue: 'orders', attributes: { visibilityTimeout: 60, partitions: 4 }, tags: { team: 'payments' } },
  ListQueues: { prefix: 'ord', limit: 10, nextToken: 'orders' },
  GetQueueAttributes: { queue: 'orders' },
  SetQueueAttributes: { queue: 'orders', attributes: { retentionPeriod: 3600 } },
  DeleteQueue: { queue: 'orders' },
  PurgeQueue: { queue: 'orders' },
  TagQueue: { queue: 'orders', tags: { team: 'payments', 'cost-center': '' } },
  UntagQueue: { queue: 'orders', tagKeys: ['team'] },
  ListQueueTags: { queue: 'orders' },
  SendMessage: {
    queue: 'orders',
    body: body('hello'),
    attributes: {
      kind: { type: 'string', value: 'order' },
      amount: { type: 'number', value: '-12.5e3' },
      blob: { type: 'binary', value: new Uint8Array([0, 255, 7]) },
    },
    delaySeconds: 900,
  },
  SendMessageBatch: {
    queue: 'orders',
    entries: [
      { id: 'a', body: body('1') },
      { id: 'b-2_x', body: new Uint8Array(0), delaySeconds: 0, attributes: { 'x.y-z_1': { type: 'string', value: '' } } },
    ],
  },
  ReceiveMessage: { queue: 'orders', maxMessages: 1000, waitTimeSeconds: 20, visibilityTimeout: 43_200, receiveRequestAttemptId: 'attempt-1' },
  DeleteMessage: { queue: 'orders', receiptHandle: 'r1.abc.0.1.2' },
  DeleteMessageBatch: { queue: 'orders', entries: [{ id: 'a', receiptHandle: 'r1.abc.0.1.2' }] },
  ChangeMessageVisibility: { queue: 'orders', receiptHandle: 'r1.abc.0.1.2', visibilityTimeout: 0 },
  ChangeMessageVisibilityBatch: {
    queue: 'orders',
    entries: [{ id: 'a', receiptHandle: 'r1.abc.0.1.2', visibilityTimeout: 30 }],
  },
  StartMessageMoveTask: { sourceQueue: 'orders-dlq', destinationQueue: 'orders', maxMessagesPerSecond: 50 },
  CancelMessageMoveTask: { taskId: 'c0ffee-1' },
  ListMessageMoveTasks: { sourceQueue: 'orders-dlq' },
  PeekMessages: {
    queue: 'orders',
    states: ['ready', 'inflight', 'delayed'],
    partition: 3,
    cursor: 'WzEsMiwzLCJtIiw0XQ',
    limit: 100,
    messageId: 'm-1',
    attribute: { name: 'kind', value: 'order' },
    body: true,
  },
  ReadStream: { queue: 'events', partition: 3, offset: 12, maxMessages: 1000, maxBytes: 4 * 1024 * 1024, waitTimeSeconds: 20 },
  FindOffset: { queue: 'events', partition: 0, timestamp: 1_700_000_000_000 },
  GetOffsets: { queue: 'events', group: 'billing' },
  CommitOffsets: { queue: 'events', group: 'billing', memberId: 'm-1', generation: 4, offsets: [{ partition: 0, offset: 7, metadata: 'x' }] },
  JoinGroup: { queue: 'events', group: 'billing', memberId: 'm-1', sessionTimeoutMs: 10_000 },
  GroupHeartbeat: { queue: 'events', group: 'billing', memberId: 'm-1', generation: 4 },
  LeaveGroup: { queue: 'events', group: 'billing', memberId: 'm-1' },
  DescribeGroup: { queue: 'events', group: 'billing' },
  ListGroups: { queue: 'events' },
  PutPrincipal: { policy: { name: 'alice', tenant: 'acme', grants: [{ queues: 'orders-*', permissions: ['send', 'receive', 'delete'] }] } },
  DeletePrincipal: { name: 'alice' },
  ListPrincipals: {},
  WhoAmI: {},
};

/** Byte arrays decode as Buffers: compare them as plain Uint8Arrays. */
function normalize(value: unknown): unknown {
  if (value instanceof Uint8Array) return Array.from(value);
  if (Array.isArray(value)) return value.map(normalize);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalize(v)]));
  }
  return value;
}

/** A frame of any value, valid request or not. */
const frame = (value: unknown) => encode(value);

/** The code of the WharfError `f` throws, or a description of what happened instead. */
function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    return err instanceof WharfError ? err.code : `not a WharfError: ${String(err)}`;
  }
  return 'no error';
}

for (const action of ACTIONS) {
  test(`round trip: ${action}`, (t) => {
    const request = VALID[action];
    const decoded = decodeRequest(action, encodeRequest(request));
    t.deepEqual(normalize(decoded), normalize(request));
  });
}

test('every action has a valid request in this table, and isAction knows exactly the actions', (t) => {
  t.deepEqual(Object.keys(VALID).sort(), [...ACTIONS].sort());
  for (const a of ACTIONS) t.true(isAction(a));
  for (const name of [undefined, '', 'toString', '__proto__', 'constructor', 'hasOwnProperty', 'sendMessage', 'SendMessage ']) {
    t.false(isAction(name), String(name));
  }
});

test('encode/decode keep bytes as bytes', (t) => {
  const value = decode(encode({ b: new Uint8Array([1, 2, 3]), s: 'x', n: 1.5, a: [true, null] })) as Record<string, unknown>;
  t.true(value['b'] instanceof Uint8Array);
  t.deepEqual(normalize(value), { b: [1, 2, 3], s: 'x', n: 1.5, a: [true, null] });
});

test('malformed frames are invalid_request', (t) => {
  t.is(codeOf(() => decode(new Uint8Array(0))), ErrorCode.InvalidRequest);
  t.is(codeOf(() => decode(new Uint8Array([0xc1]))), ErrorCode.InvalidRequest, '0xc1 is never used in MessagePack');
  t.is(codeOf(() => decode(new Uint8Array([0x92, 0x01]))), ErrorCode.InvalidRequest, 'truncated array');
  t.is(codeOf(() => decodeRequest('GetQueueAttributes', new Uint8Array(0))), ErrorCode.InvalidRequest);
  t.is(codeOf(() => decodeRequest('GetQueueAttributes', frame([1, 2]))), ErrorCode.InvalidRequest, 'an array is not a request');
  t.is(codeOf(() => decodeRequest('GetQueueAttributes', frame(null))), ErrorCode.InvalidRequest);
  t.is(codeOf(() => decodeRequest('GetQueueAttributes', frame('GetQueueAttributes'))), ErrorCode.InvalidRequest);
});

test('a request without v: 1 is unsupported_version', (t) => {
  t.throws(() => decodeRequest('GetQueueAttributes', frame({ queue: 'q' })), { instanceOf: WharfError, message: /version/ });
  for (const v of [undefined, 0, 2, '1', null]) {
    const err = t.throws(() => decodeRequest('GetQueueAttributes', frame(v === undefined ? { queue: 'q' } : { v, queue: 'q' })));
    t.is((err as WharfError | undefined)?.code, ErrorCode.UnsupportedVersion, `v = ${String(v)}`);
  }
  t.is(PROTOCOL_VERSION, 1);
});

test('requests that break their schema are invalid_parameter, naming the field', (t) => {
  const v = PROTOCOL_VERSION;
  const cases: Array<[Action, Record<string, unknown>, RegExp?]> = [
    ['GetQueueAttributes', { v }, /queue/],
    ['GetQueueAttributes', { v, queue: 5 }, /queue/],
    ['GetQueueAttributes', { v, queue: 'q', extra: 1 }, /extra/],
    ['GetQueueAttributes', { v, queue: 'x'.repeat(201) }],
    ['CreateQueue', { v, queue: 'q', attributes: 'partitions' }, /attributes/],
    ['CreateQueue', { v, queue: 'q', attributes: ['partitions'] }, /attributes/],
    ['SendMessage', { v, queue: 'q', body: body('x'), attributes: [{ type: 'string', value: 'v' }] }, /attributes/],
    ['SendMessage', { v, queue: 'q', body: body('x'), attributes: body('not a map') }, /attributes/],
    ['CreateQueue', { v, queue: 'q', attributes: { ['x'.repeat(65)]: 1 } }, /attributes/],
    ['SetQueueAttributes', { v, queue: 'q', attributes: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`a${i}`, 1])) }, /attributes/],
    ['ListQueues', { v, limit: 0 }, /limit/],
    ['ListQueues', { v, limit: LIMITS.maxListQueues + 1 }, /limit/],
    ['ListQueues', { v, prefix: 'p'.repeat(81) }, /prefix/],
    ['SendMessage', { v, queue: 'q' }, /body/],
    ['SendMessage', { v, queue: 'q', body: 'text, not bytes' }, /body/],
    ['SendMessage', { v, queue: 'q', body: body('x'), delaySeconds: LIMITS.maxDelaySeconds + 1 }, /delaySeconds/],
    ['SendMessage', { v, queue: 'q', body: body('x'), delaySeconds: -1 }],
    ['SendMessage', { v, queue: 'q', body: body('x'), delaySeconds: 1.5 }],
    ['SendMessage', { v, queue: 'q', body: body('x'), attributes: { a: { type: 'date', value: '1' } } }],
    ['SendMessage', { v, queue: 'q', body: body('x'), attributes: { a: { type: 'string', value: 'v', extra: 1 } } }],
    ['SendMessage', { v, queue: 'q', body: body('x'), attributes: { b: { type: 'binary', value: 'not bytes' } } }],
    ['CreateQueue', { v, queue: 'q', tags: { k: 5 } }, /tags/],
    ['TagQueue', { v, queue: 'q' }, /tags/],
    ['UntagQueue', { v, queue: 'q', tagKeys: 'k' }, /tagKeys/],
    ['SendMessageBatch', { v, queue: 'q', entries: [{ body: body('x') }] }, /id/],
    ['SendMessageBatch', { v, queue: 'q', entries: [{ id: 'has space', body: body('x') }] }, /id/],
    ['SendMessageBatch', { v, queue: 'q', entries: [{ id: 'x'.repeat(LIMITS.maxIdLength + 1), body: body('x') }] }, /id/],
    ['SendMessageBatch', { v, queue: 'q', entries: 'none' }, /entries/],
    ['ReceiveMessage', { v, queue: 'q', maxMessages: 0 }, /maxMessages/],
    ['ReceiveMessage', { v, queue: 'q', maxMessages: LIMITS.maxReceiveMessages + 1 }, /maxMessages/],
    ['ReceiveMessage', { v, queue: 'q', waitTimeSeconds: LIMITS.maxWaitTimeSeconds + 1 }, /waitTimeSeconds/],
    ['ReceiveMessage', { v, queue: 'q', visibilityTimeout: LIMITS.maxVisibilityTimeout + 1 }, /visibilityTimeout/],
    ['ReceiveMessage', { v, queue: 'q', receiveRequestAttemptId: '' }, /receiveRequestAttemptId/],
    ['DeleteMessage', { v, queue: 'q', receiptHandle: '' }, /receiptHandle/],
    ['DeleteMessage', { v, queue: 'q' }, /receiptHandle/],
    ['ChangeMessageVisibility', { v, queue: 'q', receiptHandle: 'r' }, /visibilityTimeout/],
    ['ChangeMessageVisibility', { v, queue: 'q', receiptHandle: 'r', visibilityTimeout: -1 }, /visibilityTimeout/],
    ['ChangeMessageVisibilityBatch', { v, queue: 'q', entries: [{ id: 'a', receiptHandle: 'r' }] }, /visibilityTimeout/],
    ['DeleteMessageBatch', { v, queue: 'q', entries: [{ id: 'a', receiptHandle: 'r', extra: true }] }, /extra/],
  ];
  for (const [action, value, field] of cases) {
    const err = t.throws(() => decodeRequest(action, frame(value)), { instanceOf: WharfError }, `${action} ${JSON.stringify(normalize(value))}`);
    t.is(err?.code, ErrorCode.InvalidParameter, `${action} ${JSON.stringify(normalize(value))}`);
    t.true(err?.message.startsWith(`${action}: `), err?.message);
    if (field) t.regex(err?.message ?? '', field);
  }
});

test('a batch with more entries than the limit is rejected', (t) => {
  // errors.ts documents batch_too_large for "more entries than the batch limit, or too many bytes";
  // docs/api.md documents it for bytes only. The codec answers invalid_parameter (see the report).
  const entries = Array.from({ length: LIMITS.maxBatchEntries + 1 }, (_, i) => ({ id: `e${i}`, receiptHandle: 'r' }));
  const err = t.throws(() => decodeRequest('DeleteMessageBatch', frame({ v: 1, queue: 'q', entries })), { instanceOf: WharfError });
  t.true(err?.code === ErrorCode.InvalidParameter || err?.code === ErrorCode.BatchTooLarge, err?.code);
  const ok = Array.from({ length: LIMITS.maxBatchEntries }, (_, i) => ({ id: `e${i}`, receiptHandle: 'r' }));
  t.is(decodeRequest('DeleteMessageBatch', frame({ v: 1, queue: 'q', entries: ok })).entries.length, LIMITS.maxBatchEntries);
});

test('a __proto__ key in a request is refused', (t) => {
  // JSON.parse makes an own property named __proto__, which the encoder writes as a map key.
  const top = JSON.parse('{"v":1,"queue":"q","__proto__":{"polluted":true}}') as unknown;
  t.is(codeOf(() => decodeRequest('GetQueueAttributes', frame(top))), ErrorCode.InvalidRequest);
  const nested = JSON.parse('{"v":1,"queue":"q","attributes":{"__proto__":1}}') as unknown;
  t.is(codeOf(() => decodeRequest('CreateQueue', frame(nested))), ErrorCode.InvalidRequest);
  t.is(({} as Record<string, unknown>)['polluted'], undefined);
});

test('attribute values of any type pass the codec: attributes.ts checks them (invalid_attribute)', (t) => {
  const decoded = decodeRequest('CreateQueue', frame({ v: 1, queue: 'q', attributes: { partitions: '4' } }));
  t.deepEqual(decoded.attributes as unknown, { partitions: '4' });
});

test('the checks run in order: frame, version, schema', (t) => {
  t.is(codeOf(() => decodeRequest('PurgeQueue', frame([1]))), ErrorCode.InvalidRequest);
  t.is(codeOf(() => decodeRequest('PurgeQueue', frame({ queue: 5, extra: 1 }))), ErrorCode.UnsupportedVersion);
  t.is(codeOf(() => decodeRequest('PurgeQueue', frame({ v: 1 }))), ErrorCode.InvalidParameter);
  t.is(codeOf(() => decodeRequest('PurgeQueue', frame({ v: 1, queue: 'q' }))), 'no error');
});

// ---- replies -------------------------------------------------------------------------------------

test('an ok reply round-trips its body', (t) => {
  const reply = { messages: [{ messageId: 'm', body: body('b'), receiveCount: 1 }] };
  t.deepEqual(normalize(decodeReply(encodeOk(reply))), normalize(reply));
  t.deepEqual(decodeReply(encodeOk({})), {});
  const raw = decode(encodeOk({ x: 1 })) as Record<string, unknown>;
  t.is(raw['v'], PROTOCOL_VERSION);
  t.is(raw['ok'], true);
});

test('an error reply becomes the WharfError it carries', (t) => {
  const err = t.throws(() => decodeReply(encodeError({ code: ErrorCode.NotLeader, message: 'ask n2', leader: 'n2' })), {
    instanceOf: WharfError,
  });
  t.is(err?.code, ErrorCode.NotLeader);
  t.is(err?.message, 'ask n2');
  t.is(err?.leader, 'n2');
  t.true(err?.retryable);
});

test('a reply that is not an envelope is invalid_request; a malformed error is internal', (t) => {
  for (const value of [null, 5, 'ok', [true], { v: 1 }, { v: 1, ok: 'yes' }]) {
    const err = t.throws(() => decodeReply(frame(value)), { instanceOf: WharfError });
    t.is(err?.code, ErrorCode.InvalidRequest, JSON.stringify(value));
  }
  const err = t.throws(() => decodeReply(frame({ v: 1, ok: false, error: { code: 'no_such_code', message: 'x' } })), {
    instanceOf: WharfError,
  });
  t.is(err?.code, ErrorCode.Internal);
  const err2 = t.throws(() => decodeReply(frame({ v: 1, ok: false })), { instanceOf: WharfError });
  t.is(err2?.code, ErrorCode.Internal);
});
