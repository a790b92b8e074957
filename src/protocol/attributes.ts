/**
 * Queue attributes: defaults, ranges and validation. SQS's names and ranges, in seconds.
 */
import { ErrorCode, WharfError } from '../errors.ts';
import { isQueueName } from '../names.ts';
import type { AutoScaling, CreationAttributes, OptionalAttribute, QueueAttributes, RedriveAllowPolicy, RedrivePolicy, SettableAttributes } from './messages.ts';

interface Range {
  min: number;
  max: number;
  default: number;
}

/** Attributes with a few named values. */
export const CHOICES = {
  replication: { values: ['sync', 'async'], default: 'sync' },
  ordering: { values: ['arrival', 'timeWindow'], default: 'arrival' },
  deduplicationScope: { values: ['queue', 'messageGroup'], default: 'queue' },
  mode: { values: ['queue', 'stream'], default: 'queue' },
} as const satisfies Record<string, { values: readonly string[]; default: string }>;

/**
 * Optional attributes of any shape (booleans, objects, …): absent unless set, so a queue stores only
 * what it uses. Each has a check that returns the value as stored or throws `invalid_attribute`;
 * `null` removes one (SetQueueAttributes).
 */
interface Shaped<T> {
  check(name: string, value: unknown): T;
}

const MAX_SOURCE_QUEUES = 10;

function invalid(name: string, expected: string, value: unknown): never {
  throw new WharfError(ErrorCode.InvalidAttribute, `attribute ${name} must be ${expected}, got ${JSON.stringify(value)?.slice(0, 100) ?? String(value)}`);
}

const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const onlyKeys = (x: Record<string, unknown>, allowed: readonly string[]) => Object.keys(x).every((k) => allowed.includes(k));

export const SHAPED: { [K in OptionalAttribute]: Shaped<NonNullable<SettableAttributes[K]>> } = {
  redrivePolicy: {
    check(name, value): RedrivePolicy {
      const expected = '{ deadLetterQueue: <queue name>, maxReceiveCount: 1-1000 }';
      if (!isRecord(value) || !onlyKeys(value, ['deadLetterQueue', 'maxReceiveCount'])) invalid(name, expected, value);
      const { deadLetterQueue, maxReceiveCount } = value;
      if (typeof deadLetterQueue !== 'string' || !isQueueName(deadLetterQueue)) invalid(name, expected, value);
      if (typeof maxReceiveCount !== 'number' || !Number.isInteger(maxReceiveCount) || maxReceiveCount < 1 || maxReceiveCount > 1000) invalid(name, expected, value);
      return { deadLetterQueue, maxReceiveCount };
    },
  },
  redriveAllowPolicy: {
    check(name, value): RedriveAllowPolicy {
      const expected = `{ redrivePermission: allowAll | denyAll | byQueue, sourceQueues?: 1-${MAX_SOURCE_QUEUES} queue names (byQueue only) }`;
      if (!isRecord(value) || !onlyKeys(value, ['redrivePermission', 'sourceQueues'])) invalid(name, expected, value);
      const { redrivePermission, sourceQueues } = value;
      if (redrivePermission === 'byQueue') {
        if (!Array.isArray(sourceQueues) || sourceQueues.length < 1 || sourceQueues.length > MAX_SOURCE_QUEUES) invalid(name, expected, value);
        if (!sourceQueues.every((q): q is string => typeof q === 'string' && isQueueName(q))) invalid(name, expected, value);
        return { redrivePermission, sourceQueues: [...sourceQueues] };
      }
      if ((redrivePermission !== 'allowAll' && redrivePermission !== 'denyAll') || sourceQueues !== undefined) invalid(name, expected, value);
      return { redrivePermission };
    },
  },
  deadLetterOnExpiry: {
    check: (name, value) => (typeof value === 'boolean' ? value : invalid(name, 'true or false', value)),
  },
  maxLength: {
    check: (name, value) =>
      typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 100_000_000 ? value : invalid(name, 'an integer from 1 to 100000000', value),
  },
  overflowPolicy: {
    check: (name, value) =>
      value === 'reject' || value === 'drop-oldest' || value === 'dead-letter' ? value : invalid(name, 'one of reject, drop-oldest, dead-letter', value),
  },
  autoScaling: {
    check(name, value): AutoScaling {
      const fields = Object.keys(AUTO_SCALING) as Array<keyof AutoScaling>;
      const expected = `an object of ${fields.join(', ')} (each optional)`;
      if (!isRecord(value) || !onlyKeys(value, fields)) invalid(name, expected, value);
      const out = {} as AutoScaling;
      for (const field of fields) {
        const range = AUTO_SCALING[field];
        const given = value[field] ?? range.default;
        if (typeof given !== 'number' || !Number.isInteger(given) || given < range.min || given > range.max) {
          invalid(`${name}.${field}`, `an integer from ${range.min} to ${range.max}`, given);
        }
        out[field] = given;
      }
      if (out.minPartitions > out.maxPartitions) invalid(name, 'minPartitions at most maxPartitions', value);
      if (out.scaleDownPercent >= out.scaleUpPercent) invalid(name, 'scaleDownPercent below scaleUpPercent', value);
      return out;
    },
  },
};

