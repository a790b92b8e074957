/**
 * Bad input at every API subject, with fast-check: random bytes, random MessagePack values, values
 * of the right shape with random fields, valid requests mutated into invalid ones (wrong types,
 * missing fields, unknown fields, huge strings, out-of-range / NaN / Infinity / fractional numbers,
 * queue names with wildcard characters, oversized bodies, bogus receipt handles, prototype-named
 * keys), truncated frames, and unknown actions. The node runs as a child process so that a crash
 * shows as its exit, not as the test's.
 *
 * Every request must get exactly one reply that is a well-formed envelope; an error must carry a
 * code of ErrorCode, never `internal`; a request built to be invalid must be rejected with a
 * client-fault code (batches: or every entry failed). Afterwards the node still serves, a control
 * queue still holds exactly its 100 messages, intact, and real receipt handles are still live.
 *
 * No fuzzed request can create garbage: CreateQueue only gets invalid names or invalid requests for
 * a few fixed names, DeleteQueue / PurgeQueue never name the control queue, and the generic
 * families skip requests that name the control or scratch queue.
 *
 * The seed is logged; FUZZ_SEED=<n> replays a run.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import test, { type ExecutionContext } from 'ava';
import fc, { type WithToStringMethod } from 'fast-check';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { WharfClient } from '../../src/client/client.ts';
import { ErrorCode, isWharfError, WharfError } from '../../src/errors.ts';
import { ANONYMOUS, isQueueName } from '../../src/names.ts';
import { BOOLEANS, CHOICES, CREATION, SETTABLE } from '../../src/protocol/attributes.ts';
import { decode, decodeReply, encode } from '../../src/protocol/codec.ts';
import { LIMITS } from '../../src/protocol/limits.ts';
import {
  ACTIONS as ALL_ACTIONS,
  PROTOCOL_VERSION,
  PRINCIPAL_ACTIONS,
  STREAM_ACTIONS,
  type PrincipalAction,
  type StreamAction,
  type Action as ApiAction,
  type AttributeValue,
  type MessageAttributes,
  type ReceivedMessage,
} from '../../src/protocol/messages.ts';
import { decodeReceipt } from '../../src/protocol/receipt.ts';
import { ROOT } from '../../src/protocol/subjects.ts';

// The stream actions are fuzzed by test/fuzz/stream.test.ts; the principal actions are checked by
// test/fuzz/internal.test.ts and test/unit/policy.test.ts.
type Action = Exclude<ApiAction, StreamAction | PrincipalAction>;
const NOT_FUZZED: readonly string[] = [...STREAM_ACTIONS, ...PRINCIPAL_ACTIONS];
const ACTIONS = ALL_ACTIONS.filter((a): a is Action => !NOT_FUZZED.includes(a));
import { startNats } from '../helpers/nats-server.ts';
import { startNodeProcess } from '../helpers/node-process.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { startWharf } from '../helpers/wharf.ts';

const CONTROL = 'control';
const SCRATCH = 'scratch';
const MISSING = 'no-such-queue';
const AFTER = 'after-fuzz';
/** Where batches of valid sends with one mutated entry go: the valid entries may be stored (SQS's per-entry failures). */
const SINK = 'sink';
/** The only valid names CreateQueue is fuzzed with (always with something else invalid). */
const FZ_NAMES = ['fz-0', 'fz-1', 'fz-2', 'fz-3'];
const CONTROL_MESSAGES = 100;
const REQUEST_TIMEOUT_MS = 10_000;
const FAMILY_TIME_LIMIT_MS = 20_000;
const DEFAULT_MAX_MESSAGE = SETTABLE.maximumMessageSize.default;

const CODES: ReadonlySet<string> = new Set<string>(Object.values(ErrorCode));
/** Codes that say "your request is wrong": what bad input must get. */
const CLIENT_FAULT: ReadonlySet<string> = new Set<string>([
  ErrorCode.InvalidRequest,
  ErrorCode.UnsupportedVersion,
  ErrorCode.UnknownAction,
  ErrorCode.InvalidName,
  ErrorCode.InvalidParameter,
  ErrorCode.InvalidAttribute,
  ErrorCode.MessageTooLarge,
  ErrorCode.BatchTooLarge,
  ErrorCode.BatchIdsNotDistinct,
  ErrorCode.EmptyBatch,
  ErrorCode.QueueNotFound,
  ErrorCode.QueueAlreadyExists,
  ErrorCode.InvalidReceiptHandle,
  ErrorCode.MessageNotInFlight,
  ErrorCode.InvalidTag,
  ErrorCode.TooManyTags,
  ErrorCode.InvalidMessageAttribute,
]);
/** Names of Object.prototype members (and friends): keys that tend to slip past `in` and `obj[key]` checks. */
const PROTO_KEYS = [
  'constructor',
  'prototype',
  'toString',
  'valueOf',
  'hasOwnProperty',
  'isPrototypeOf',
  'propertyIsEnumerable',
  'toLocaleString',
  '__defineGetter__',
  '__lookupGetter__',
];
const NUMBER_ATTRIBUTE = /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/;

// ---- request shapes ------------------------------------------------------------------------------

type Spec =
  | { kind: 'queue' }
  | { kind: 'int'; min: number; max: number }
  | { kind: 'str'; maxLength: number }
  | { kind: 'id' }
  | { kind: 'receipt' }
  | { kind: 'bytes' }
  | { kind: 'qattrs'; settableOnly: boolean }
  | { kind: 'tags' }
  | { kind: 'tagKeys' }
  | { kind: 'mattrs' }
  | { kind: 'entries'; entry: Fields };
interface Field {
  spec: Spec;
  required: boolean;
}
type Fields = Record<string, Field>;

const req = (spec: Spec): Field => ({ spec, required: true });
const opt = (spec: Spec): Field => ({ spec, required: false });
const intSpec = (min: number, max: number): Spec => ({ kind: 'int', min, max });
const QUEUE: Field = req({ kind: 'queue' });
const ID: Field = req({ kind: 'id' });
const RECEIPT: Field = req({ kind: 'receipt' });
const VISIBILITY = intSpec(0, LIMITS.maxVisibilityTimeout);
const OUTGOING: Fields = {
  body: req({ kind: 'bytes' }),
  attributes: opt({ kind: 'mattrs' }),
  delaySeconds: opt(intSpec(0, LIMITS.maxDelaySeconds)),
  ttlSeconds: opt(intSpec(1, LIMITS.maxTtlSeconds)),
};

