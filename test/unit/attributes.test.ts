/**
 * Queue attributes (src/protocol/attributes.ts): defaults, ranges, settable vs creation-only.
 */
import test from 'ava';
import { ErrorCode, WharfError } from '../../src/errors.ts';
import {
  CREATION,
  creationAttributes,
  DEFAULT_ATTRIBUTES,
  sameAttributes,
  SETTABLE,
  updatedAttributes,
} from '../../src/protocol/attributes.ts';
import type { QueueAttributes } from '../../src/protocol/messages.ts';

function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    return err instanceof WharfError ? err.code : `not a WharfError: ${String(err)}`;
  }
  return 'no error';
}

test('defaults are SQS-like and frozen', (t) => {
  t.deepEqual({ ...DEFAULT_ATTRIBUTES }, {
    visibilityTimeout: 30,
    retentionPeriod: 345_600,
    maximumMessageSize: 262_144,
    delaySeconds: 0,
    maxRequestsPerSecond: 0,
    maxBytesPerSecond: 0,
    maxStoredBytes: 0,
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
    mode: 'queue',
  });
  t.true(Object.isFrozen(DEFAULT_ATTRIBUTES));
  for (const [name, range] of Object.entries({ ...SETTABLE, ...CREATION })) {
    t.true(range.min <= range.default && range.default <= range.max, name);
  }
});

test('creationAttributes fills defaults and checks the given ones', (t) => {
  t.deepEqual(creationAttributes(undefined), { ...DEFAULT_ATTRIBUTES });
  t.deepEqual(creationAttributes({}), { ...DEFAULT_ATTRIBUTES });
  t.deepEqual(creationAttributes({ partitions: 8, visibilityTimeout: 0, delaySeconds: undefined }), {
    ...DEFAULT_ATTRIBUTES,
    partitions: 8,
    visibilityTimeout: 0,
  });
  // Returns a fresh object: the defaults are never shared.
  const a = creationAttributes({});
  t.not(a, DEFAULT_ATTRIBUTES);
});

test('every range bound is accepted and every value beyond it is invalid_attribute', (t) => {
  for (const [name, range] of Object.entries({ ...SETTABLE, ...CREATION })) {
    // A size limit is a stream's: its range is checked on a stream. A delay must stay below the
    // retention: the longest delay needs the longest retention.
    const mode = name === 'retentionBytes' ? { mode: 'stream' } : name === 'delaySeconds' ? { retentionPeriod: SETTABLE.retentionPeriod.max } : {};
    t.is(creationAttributes({ ...mode, [name]: range.min })[name as keyof QueueAttributes], range.min);
    t.is(creationAttributes({ ...mode, [name]: range.max })[name as keyof QueueAttributes], range.max);
    for (const bad of [range.min - 1, range.max + 1, range.min + 0.5, NaN, Infinity, `${range.min}`, null, true, [range.min]]) {
      t.is(codeOf(() => creationAttributes({ ...mode, [name]: bad })), ErrorCode.InvalidAttribute, `${name} = ${String(bad)}`);
    }
  }
  const err = t.throws(() => creationAttributes({ retentionPeriod: 59 }), { instanceOf: WharfError });
  t.regex(err?.message ?? '', /retentionPeriod.*60.*1209600.*59/);
});

test('unknown attribute names are invalid_attribute', (t) => {
  for (const name of ['visibility', 'VisibilityTimeout', 'fifo', '', 'approximateNumberOfMessages']) {
    t.is(codeOf(() => creationAttributes({ [name]: 1 })), ErrorCode.InvalidAttribute, name);
    t.is(codeOf(() => updatedAttributes(DEFAULT_ATTRIBUTES, { [name]: 1 })), ErrorCode.InvalidAttribute, name);
  }
});

test('names inherited from Object.prototype are not attributes', (t) => {
  // `ranges[name]` finds Object.prototype.toString for 'toString': a function, not undefined, and
  // `5 < undefined` is false, so the value passes as if it were in range.
  for (const name of ['toString', 'valueOf', 'hasOwnProperty', 'constructor', 'isPrototypeOf', '__proto__']) {
    t.is(codeOf(() => creationAttributes({ [name]: 5 })), ErrorCode.InvalidAttribute, `creation: ${name}`);
    t.is(codeOf(() => updatedAttributes(DEFAULT_ATTRIBUTES, { [name]: 5 })), ErrorCode.InvalidAttribute, `update: ${name}`);
  }
});

test('updatedAttributes changes settable attributes only', (t) => {
  const current = creationAttributes({ partitions: 4 });
  const next = updatedAttributes(current, { visibilityTimeout: 60, receiveWaitTime: 20, delaySeconds: undefined });
  t.deepEqual(next, { ...current, visibilityTimeout: 60, receiveWaitTime: 20 });
  t.is(current.visibilityTimeout, 30, 'the current attributes are not modified');
  const err = t.throws(() => updatedAttributes(current, { partitions: 8 }), { instanceOf: WharfError });
  t.is(err?.code, ErrorCode.InvalidAttribute);
  t.regex(err?.message ?? '', /partitions/);
  t.is(codeOf(() => updatedAttributes(current, { maximumMessageSize: 1023 })), ErrorCode.InvalidAttribute);
});