/**
 * Auto-scaling's fields. The budgets come from the committed benchmark run on a 2-core machine
 * (bench/results/latest.json, docs/autoscaling.md "Budgets"): one replicated partition took 8,134
 * sends/s of 1 KiB and drained 16,271 receives/s. Half the send rate leaves headroom for receives
 * and replication; a minute of draining (1,000,000 messages of 1 KiB) bounds the backlog.
 */
export const AUTO_SCALING: Record<keyof AutoScaling, Range> = {
  minPartitions: { min: 1, max: 64, default: 1 },
  maxPartitions: { min: 1, max: 64, default: 8 },
  budgetMessages: { min: 1, max: 1_000_000_000, default: 1_000_000 },
  budgetBytes: { min: 1_024, max: 2 ** 50, default: 2 ** 30 },
  budgetSendsPerSecond: { min: 1, max: 10_000_000, default: 4_000 },
  scaleUpPercent: { min: 1, max: 100, default: 80 },
  scaleDownPercent: { min: 0, max: 99, default: 30 },
  scaleUpCooldownSeconds: { min: 0, max: 86_400, default: 30 },
  scaleDownAfterSeconds: { min: 0, max: 86_400, default: 300 },
};

/** Choices fixed at creation. */
const CREATION_CHOICES: ReadonlySet<string> = new Set(['mode']);

/** Attributes that are true or false. */
export const BOOLEANS = {
  contentBasedDeduplication: { default: false, settable: true },
  fifo: { default: false, settable: false },
} as const satisfies Record<string, { default: boolean; settable: boolean }>;

type NonNumeric = keyof typeof CHOICES | keyof typeof BOOLEANS | keyof typeof SHAPED;
type NumericSettable = Exclude<keyof SettableAttributes, NonNumeric>;

export const SETTABLE: Record<NumericSettable, Range> = {
  visibilityTimeout: { min: 0, max: 43_200, default: 30 },
  retentionPeriod: { min: 60, max: 1_209_600, default: 345_600 },
  maximumMessageSize: { min: 1_024, max: 1_048_576, default: 262_144 },
  delaySeconds: { min: 0, max: 604_800, default: 0 },
  receiveWaitTime: { min: 0, max: 20, default: 0 },
  orderingWindowMs: { min: 1, max: 300_000, default: 1_000 },
  deduplicationWindow: { min: 60, max: 604_800, default: 300 },
  // Per partition; 0 is no size limit. 2^50 bytes (1 PiB) stays a safe integer with room to add.
  retentionBytes: { min: 0, max: 2 ** 50, default: 0 },
  // Performance isolation (docs/isolation.md); 0 is unlimited.
  maxRequestsPerSecond: { min: 0, max: 1_000_000, default: 0 },
  maxBytesPerSecond: { min: 0, max: 2 ** 40, default: 0 },
  maxStoredBytes: { min: 0, max: 2 ** 50, default: 0 },
};

export const CREATION: Record<Exclude<keyof CreationAttributes, NonNumeric>, Range> = {
  partitions: { min: 1, max: 64, default: 1 },
  replicationFactor: { min: 1, max: 5, default: 3 },
};