/** The request fields of every action, as codec.ts checks them. */
const FIELDS: Record<Action, Fields> = {
  CreateQueue: { queue: QUEUE, attributes: opt({ kind: 'qattrs', settableOnly: false }) },
  ListQueues: {
    prefix: opt({ kind: 'str', maxLength: 80 }),
    limit: opt(intSpec(1, LIMITS.maxListQueues)),
    nextToken: opt({ kind: 'str', maxLength: 200 }),
  },
  GetQueueAttributes: { queue: QUEUE },
  SetQueueAttributes: { queue: QUEUE, attributes: req({ kind: 'qattrs', settableOnly: true }) },
  DeleteQueue: { queue: QUEUE },
  PurgeQueue: { queue: QUEUE },
  TagQueue: { queue: QUEUE, tags: req({ kind: 'tags' }) },
  UntagQueue: { queue: QUEUE, tagKeys: req({ kind: 'tagKeys' }) },
  ListQueueTags: { queue: QUEUE },
  SendMessage: { queue: QUEUE, ...OUTGOING },
  SendMessageBatch: { queue: QUEUE, entries: req({ kind: 'entries', entry: { id: ID, ...OUTGOING } }) },
  ReceiveMessage: {
    queue: QUEUE,
    maxMessages: opt(intSpec(1, LIMITS.maxReceiveMessages)),
    // Always 0 in valid bases (baseRequest): a request that turned out valid never long-polls.
    waitTimeSeconds: opt(intSpec(0, LIMITS.maxWaitTimeSeconds)),
    visibilityTimeout: opt(VISIBILITY),
    receiveRequestAttemptId: opt({ kind: 'id' }),
  },
  DeleteMessage: { queue: QUEUE, receiptHandle: RECEIPT },
  DeleteMessageBatch: { queue: QUEUE, entries: req({ kind: 'entries', entry: { id: ID, receiptHandle: RECEIPT } }) },
  ChangeMessageVisibility: { queue: QUEUE, receiptHandle: RECEIPT, visibilityTimeout: req(VISIBILITY) },
  ChangeMessageVisibilityBatch: {
    queue: QUEUE,
    entries: req({ kind: 'entries', entry: { id: ID, receiptHandle: RECEIPT, visibilityTimeout: req(VISIBILITY) } }),
  },
  StartMessageMoveTask: { sourceQueue: QUEUE, destinationQueue: opt({ kind: 'queue' }), maxMessagesPerSecond: opt(intSpec(1, LIMITS.maxMovesPerSecond)) },
  CancelMessageMoveTask: { taskId: ID },
  ListMessageMoveTasks: { sourceQueue: opt({ kind: 'queue' }) },
  PeekMessages: {
    queue: QUEUE,
    limit: opt(intSpec(1, LIMITS.maxPeekMessages)),
  },
};

const RECEIPT_ACTIONS: ReadonlySet<Action> = new Set<Action>([
  'DeleteMessage',
  'DeleteMessageBatch',
  'ChangeMessageVisibility',
  'ChangeMessageVisibilityBatch',
]);
const isBatch = (action: Action) => action.endsWith('Batch');

type Json = Record<string, unknown>;

/** What the test knows that the fuzzer needs: the control queue's incarnation and live receipts of the scratch queue. */
interface Context {
  controlIncarnation: string;
  scratchReceipts: string[];
}

// ---- valid values --------------------------------------------------------------------------------

function queueFor(action: Action): fc.Arbitrary<string> {
  if (action === 'CreateQueue') return fc.constantFrom(...FZ_NAMES);
  if (action === 'DeleteQueue' || action === 'PurgeQueue') return fc.constantFrom(SCRATCH, MISSING);
  return fc.constantFrom(CONTROL, SCRATCH, MISSING);
}

// SQS's rules (message-attributes.ts): no leading, trailing or doubled period, no AWS./Amazon.
// prefix (a leading lower-case letter other than a keeps clear of both), values never empty.
const attributeName = fc.stringMatching(/^[b-z](?:[A-Za-z0-9_-]|\.[A-Za-z0-9_-]){0,7}$/);
const attributeValue = fc.oneof(
  fc.record({ type: fc.constant('string'), value: fc.stringMatching(/^[ -~]{1,20}$/) }),
  fc.record({ type: fc.constant('number'), value: fc.integer().map(String) }),
  fc.record({ type: fc.constant('binary'), value: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
);
const tagKey = fc.stringMatching(/^[A-Za-z0-9_.:/=+@ -]{1,16}$/).filter((k) => !k.toLowerCase().startsWith('aws:'));

interface Overrides {
  queue?: fc.Arbitrary<string>;
  receipt?: fc.Arbitrary<string>;
}

function validValue(spec: Spec, action: Action, ctx: Context, o: Overrides): fc.Arbitrary<unknown> {
  switch (spec.kind) {
    case 'queue':
      return o.queue ?? queueFor(action);
    case 'int':
      return fc.integer({ min: spec.min, max: spec.max });
    case 'str':
      return fc.string({ maxLength: spec.maxLength });
    case 'id':
      return fc.stringMatching(/^[A-Za-z0-9_-]{1,16}$/);
    case 'receipt':
      return o.receipt ?? bogusReceipt(ctx);
    case 'bytes':
      return fc.uint8Array({ maxLength: 64 });
    case 'qattrs': {
      const ranges = spec.settableOnly ? SETTABLE : { ...SETTABLE, ...CREATION };
      const model: Record<string, fc.Arbitrary<number>> = {};
      // retentionBytes is a stream's (mode stream): a queue takes only 0.
      for (const [name, r] of Object.entries(ranges)) model[name] = name === 'retentionBytes' ? fc.constant(0) : fc.integer({ min: r.min, max: r.max });
      return fc.record(model, { requiredKeys: [] });
    }
    case 'mattrs':
      return fc.dictionary(attributeName, attributeValue, { maxKeys: 3 });
    case 'tags':
      return fc.dictionary(tagKey, fc.stringMatching(/^[A-Za-z0-9 ]{0,16}$/), { maxKeys: 3 });
    case 'tagKeys':
      return fc.array(tagKey, { maxLength: 3 });
    case 'entries':
      return fc.uniqueArray(entryArb(spec.entry, action, ctx, o), {
        minLength: 1,
        maxLength: 4,
        selector: (e) => e['id'],
      });
    default:
      return spec satisfies never;
  }
}

function entryArb(fields: Fields, action: Action, ctx: Context, o: Overrides): fc.Arbitrary<Json> {
  const model: Record<string, fc.Arbitrary<unknown>> = {};
  const required: string[] = [];
  for (const [name, f] of Object.entries(fields)) {
    model[name] = validValue(f.spec, action, ctx, o);
    if (f.required) required.push(name);
  }
  return fc.record(model, { requiredKeys: required }) as fc.Arbitrary<Json>;
}

/** A valid request of `action` (with `v`), except receipt handles, which are bogus unless overridden. */
function baseRequest(action: Action, ctx: Context, o: Overrides = {}): fc.Arbitrary<Json> {
  const fields: Fields = FIELDS[action];
  return entryArb(fields, action, ctx, o).map((r) => {
    const out: Json = { v: PROTOCOL_VERSION, ...r };
    if (action === 'ReceiveMessage') out['waitTimeSeconds'] = 0;
    return out;
  });
}

/** A value of the same shape as `spec` that is valid, for building oversized batches. */
function canonical(spec: Spec, i: number): unknown {
  switch (spec.kind) {
    case 'queue':
      return MISSING;
    case 'int':
      return spec.min;
    case 'str':
      return '';
    case 'id':
      return `e${i}`;
    case 'receipt':
      return 'x';
    case 'bytes':
      return new Uint8Array(1);
    case 'qattrs':
    case 'mattrs':
    case 'tags':
      return {};
    case 'tagKeys':
      return [];
    case 'entries':
      return [];
    default:
      return spec satisfies never;
  }
}

// ---- invalid values ------------------------------------------------------------------------------

const smallDict = fc.dictionary(fc.string({ maxLength: 4 }), fc.integer(), { maxKeys: 2 });
const notString = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.uint8Array({ maxLength: 8 }),
  fc.array(fc.string({ maxLength: 4 }), { maxLength: 3 }),
  smallDict,
);
const notNumber = fc.oneof(
  fc.string({ maxLength: 8 }),
  fc.boolean(),
  fc.constant(null),
  fc.uint8Array({ maxLength: 8 }),
  fc.array(fc.integer(), { maxLength: 3 }),
  smallDict,
);
const notBytes = fc.oneof(
  fc.string({ maxLength: 16 }),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 8 }),
  smallDict,
);
const notObject = fc.oneof(
  fc.string({ maxLength: 8 }),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.uint8Array({ maxLength: 8 }),
);
const notArray = fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fc.boolean(), fc.constant(null), smallDict, fc.uint8Array({ maxLength: 8 }));