test('sameAttributes compares every attribute', (t) => {
  const a = creationAttributes({});
  t.true(sameAttributes(a, creationAttributes({})));
  for (const [name, range] of Object.entries({ ...SETTABLE, ...CREATION })) {
    const b = { ...a, [name]: range.default === range.max ? range.min : range.max };
    t.false(sameAttributes(a, b), name);
  }
  t.false(sameAttributes(a, { ...a, replication: 'async' }), 'replication');
});

test('FIFO attributes: booleans are true or false, fifo only at creation, scope messageGroup only on FIFO queues, scope queue needs one partition', (t) => {
  const fifo = creationAttributes({ fifo: true, contentBasedDeduplication: true, deduplicationWindow: 604_800 });
  t.true(fifo.fifo);
  t.true(fifo.contentBasedDeduplication);
  t.is(fifo.deduplicationScope, 'queue');
  t.is(codeOf(() => creationAttributes({ fifo: 'yes' })), ErrorCode.InvalidAttribute);
  t.is(codeOf(() => creationAttributes({ contentBasedDeduplication: 1 })), ErrorCode.InvalidAttribute);
  t.is(codeOf(() => creationAttributes({ deduplicationWindow: 59 })), ErrorCode.InvalidAttribute);
  t.is(codeOf(() => creationAttributes({ deduplicationWindow: 604_801 })), ErrorCode.InvalidAttribute);
  t.is(codeOf(() => creationAttributes({ deduplicationScope: 'messageGroup' })), ErrorCode.InvalidAttribute, 'messageGroup on a standard queue');
  t.is(codeOf(() => creationAttributes({ fifo: true, partitions: 4 })), ErrorCode.InvalidAttribute, 'scope queue with 4 partitions');
  t.is(creationAttributes({ fifo: true, partitions: 4, deduplicationScope: 'messageGroup' }).partitions, 4);
  t.is(codeOf(() => updatedAttributes(fifo, { fifo: false })), ErrorCode.InvalidAttribute, 'fifo is fixed at creation');
  t.false(updatedAttributes(fifo, { contentBasedDeduplication: false }).contentBasedDeduplication);
  const partitioned = creationAttributes({ fifo: true, partitions: 4, deduplicationScope: 'messageGroup' });
  t.is(codeOf(() => updatedAttributes(partitioned, { deduplicationScope: 'queue' })), ErrorCode.InvalidAttribute);
  t.false(sameAttributes(fifo, creationAttributes({ contentBasedDeduplication: true, deduplicationWindow: 604_800 })));
});

test('mode is fixed at creation; a stream has no delay, and only a stream has a size limit', (t) => {
  const stream = creationAttributes({ mode: 'stream', retentionBytes: 1024 });
  t.is(stream.mode, 'stream');
  t.is(codeOf(() => creationAttributes({ mode: 'log' })), ErrorCode.InvalidAttribute);
  t.is(codeOf(() => updatedAttributes(stream, { mode: 'queue' })), ErrorCode.InvalidAttribute);
  t.is(updatedAttributes(stream, { retentionBytes: 0 }).retentionBytes, 0);
  t.is(codeOf(() => updatedAttributes(stream, { delaySeconds: 5 })), ErrorCode.InvalidAttribute);
  t.is(codeOf(() => creationAttributes({ mode: 'stream', delaySeconds: 1 })), ErrorCode.InvalidAttribute);
  t.is(codeOf(() => creationAttributes({ retentionBytes: 1 })), ErrorCode.InvalidAttribute);
  t.false(sameAttributes(stream, { ...stream, mode: 'queue' }));
  t.is(codeOf(() => creationAttributes({ mode: 'stream', fifo: true })), ErrorCode.InvalidAttribute, 'a stream is not FIFO');
});

test('time-window ordering is for standard queues: refused with a FIFO queue or a stream, at creation and by an update', (t) => {
  t.is(codeOf(() => creationAttributes({ fifo: true, ordering: 'timeWindow' })), ErrorCode.InvalidAttribute);
  t.is(codeOf(() => creationAttributes({ mode: 'stream', ordering: 'timeWindow' })), ErrorCode.InvalidAttribute);
  t.is(codeOf(() => updatedAttributes(creationAttributes({ fifo: true }), { ordering: 'timeWindow' })), ErrorCode.InvalidAttribute);
  t.is(codeOf(() => updatedAttributes(creationAttributes({ mode: 'stream' }), { ordering: 'timeWindow' })), ErrorCode.InvalidAttribute);
  t.is(updatedAttributes(DEFAULT_ATTRIBUTES, { ordering: 'timeWindow' }).ordering, 'timeWindow');
});