const ALL: Record<Exclude<keyof QueueAttributes, NonNumeric>, Range> = { ...SETTABLE, ...CREATION };

export const DEFAULT_ATTRIBUTES: Readonly<QueueAttributes> = Object.freeze({
  ...Object.fromEntries(Object.entries(ALL).map(([k, r]) => [k, r.default])),
  ...Object.fromEntries(Object.entries(CHOICES).map(([k, c]) => [k, c.default])),
  ...Object.fromEntries(Object.entries(BOOLEANS).map(([k, b]) => [k, b.default])),
} as unknown as QueueAttributes);

type Value = number | string | boolean | NonNullable<SettableAttributes[OptionalAttribute]>;

function checkOne(name: string, value: unknown, ranges: Record<string, Range>, settableOnly: boolean): Value {
  const shaped = Object.hasOwn(SHAPED, name) ? SHAPED[name as keyof typeof SHAPED] : undefined;
  if (shaped !== undefined) return shaped.check(name, value);
  const choice = Object.hasOwn(CHOICES, name) && (!settableOnly || !CREATION_CHOICES.has(name)) ? CHOICES[name as keyof typeof CHOICES] : undefined;
  if (choice !== undefined) {
    if (typeof value !== 'string' || !(choice.values as readonly string[]).includes(value)) {
      throw new WharfError(
        ErrorCode.InvalidAttribute,
        `attribute ${name} must be one of ${choice.values.join(', ')}, got ${String(value).slice(0, 64)}`,
      );
    }
    return value;
  }
  const flag = Object.hasOwn(BOOLEANS, name) ? BOOLEANS[name as keyof typeof BOOLEANS] : undefined;
  if (flag !== undefined && (flag.settable || !settableOnly)) {
    if (typeof value !== 'boolean') {
      throw new WharfError(ErrorCode.InvalidAttribute, `attribute ${name} must be true or false, got ${String(value).slice(0, 64)}`);
    }
    return value;
  }
  const range = Object.hasOwn(ranges, name) ? ranges[name] : undefined;
  if (range === undefined) {
    throw new WharfError(ErrorCode.InvalidAttribute, `unknown or read-only queue attribute: ${name}`);
  }
  if (typeof value !== 'number' || !Number.isInteger(value) || value < range.min || value > range.max) {
    throw new WharfError(
      ErrorCode.InvalidAttribute,
      `attribute ${name} must be an integer from ${range.min} to ${range.max}, got ${String(value)}`,
    );
  }
  return value;
}

/**
 * Rules between attributes. A message group lives in one partition, but with scope `queue` a
 * deduplication id must be found whatever group a repeat names: only one partition guarantees that.
 * A stream keeps offsets in send order, so it has no delays and no message groups; a size limit is
 * a stream's alone (a queue's messages leave when consumed). Time-window ordering reorders a
 * standard queue by producer time: a FIFO queue's order is its groups' send order and a stream's is
 * its offsets, which a hold by producer time would contradict.
 */