/** A string longer than `maxLength` (in UTF-16 units), up to ~50k characters more. */
function hugeString(maxLength: number): fc.Arbitrary<string> {
  return fc
    .tuple(fc.integer({ min: maxLength + 1, max: maxLength + 50_000 }), fc.constantFrom('x', 'é', '😀', '*', ' '))
    .map(([length, ch]) => ch.repeat(length));
}

function badInt(min: number, max: number): fc.Arbitrary<unknown> {
  const options: Array<fc.Arbitrary<unknown>> = [
    fc.integer({ min: max + 1, max: Math.max(max + 1, 2 ** 31 - 1) }),
    fc.constantFrom(NaN, Infinity, -Infinity, Number.MAX_VALUE, -Number.MAX_VALUE, Number.MIN_VALUE, 2 ** 53, -(2 ** 53), min - 0.5, max + 0.5, min + 0.5),
    fc.double({ min, max, noNaN: true }).filter((x) => !Number.isInteger(x)),
    notNumber,
  ];
  if (min - 1 >= -(2 ** 31)) options.push(fc.integer({ min: -(2 ** 31), max: min - 1 }));
  return fc.oneof(...options);
}

/** Queue names no queue can have: wildcards, separators, white space, non-ASCII, too long. */
const badQueueName = fc.oneof(
  fc.constantFrom('', '*', '>', 'a.b', 'orders.*', 'wharf.>', 'a b', 'tab\t', 'a/b', 'é', '\u0000', 'a'.repeat(81), `${CONTROL} `, ` ${CONTROL}`, `${CONTROL}.`, `${CONTROL}*`, `${CONTROL}>`),
  fc
    .tuple(
      fc.stringMatching(/^[A-Za-z0-9_-]{0,20}$/),
      fc.constantFrom('*', '>', '.', ' ', '/', '\\', '\u0000', 'é', '😀', '%', '\n', ':'),
      fc.stringMatching(/^[A-Za-z0-9_-]{0,20}$/),
    )
    .map(([a, c, b]) => a + c + b),
  hugeString(200),
);

const ALL_RANGES = { ...SETTABLE, ...CREATION };
const isKnownAttribute = (k: string) => Object.hasOwn(ALL_RANGES, k) || Object.hasOwn(CHOICES, k);

function badQueueAttributes(settableOnly: boolean): fc.Arbitrary<unknown> {
  const ranges: Record<string, { min: number; max: number }> = settableOnly ? SETTABLE : ALL_RANGES;
  const names = Object.keys(ranges);
  const oneBad = fc.constantFrom(...names).chain((name) => {
    const r = ranges[name] ?? { min: 0, max: 0 };
    return badInt(r.min, r.max).map((v) => ({ [name]: v }));
  });
  const unknownName = fc
    .tuple(
      fc.string({ minLength: 1, maxLength: 30 }).filter((k) => !isKnownAttribute(k) && !PROTO_KEYS.includes(k) && k !== '__proto__'),
      fc.integer({ min: 0, max: 100 }),
    )
    .map(([k, v]) => ({ [k]: v }));
  const options: Array<fc.Arbitrary<unknown>> = [
    notObject,
    oneBad,
    unknownName,
    // A valid attribute next to an invalid one: nothing of it may be applied.
    fc.tuple(validValue({ kind: 'qattrs', settableOnly }, 'SetQueueAttributes', { controlIncarnation: '0', scratchReceipts: [] }, {}), oneBad).map(
      ([ok, bad]) => ({ ...(ok as Json), ...bad }),
    ),
  ];
  if (settableOnly) options.push(fc.integer({ min: CREATION.partitions.min, max: CREATION.partitions.max }).map((p) => ({ partitions: p })));
  return fc.oneof(...options);
}

const badAttributeValue = fc.oneof(
  notObject,
  fc.record({ type: fc.constant('string'), value: notString }),
  fc.record({ type: fc.constant('number'), value: fc.string({ maxLength: 10 }).filter((s) => !NUMBER_ATTRIBUTE.test(s)) }),
  fc.record({ type: fc.constant('number'), value: notString }),
  fc.record({ type: fc.constant('binary'), value: notBytes }),
  fc.record({ type: fc.string({ maxLength: 10 }).filter((s) => !['string', 'number', 'binary'].includes(s)), value: fc.string({ maxLength: 4 }) }),
  fc.constantFrom<unknown>({ value: 'x' }, { type: 'string' }, {}),
  fc.record({ type: fc.constant('string'), value: fc.string({ maxLength: 4 }), extra: fc.integer() }),
);
const badAttributeName = fc.oneof(
  fc.constantFrom('', 'a b', 'a*', 'é', 'a/b', 'a:b', '\u0000', 'x'.repeat(257)),
  fc.tuple(attributeName, fc.constantFrom(' ', '*', '>', '/', 'é', '!', '\n')).map(([a, c]) => a + c),
);
const badMessageAttributes = fc.oneof(
  notObject,
  fc.tuple(attributeName, badAttributeValue).map(([k, v]) => ({ [k]: v })),
  fc.tuple(badAttributeName, attributeValue).map(([k, v]) => ({ [k]: v })),
  fc
    .array(attributeValue, { minLength: LIMITS.maxMessageAttributes + 1, maxLength: LIMITS.maxMessageAttributes + 4 })
    .map((vs) => Object.fromEntries(vs.map((v, i) => [`a${i}`, v]))),
);

function badEntries(entry: Fields, action: Action, ctx: Context, o: Overrides): fc.Arbitrary<unknown> {
  const valid = entryArb(entry, action, ctx, o);
  const tooMany = Array.from({ length: LIMITS.maxBatchEntries + 1 }, (_, i) =>
    Object.fromEntries(Object.entries(entry).map(([k, f]) => [k, canonical(f.spec, i)])),
  );
  return fc.oneof(
    notArray,
    fc.constant([]),
    fc.constant(tooMany),
    fc.tuple(valid, valid).map(([a, b]) => [a, { ...b, id: a['id'] }]),
    fc
      .uniqueArray(valid, { minLength: 1, maxLength: 4, selector: (e) => e['id'] })
      .chain((es) =>
        fc.nat({ max: es.length - 1 }).chain((i) =>
          mutate(entry, es[i] ?? {}, action, ctx, o, false).map(({ request }) =>
            withBadEntry(
              es.map((e, j) => (j === i ? request : e)),
              es[i]?.['id'],
            ),
          ),
        ),
      ),
  );
}