function checkCombination(a: QueueAttributes): QueueAttributes {
  if (a.ordering === 'timeWindow' && (a.fifo || a.mode === 'stream')) {
    throw new WharfError(
      ErrorCode.InvalidAttribute,
      a.fifo
        ? 'ordering timeWindow applies to standard queues: a FIFO queue delivers each message group in send order'
        : 'ordering timeWindow applies to standard queues: a stream (mode stream) is read in offset order',
    );
  }
  if (a.mode === 'stream' && a.delaySeconds !== 0) {
    throw new WharfError(ErrorCode.InvalidAttribute, 'attribute delaySeconds must be 0 on a stream (mode stream)');
  }
  if (a.mode === 'stream' && a.fifo) {
    throw new WharfError(ErrorCode.InvalidAttribute, 'a stream (mode stream) cannot be a FIFO queue: its partitions are read in offset order');
  }
  if (a.mode === 'stream' && (a.maxStoredBytes ?? 0) !== 0) {
    throw new WharfError(ErrorCode.InvalidAttribute, 'attribute maxStoredBytes applies to queues: a stream bounds its size with retentionBytes');
  }
  if (a.mode !== 'stream' && a.retentionBytes !== 0) {
    throw new WharfError(ErrorCode.InvalidAttribute, 'attribute retentionBytes applies to streams only (mode stream)');
  }
  if (!a.fifo && a.deduplicationScope === 'messageGroup') {
    throw new WharfError(ErrorCode.InvalidAttribute, 'deduplicationScope messageGroup applies to FIFO queues only (fifo: true)');
  }
  // Dead-lettering on expiry or on overflow needs a dead-letter queue.
  if (a.redrivePolicy === undefined && a.deadLetterOnExpiry === true) {
    throw new WharfError(ErrorCode.InvalidAttribute, 'attribute deadLetterOnExpiry needs a redrivePolicy (a dead-letter queue)');
  }
  if (a.redrivePolicy === undefined && a.overflowPolicy === 'dead-letter') {
    throw new WharfError(ErrorCode.InvalidAttribute, "overflowPolicy 'dead-letter' needs a redrivePolicy (a dead-letter queue)");
  }
  // A stream's offsets live in its partitions: there is nothing to move them.
  if (a.autoScaling !== undefined && a.mode === 'stream') {
    throw new WharfError(ErrorCode.InvalidAttribute, 'attribute autoScaling applies to queues only (not streams)');
  }
  if (a.fifo && a.partitions > 1 && a.deduplicationScope !== 'messageGroup') {
    throw new WharfError(
      ErrorCode.InvalidAttribute,
      `a FIFO queue with ${a.partitions} partitions needs deduplicationScope messageGroup (scope queue needs partitions 1)`,
    );
  }
  if (a.fifo && a.autoScaling !== undefined && a.deduplicationScope !== 'messageGroup') {
    throw new WharfError(ErrorCode.InvalidAttribute, 'an auto-scaling FIFO queue needs deduplicationScope messageGroup: it gets more partitions (scope queue needs partitions 1)');
  }
  return a;
}

/** Attributes for a new queue: the given ones checked, the rest defaulted. */
export function creationAttributes(given: Record<string, unknown> | undefined): QueueAttributes {
  const out: Record<string, Value> = { ...DEFAULT_ATTRIBUTES };
  for (const [name, value] of Object.entries(given ?? {})) {
    if (value === undefined) continue;
    out[name] = checkOne(name, value, ALL, false);
  }
  return checkTogether(checkCombination(out as unknown as QueueAttributes));
}

/**
 * Retention counts from the send: a queue delay at or past the retention period would let every
 * message expire before it is due.
 */
function checkTogether(a: QueueAttributes): QueueAttributes {
  if (a.delaySeconds >= a.retentionPeriod) {
    throw new WharfError(
      ErrorCode.InvalidAttribute,
      `attribute delaySeconds (${a.delaySeconds}) must be below retentionPeriod (${a.retentionPeriod}): retention counts from the send`,
    );
  }
  return a;
}

/** Attributes after a SetQueueAttributes: only settable ones may change. */
export function updatedAttributes(
  current: QueueAttributes,
  given: Record<string, unknown>,
): QueueAttributes {
  const out: Record<string, Value> = { ...current };
  for (const [name, value] of Object.entries(given)) {
    if (value === undefined) continue;
    if (value === null && Object.hasOwn(SHAPED, name)) {
      delete out[name];
      continue;
    }
    out[name] = checkOne(name, value, SETTABLE, true);
  }
  return checkTogether(checkCombination(withDefaults(out as unknown as QueueAttributes)));
}

/** A queue's attributes with defaults for those added after it was created (ordering, orderingWindowMs). */
export function withDefaults(a: QueueAttributes): QueueAttributes {
  return { ...DEFAULT_ATTRIBUTES, ...a };
}

export function sameAttributes(a: QueueAttributes, b: QueueAttributes): boolean {
  const [x, y] = [withDefaults(a), withDefaults(b)];
  // Object-valued attributes compare by content (their stored JSON).
  const names = [...Object.keys(DEFAULT_ATTRIBUTES), ...Object.keys(SHAPED)] as Array<keyof QueueAttributes>;
  return names.every((k) => x[k] === y[k] || JSON.stringify(x[k]) === JSON.stringify(y[k]));
}