/**
 * A batch in which one entry was mutated and the others are valid. A mutation the codec sees
 * rejects the whole request; one only the queue can judge (an attribute, a delay beyond the
 * retention period) fails that entry alone while its valid siblings succeed, as in SQS. The bad
 * entry's id rides along (not encoded: a symbol key) so that the reply can be checked either way.
 */
const BAD_ENTRY = Symbol('bad entry');
type MarkedEntries = unknown[] & { [BAD_ENTRY]?: unknown };
function withBadEntry(entries: unknown[], id: unknown): unknown[] {
  const marked: MarkedEntries = entries;
  marked[BAD_ENTRY] = id;
  return marked;
}
function badEntryOf(request: Json): string | undefined {
  const entries = request['entries'];
  if (!Array.isArray(entries)) return undefined;
  const id = (entries as MarkedEntries)[BAD_ENTRY];
  return typeof id === 'string' ? id : undefined;
}

function badValue(spec: Spec, action: Action, ctx: Context, o: Overrides): fc.Arbitrary<unknown> {
  switch (spec.kind) {
    case 'queue':
      return fc.oneof(notString, badQueueName);
    case 'int':
      return badInt(spec.min, spec.max);
    case 'str':
      return fc.oneof(notString, hugeString(spec.maxLength));
    case 'id':
      return fc.oneof(
        notString,
        fc.constantFrom('', 'a b', 'a.b', 'é', '*', '>', 'a/b', '\u0000', 'x'.repeat(LIMITS.maxIdLength + 1)),
        hugeString(LIMITS.maxIdLength),
      );
    case 'receipt':
      return fc.oneof(notString, fc.constant(''), hugeString(256));
    case 'bytes':
      return notBytes;
    case 'qattrs':
      return badQueueAttributes(spec.settableOnly);
    case 'mattrs':
      return badMessageAttributes;
    case 'tags':
      return fc.oneof(
        notObject,
        fc.constantFrom<unknown>({ '': 'v' }, { 'aws:x': 'v' }, { k: 'x'.repeat(LIMITS.maxTagValueLength + 1) }, { ['k'.repeat(LIMITS.maxTagKeyLength + 1)]: 'v' }, { 'a*b': 'v' }, { k: 5 }),
        fc.constant(Object.fromEntries(Array.from({ length: LIMITS.maxQueueTags + 1 }, (_, i) => [`k${i}`, 'v']))),
      );
    case 'tagKeys':
      return fc.oneof(notArray, fc.constantFrom<unknown>([''], ['aws:x'], ['a*b'], [5]));
    case 'entries':
      return badEntries(spec.entry, action, ctx, o);
    default:
      return spec satisfies never;
  }
}

const badVersion = fc.oneof(
  fc.constantFrom<unknown>(0, 2, -1, 1.5, '1', 'v1', null, true, false, [1], {}, NaN, Infinity, 2 ** 53, new Uint8Array([1])),
  fc.integer().filter((n) => n !== PROTOCOL_VERSION),
  fc.string({ maxLength: 8 }),
);

/**
 * One mutation that makes a valid request (or batch entry) invalid: a field of the wrong type or
 * out of range, a required field missing, an unknown field, or (top level only) a bad version.
 */
function mutate(
  fields: Fields,
  request: Json,
  action: Action,
  ctx: Context,
  o: Overrides,
  topLevel: boolean,
): fc.Arbitrary<{ label: string; request: Json }> {
  const names = Object.keys(fields);
  const required = names.filter((k) => fields[k]?.required === true);
  const options: Array<fc.Arbitrary<{ label: string; request: Json }>> = [];
  if (names.length > 0) {
    options.push(
      fc.constantFrom(...names).chain((k) => {
        const field = fields[k] ?? QUEUE;
        return badValue(field.spec, action, ctx, o).map((v) => ({ label: `bad ${k}`, request: { ...request, [k]: v } }));
      }),
    );
  }
  if (required.length > 0) {
    options.push(
      fc.constantFrom(...required).map((k) => {
        const rest: Json = { ...request };
        delete rest[k];
        return { label: `missing ${k}`, request: rest };
      }),
    );
  }
  options.push(
    fc
      .tuple(
        fc.string({ minLength: 1, maxLength: 20 }).filter((k) => !Object.hasOwn(fields, k) && k !== 'v' && k !== '__proto__'),
        fc.anything({ maxDepth: 2 }).filter((v) => v !== undefined),
      )
      .map(([k, v]) => ({ label: `unknown field ${k}`, request: { ...request, [k]: v } })),
  );
  if (topLevel) {
    options.push(badVersion.map((v) => ({ label: 'bad version', request: { ...request, v } })));
    options.push(
      fc.constant(null).map(() => {
        const rest: Json = { ...request };
        delete rest['v'];
        return { label: 'missing version', request: rest };
      }),
    );
  }
  return fc.oneof(...options);
}

/** Receipt handles no live delivery has. */
function bogusReceipt(ctx: Context): fc.Arbitrary<string> {
  const b36 = fc.stringMatching(/^[0-9a-z]{1,11}$/);
  const options: Array<fc.Arbitrary<string>> = [
    fc.string({ minLength: 1, maxLength: 64 }),
    fc.constantFrom(
      'r1',
      'r1.',
      'r1....',
      'r1.0.0.0.0',
      'r2.1.0.0.1',
      'R1.1.0.0.1',
      'r1.zzzzzzzzzzz.zzzzzzzzzzz.zzzzzzzzzzz.zzzzzzzzzzz',
      'r1.-1.0.0.1',
      'r1.1.0.0.1.',
      ' r1.1.0.0.1',
      'r1.1.0.0.1\n',
      'r1.1.0.0.1.1',
      'r1.1e5.0.0.1',
      'r1.1.0.0.1\u0000',
    ),
    fc.tuple(b36, b36, b36, b36).map(([a, b, c, d]) => `r1.${a}.${b}.${c}.${d}`),
    // The control queue's own incarnation: well formed and routed, but it never delivered anything.
    fc.tuple(b36, b36).map(([offset, seq]) => `r1.${ctx.controlIncarnation}.0.${offset}.${seq}`),
    b36.filter((p) => parseInt(p, 36) !== 0).map((p) => `r1.${ctx.controlIncarnation}.${p}.0.1`),
  ];
  if (ctx.scratchReceipts.length > 0) {
    options.push(
      fc.tuple(fc.constantFrom(...ctx.scratchReceipts), fc.integer({ min: 0, max: 6 })).map(([r, how]) => staleVariant(r, how)),
    );
  }
  return fc.oneof(...options);
}

/** A live scratch receipt changed so that it names no live delivery. */
function staleVariant(receipt: string, how: number): string {
  const { incarnation, partition, offset, seq } = decodeReceipt(receipt);
  const make = (i: number, p: number, o: number, s: number) => `r1.${i.toString(36)}.${p.toString(36)}.${o.toString(36)}.${s.toString(36)}`;
  switch (how) {
    case 0:
      return make(incarnation + 1, partition, offset, seq);
    case 1:
      return make(incarnation, partition, offset, seq + 1000);
    case 2:
      return make(incarnation, partition, offset + 1000, seq);
    case 3:
      return make(incarnation, partition + 1, offset, seq);
    case 4:
      return receipt.toUpperCase();
    case 5:
      return `${receipt}.0`;
    default:
      return `${receipt} `;
  }
}

// ---- cases ---------------------------------------------------------------------------------------

/** What a case must get back. */
type Expect =
  /** Any well-formed reply; errors not `internal`. */
  | 'any'
  /** A client-fault error. */
  | 'error'
  /** A client-fault error, or (batches) a reply in which every entry failed. */
  | 'rejected'
  /** The `unknown_action` error. */
  | 'unknown-action';

interface Case extends WithToStringMethod {
  subject: string;
  frame: Uint8Array;
  expect: Expect;
  label: string;
  /** The id of a batch's one mutated entry, when its siblings are valid (see withBadEntry). */
  badEntry?: string;
}

function makeCase(subject: string, label: string, frame: Uint8Array, expect: Expect, shown: () => string): Case {
  return { subject, frame, expect, label, [fc.toStringMethod]: () => `${label}: ${shown()}` };
}

function requestCase(subject: string, label: string, request: unknown, expect: Expect): Case | undefined {
  let frame: Uint8Array;
  try {
    frame = encode(request);
  } catch {
    return undefined; // not encodable by msgpackr: not a frame a client could send
  }
  return makeCase(subject, label, frame, expect, () => preview(request));
}

const defined = <T>(arb: fc.Arbitrary<T | undefined>): fc.Arbitrary<T> => arb.filter((x): x is T => x !== undefined);

/** A compact rendering for counterexamples: long strings and byte arrays abbreviated. */
function preview(value: unknown, depth = 0): string {
  if (typeof value === 'string') {
    return value.length > 60 ? `${JSON.stringify(value.slice(0, 40))}…(${value.length} chars)` : JSON.stringify(value);
  }
  if (value instanceof Uint8Array) {
    const head = Buffer.from(value.subarray(0, 16)).toString('hex');
    return `bytes(${value.byteLength}:${head}${value.byteLength > 16 ? '…' : ''})`;
  }
  if (typeof value === 'number') return Object.is(value, -0) ? '-0' : String(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (value === undefined || value === null || typeof value !== 'object') return String(value);
  if (depth > 3) return '…';
  if (Array.isArray(value)) {
    const items = value.slice(0, 5).map((v) => preview(v, depth + 1));
    return `[${items.join(', ')}${value.length > 5 ? `, …(${value.length})` : ''}]`;
  }
  const entries = Object.entries(value).slice(0, 12);
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}: ${preview(v, depth + 1)}`).join(', ')}}`;
}

interface Family {
  name: string;
  runs: number;
  arb: fc.Arbitrary<Case>;
}

/** Whether a request of a generic family could do something the test must not allow (touch the control or scratch queue, create a queue). */
function harmless(action: Action, request: unknown): boolean {
  if (typeof request !== 'object' || request === null) return true;
  const queue = (request as Json)['queue'];
  if (queue === CONTROL || queue === SCRATCH) return false;
  // A move task could empty the control or scratch queue.
  for (const field of ['sourceQueue', 'destinationQueue']) if ([CONTROL, SCRATCH].includes((request as Json)[field] as string)) return false;
  if (action === 'CreateQueue' && isQueueName(queue)) return false;
  return true;
}

function familiesOf(action: Action, subject: string, ctx: Context): Family[] {
  const fields: Fields = FIELDS[action];
  const base = baseRequest(action, ctx);
  const invalid = (b: fc.Arbitrary<Json>, o: Overrides = {}) =>
    defined(
      b
        .chain((r) => mutate(fields, r, action, ctx, o, true))
        .map(({ label, request }) => {
          const c = requestCase(subject, label, request, 'error');
          const badEntry = badEntryOf(request);
          return c === undefined || badEntry === undefined ? c : { ...c, badEntry };
        }),
    );
  const families: Family[] = [
    {
      name: 'random bytes',
      runs: 40,
      arb: fc.uint8Array({ maxLength: 512 }).map((frame) => makeCase(subject, 'bytes', frame, 'any', () => preview(frame))),
    },
    {
      name: 'random values',
      runs: 40,
      arb: defined(
        fc
          .anything({ maxDepth: 3, withTypedArray: true, withNullPrototype: true, withDate: true })
          .filter((v) => harmless(action, v))
          .map((v) => requestCase(subject, 'value', v, 'any')),
      ),
    },
    {
      name: 'right field names, random values',
      runs: 40,
      arb: defined(
        fc
          .record(Object.fromEntries(Object.keys(fields).map((k) => [k, fc.anything({ maxDepth: 2, withTypedArray: true })])), { requiredKeys: [] })
          .map((r): Json => ({ v: PROTOCOL_VERSION, ...r }))
          .filter((r) => harmless(action, r))
          .map((r) => requestCase(subject, 'shaped', r, 'any')),
      ),
    },
    // A send batch's valid entries may be stored beside a failed one: they go to the sink, never to the control or scratch queue.
    { name: 'mutated valid requests', runs: 150, arb: invalid(action === 'SendMessageBatch' ? baseRequest(action, ctx, { queue: fc.constantFrom(SINK, MISSING) }) : base) },
    {
      name: 'truncated frames',
      runs: 30,
      arb: base.chain((r) => {
        const full = encode(r);
        return fc.integer({ min: 0, max: full.byteLength - 1 }).map((k) =>
          makeCase(subject, `truncated at ${k} of ${full.byteLength}`, full.slice(0, k), 'error', () => preview(r)),
        );
      }),
    },
    {
      name: 'prototype-named fields',
      runs: 15,
      arb: defined(
        fc
          .tuple(base, fc.constantFrom(...PROTO_KEYS), fc.oneof(fc.integer(), fc.string({ maxLength: 8 }), fc.constant(null)))
          .map(([r, k, x]) => requestCase(subject, `unknown field ${k}`, { ...r, [k]: x }, 'error')),
      ),
    },
    {
      name: 'version maps with prototype-named keys',
      runs: 15,
      arb: defined(
        fc
          .tuple(base, fc.subarray(['toString', 'valueOf', 'constructor', 'hasOwnProperty'], { minLength: 1 }), fc.oneof(fc.integer(), fc.string({ maxLength: 4 }), fc.constant(null)))
          .map(([r, keys, x]) =>
            requestCase(subject, `v: {${keys.join(', ')}}`, { ...r, v: Object.fromEntries(keys.map((k) => [k, x])) }, 'error'),
          ),
      ),
    },
  ];

  if (action === 'CreateQueue' || action === 'SetQueueAttributes') {
    const queue = action === 'CreateQueue' ? fc.constantFrom(...FZ_NAMES) : fc.constantFrom(SCRATCH, MISSING);
    // Two groups, so that a finding in one does not hide one in the other: names the schema's
    // record drops, and names of members every object inherits.
    const groups: Array<[string, string[]]> = [
      ['queue attributes named constructor or prototype', ['constructor', 'prototype']],
      ['queue attributes named after inherited Object.prototype members', PROTO_KEYS.filter((k) => k !== 'constructor' && k !== 'prototype')],
    ];
    for (const [name, keys] of groups) {
      families.push({
        name,
        runs: 10,
        arb: defined(
          fc
            .tuple(baseRequest(action, ctx, { queue }), fc.constantFrom(...keys), fc.integer({ min: 0, max: 100 }))
            .map(([r, k, n]) => requestCase(subject, `attribute ${k}`, { ...r, attributes: { [k]: n } }, 'error')),
        ),
      });
    }
  }

  if (RECEIPT_ACTIONS.has(action)) {
    const expect: Expect = isBatch(action) ? 'rejected' : 'error';
    const wrongQueue = baseRequest(action, ctx, {
      queue: fc.constantFrom(CONTROL, MISSING),
      receipt: fc.constantFrom(...ctx.scratchReceipts),
    });
    families.push({
      name: 'bogus receipt handles',
      runs: 60,
      arb: defined(fc.oneof(base, wrongQueue).map((r) => requestCase(subject, 'bogus receipts', r, expect))),
    });
    const live: Overrides = { queue: fc.constant(SCRATCH), receipt: fc.constantFrom(...ctx.scratchReceipts) };
    families.push({ name: 'live receipt handles in invalid requests', runs: 30, arb: invalid(baseRequest(action, ctx, live), live) });
  }

  if (action === 'SendMessage' || action === 'SendMessageBatch') {
    const big = fc.integer({ min: DEFAULT_MAX_MESSAGE + 1, max: 2 * 1024 * 1024 }).map((n) => new Uint8Array(n).fill(0x61));
    const queue = fc.constantFrom(CONTROL, SCRATCH);
    // Within the limit by body, over it by the attributes that count toward it.
    const overByAttributes = fc.integer({ min: 1, max: 1000 }).map((extra) => ({
      body: new Uint8Array(DEFAULT_MAX_MESSAGE - 100),
      attributes: { pad: { type: 'string', value: 'p'.repeat(100 + extra) } } satisfies MessageAttributes,
    }));
    const message = fc.oneof(
      big.map((body) => ({ body })),
      overByAttributes,
    );
    families.push({
      name: 'oversized messages',
      runs: 8,
      arb:
        action === 'SendMessage'
          ? defined(fc.tuple(queue, message).map(([q, m]) => requestCase(subject, 'oversized', { v: PROTOCOL_VERSION, queue: q, ...m }, 'error')))
          : defined(
              fc
                .tuple(queue, fc.array(message, { minLength: 1, maxLength: 3 }))
                .map(([q, ms]) =>
                  requestCase(subject, 'oversized', { v: PROTOCOL_VERSION, queue: q, entries: ms.map((m, i) => ({ id: `o${i}`, ...m })) }, 'rejected'),
                ),
            ),
    });
  }
  return families;
}

// ---- replies -------------------------------------------------------------------------------------

type Outcome = { ok: true; body: unknown } | { ok: false; code: string; message: string };

const isRecord = (x: unknown): x is Json => typeof x === 'object' && x !== null && !Array.isArray(x) && !(x instanceof Uint8Array);

/** Checks that a reply frame is a well-formed envelope, the way decodeReply reads it, and returns what it says. */
function readEnvelope(data: Uint8Array): Outcome {
  let value: unknown;
  try {
    value = decode(data);
  } catch {
    throw new Error('reply is not MessagePack');
  }
  if (!isRecord(value) || value['v'] !== PROTOCOL_VERSION) throw new Error(`reply is not a v1 envelope: ${preview(value)}`);
  const keys = Object.keys(value).sort().join(',');
  if (value['ok'] === true) {
    if (keys !== 'body,ok,v') throw new Error(`ok envelope with keys ${keys}`);
    decodeReply(data);
    return { ok: true, body: value['body'] };
  }
  if (value['ok'] !== false || keys !== 'error,ok,v') throw new Error(`malformed envelope: ${preview(value)}`);
  const error = value['error'];
  if (!isRecord(error) || typeof error['code'] !== 'string' || typeof error['message'] !== 'string') {
    throw new Error(`malformed error: ${preview(error)}`);
  }
  if (!CODES.has(error['code'])) throw new Error(`error code not in ErrorCode: ${error['code']}`);
  if (Object.keys(error).some((k) => k !== 'code' && k !== 'message' && k !== 'leader')) throw new Error(`error with extra keys: ${preview(error)}`);
  try {
    decodeReply(data);
  } catch (err) {
    if (!isWharfError(err) || err.code !== error['code']) throw new Error(`decodeReply disagrees with the envelope: ${String(err)}`);
    return { ok: false, code: error['code'], message: error['message'] };
  }
  throw new Error('decodeReply returned for an error envelope');
}

/** Entry failures of a batch reply, checked; returns how many entries succeeded. */
function batchOutcome(body: unknown): number | undefined {
  if (!isRecord(body) || !Array.isArray(body['successful']) || !Array.isArray(body['failed'])) return undefined;
  for (const f of body['failed']) {
    if (!isRecord(f) || typeof f['code'] !== 'string' || !CODES.has(f['code'])) throw new Error(`malformed batch entry failure: ${preview(f)}`);
    if (f['code'] === ErrorCode.Internal) throw new Error(`internal (batch entry): ${String(f['message'])}`);
  }
  return body['successful'].length;
}

/** Whether a batch reply lists the entry among its failures and not among its successes. */
function entryFailed(body: unknown, id: string): boolean {
  if (!isRecord(body) || !Array.isArray(body['successful']) || !Array.isArray(body['failed'])) return false;
  const named = (list: unknown[]) => list.some((e) => isRecord(e) && e['id'] === id);
  return named(body['failed']) && !named(body['successful']);
}

/** Sends one case and throws (a short, stable problem statement) when the reply breaks the rules. */
async function probe(nc: NatsConnection, c: Case, stats: Map<string, number>): Promise<void> {
  let data: Uint8Array;
  try {
    data = (await nc.request(c.subject, c.frame, { timeout: REQUEST_TIMEOUT_MS })).data;
  } catch (err) {
    throw new Error(`no reply: ${err instanceof Error ? err.message : String(err)}`);
  }
  const outcome = readEnvelope(data);
  const key = outcome.ok ? 'ok' : outcome.code;
  stats.set(key, (stats.get(key) ?? 0) + 1);
  if (!outcome.ok) {
    if (outcome.code === ErrorCode.Internal) throw new Error(`internal: ${outcome.message}`);
    if (c.expect === 'unknown-action' && outcome.code !== ErrorCode.UnknownAction) throw new Error(`${outcome.code} for an unknown action`);
    if (c.expect !== 'any' && !CLIENT_FAULT.has(outcome.code)) throw new Error(`${outcome.code} for bad input`);
    return;
  }
  const succeeded = batchOutcome(outcome.body);
  if (c.expect === 'any') return;
  if (c.expect === 'rejected' && succeeded === 0) return;
  if (c.badEntry !== undefined && entryFailed(outcome.body, c.badEntry)) return;
  throw new Error(`invalid request accepted (${c.label}): ${preview(outcome.body)}`);
}

interface Finding {
  action: string;
  family: string;
  problem: string;
  counterexample: string;
}

async function runFamily(
  nc: NatsConnection,
  action: string,
  family: Family,
  seed: number,
  stats: Map<string, number>,
): Promise<Finding | undefined> {
  try {
    await fc.assert(
      fc.asyncProperty(family.arb, async (c) => {
        await probe(nc, c, stats);
      }),
      { numRuns: family.runs, seed, plugins: [fc.interruptAfterTimeLimit(FAMILY_TIME_LIMIT_MS)] },
    );
    return undefined;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const problem = err instanceof Error && err.cause instanceof Error ? err.cause.message : message.split('\n')[0] ?? message;
    const counterexample = /Counterexample: (.*)/.exec(message)?.[1] ?? '';
    return { action, family: family.name, problem: problem.slice(0, 300), counterexample: counterexample.slice(0, 600) };
  }
}

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString('utf8');

/** Attributes with byte values as plain Uint8Arrays, so they compare equal whatever array class decoding made. */
function plain(attributes: MessageAttributes): MessageAttributes {
  return Object.fromEntries(
    Object.entries(attributes).map(([name, a]) => [name, a.type === 'binary' ? { type: 'binary', value: new Uint8Array(a.value) } : a]),
  );
}

/** Receives until a receive comes back empty; bounded. */
async function receiveAll(client: WharfClient, queue: string, visibilityTimeout: number): Promise<ReceivedMessage[]> {
  const out: ReceivedMessage[] = [];
  for (let i = 0; i < 50; i++) {
    const got = await client.receive(queue, { maxMessages: 100, visibilityTimeout, waitTimeSeconds: 0 });
    if (got.length === 0) break;
    out.push(...got);
  }
  return out;
}

// ---- the fuzz test -------------------------------------------------------------------------------

test('every API subject answers bad input with one well-formed client error, and the node keeps its data', async (t) => {
  t.timeout(110_000);
  const started = performance.now();
  const seed = Number(process.env['FUZZ_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
  t.log(`seed ${seed} (FUZZ_SEED=${seed} replays it)`);

  const nats = await startNats(t);
  const dataDir = await tempDir(t, 'wharf-data-');
  const cluster = `f${randomBytes(4).toString('hex')}`;
  const errorLogs: string[] = [];
  const node = await startNodeProcess(t, {
    cluster,
    natsUrl: nats.url,
    dataDir,
    onStdoutLine: (line) => {
      try {
        const parsed: unknown = JSON.parse(line);
        if (isRecord(parsed) && typeof parsed['level'] === 'number' && parsed['level'] >= 50) errorLogs.push(line.slice(0, 500));
      } catch {
        errorLogs.push(`not JSON: ${line.slice(0, 200)}`);
      }
    },
  });
  const client = await WharfClient.connect({ servers: nats.url, cluster, maxAttempts: 1 });
  t.teardown(() => client.close());
  const nc = await connect({ servers: nats.url, name: 'wharf-fuzz' });
  t.teardown(() => nc.close());

  // The control queue: 100 known messages that must come through untouched.
  await client.createQueue(CONTROL);
  const expected = Array.from({ length: CONTROL_MESSAGES }, (_, i) => ({
    body: `control-${i}-${randomBytes(6).toString('hex')}`,
    attributes: {
      index: { type: 'number', value: String(i) },
      tag: { type: 'binary', value: Uint8Array.from([i, 255 - i]) },
    } satisfies MessageAttributes,
  }));
  for (let i = 0; i < CONTROL_MESSAGES; i += 50) {
    const reply = await client.sendMessageBatch(
      CONTROL,
      expected.slice(i, i + 50).map((m, j) => ({ id: `c${i + j}`, body: Buffer.from(m.body), attributes: m.attributes })),
    );
    t.is(reply.successful.length, Math.min(50, CONTROL_MESSAGES - i));
  }
  const control = await client.getQueueAttributes(CONTROL);

  await client.createQueue(SINK);
  // The scratch queue: live receipt handles (leased for 12 hours) to mutate and to check afterwards.
  await client.createQueue(SCRATCH);
  await client.sendMessageBatch(SCRATCH, Array.from({ length: 10 }, (_, i) => ({ id: `s${i}`, body: Buffer.from(`scratch-${i}`) })));
  const leased = await client.receive(SCRATCH, { maxMessages: 5, visibilityTimeout: LIMITS.maxVisibilityTimeout });
  t.is(leased.length, 5);
  const ctx: Context = { controlIncarnation: control.createdAt.toString(36), scratchReceipts: leased.map((m) => m.receiptHandle) };

  // Every action's families run one after the other; the actions run side by side.
  const findings: Finding[] = [];
  const stats = new Map<string, Map<string, number>>();
  const statsOf = (name: string) => {
    let s = stats.get(name);
    if (!s) stats.set(name, (s = new Map()));
    return s;
  };
  const apiSubject = (token: string) => `${ROOT}.${cluster}.api.${ANONYMOUS}.${token}`;
  let familySeed = seed;
  const runs = ACTIONS.map(async (action) => {
    for (const family of familiesOf(action, apiSubject(action), ctx)) {
      const finding = await runFamily(nc, action, family, familySeed++, statsOf(action));
      if (finding) findings.push(finding);
    }
  });
  const unknownToken = fc
    .oneof(
      fc.stringMatching(/^[A-Za-z0-9_-]{1,40}$/),
      fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'prototype', 'CreateQueue2', 'Send_Message', 'ÄÖÜ', '日本語'),
      fc.constantFrom(...ACTIONS).map((a) => a.toLowerCase()),
    )
    .filter((s) => !(ALL_ACTIONS as readonly string[]).includes(s));
  runs.push(
    (async () => {
      const family: Family = {
        name: 'unknown actions',
        runs: 200,
        arb: fc
          .tuple(unknownToken, fc.uint8Array({ maxLength: 64 }))
          .map(([token, frame]) => makeCase(apiSubject(token), `action ${JSON.stringify(token)}`, frame, 'unknown-action', () => preview(frame))),
      };
      const finding = await runFamily(nc, 'unknown', family, familySeed++, statsOf('unknown'));
      if (finding) findings.push(finding);
    })(),
  );
  await Promise.all(runs);
  const fuzzMs = Math.round(performance.now() - started);
  const total = [...stats.values()].reduce((sum, s) => sum + [...s.values()].reduce((a, b) => a + b, 0), 0);
  t.log(`${total} fuzzed requests in ${fuzzMs} ms`);
  for (const [action, s] of stats) {
    t.log(`${action}: ${[...s].sort((a, b) => b[1] - a[1]).map(([code, n]) => `${code} ${n}`).join(', ')}`);
  }

  // Findings, grouped by problem.
  const byProblem = new Map<string, Finding[]>();
  for (const f of findings) {
    const key = (f.problem.startsWith('internal') ? f.problem : f.problem.replace(/ \(.*?\)/, '').replace(/: .*$/, '')).slice(0, 100);
    byProblem.set(key, [...(byProblem.get(key) ?? []), f]);
  }
  for (const [problem, fs] of byProblem) {
    t.log(`FINDING ${problem}: ${fs.map((f) => `${f.action} / ${f.family}`).join('; ')}`);
    for (const f of fs.slice(0, 3)) t.log(`  ${f.action} / ${f.family}: ${f.problem}\n    counterexample: ${f.counterexample}`);
  }

  // The node survived and still serves.
  t.true(node.running, `the node process is alive (pid ${node.pid})`);
  await client.createQueue(AFTER);
  await client.sendMessage(AFTER, 'still here');
  const [after] = await client.receive(AFTER);
  t.is(after === undefined ? undefined : text(after.body), 'still here', 'a new queue works after the fuzzing');

  // The control queue holds exactly its 100 messages, intact.
  const { counts } = await client.getQueueAttributes(CONTROL);
  t.like(
    counts,
    { approximateNumberOfMessages: CONTROL_MESSAGES, approximateNumberOfMessagesNotVisible: 0, approximateNumberOfMessagesDelayed: 0, approximateNumberOfMessagesDeadLettered: 0 },
    'control queue counts',
  );
  const received = await receiveAll(client, CONTROL, 30);
  const got = received
    .map((m) => ({ body: text(m.body), attributes: plain(m.attributes) }))
    .sort((a, b) => a.body.localeCompare(b.body));
  const want = expected.map((m) => ({ body: m.body, attributes: plain(m.attributes) })).sort((a, b) => a.body.localeCompare(b.body));
  t.is(received.length, CONTROL_MESSAGES, 'the control queue delivered exactly its messages');
  t.deepEqual(got, want, 'control messages are intact (bodies and attributes)');

  // The scratch queue's leases were not touched by any fuzzed request.
  for (const m of leased) {
    await t.notThrowsAsync(client.changeMessageVisibility(SCRATCH, m.receiptHandle, LIMITS.maxVisibilityTimeout), `lease of ${text(m.body)} is live`);
  }
  const scratch = await client.getQueueAttributes(SCRATCH);
  t.like(
    scratch.counts,
    { approximateNumberOfMessages: 5, approximateNumberOfMessagesNotVisible: 5, approximateNumberOfMessagesDelayed: 0, approximateNumberOfMessagesDeadLettered: 0 },
    'scratch queue counts',
  );

  t.true(node.running, 'the node process is still alive');
  t.log(`${errorLogs.length} error log lines from the node${errorLogs.length > 0 ? `, e.g. ${errorLogs.slice(0, 2).join(' | ')}` : ''}`);

  // Last, what the fuzzing found: queues it created, and requests answered against the rules.
  const { queues } = await client.listQueues();
  const garbage = queues.filter((q) => ![CONTROL, SCRATCH, SINK, AFTER].includes(q));
  if (garbage.length > 0) {
    const described = await Promise.all(garbage.map(async (q) => `${q} ${preview((await client.getQueueAttributes(q)).attributes)}`));
    t.log(`FINDING queues created by fuzzed CreateQueue requests: ${described.join('; ')}`);
  }

  t.log(`total ${Math.round(performance.now() - started)} ms`);
  t.deepEqual(garbage, [], 'no queue was created by a fuzzed request');
  t.deepEqual(
    findings.map((f) => `${f.action} / ${f.family}: ${f.problem}`),
    [],
    'every bad request got a well-formed client-fault reply',
  );
});

// ---- the findings, one deterministic test each ---------------------------------------------------

async function rawRequest(nc: NatsConnection, cluster: string, action: string, request: unknown): Promise<Outcome> {
  const msg = await nc.request(`${ROOT}.${cluster}.api.${ANONYMOUS}.${action}`, encode(request), { timeout: REQUEST_TIMEOUT_MS });
  return readEnvelope(msg.data);
}

async function rawConnection(t: ExecutionContext, url: string): Promise<NatsConnection> {
  const nc = await connect({ servers: url });
  t.teardown(() => nc.close());
  return nc;
}

test('a protocol version sent as a map with a non-callable toString is answered unsupported_version, not internal', async (t) => {
  const { nats, cluster } = await startWharf(t);
  const nc = await rawConnection(t, nats.url);
  for (const v of [{ toString: 1 }, { toString: 'x', valueOf: 2 }, { toString: null }]) {
    const outcome = await rawRequest(nc, cluster, 'ListQueues', { v });
    t.deepEqual(outcome.ok ? 'ok' : outcome.code, ErrorCode.UnsupportedVersion, `v: ${preview(v)} → ${outcome.ok ? 'ok' : outcome.message}`);
  }
});

const rejectsAttribute = (o: Outcome) => !o.ok && (o.code === ErrorCode.InvalidAttribute || o.code === ErrorCode.InvalidParameter);

test('queue attributes named after Object.prototype members are rejected, not stored or ignored', async (t) => {
  const { nats, cluster, client } = await startWharf(t);
  const nc = await rawConnection(t, nats.url);
  await client.createQueue('existing');
  for (const [i, name] of ['toString', 'valueOf', 'hasOwnProperty', 'isPrototypeOf', 'constructor', 'prototype'].entries()) {
    const created = await rawRequest(nc, cluster, 'CreateQueue', { v: 1, queue: `proto-${i}`, attributes: { [name]: 5 } });
    t.true(rejectsAttribute(created), `CreateQueue with attribute ${name}: ${created.ok ? `accepted ${preview(created.body)}` : created.code}`);
    const set = await rawRequest(nc, cluster, 'SetQueueAttributes', { v: 1, queue: 'existing', attributes: { [name]: 5 } });
    t.true(rejectsAttribute(set), `SetQueueAttributes with attribute ${name}: ${set.ok ? `accepted ${preview(set.body)}` : set.code}`);
  }
  const { attributes } = await client.getQueueAttributes('existing');
  t.deepEqual(Object.keys(attributes).sort(), Object.keys({ ...SETTABLE, ...CREATION, ...CHOICES, ...BOOLEANS }).sort(), 'the queue has only its real attributes');
});

test('message attributes named constructor or prototype are delivered or rejected, never silently dropped', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('orders');
  const attributes: MessageAttributes = Object.fromEntries(
    ['constructor', 'prototype', 'toString'].map((name, i) => [name, { type: 'string', value: String(i) } satisfies AttributeValue]),
  );
  try {
    await client.sendMessage('orders', 'body', { attributes });
  } catch (err) {
    t.true(err instanceof WharfError && CLIENT_FAULT.has(err.code), `rejected with a client fault: ${String(err)}`);
    return;
  }
  const [message] = await client.receive('orders');
  t.deepEqual(Object.keys(message?.attributes ?? {}).sort(), Object.keys(attributes).sort(), 'every attribute arrived');
});
