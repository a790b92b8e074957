/**
 * Queue attributes: defaults, ranges and validation. SQS's names and ranges, in seconds.
 */
import { ErrorCode, WharfError } from '../errors.ts';
import { isQueueName } from '../names.ts';
import type { CreationAttributes, DeadLetterAttribute, QueueAttributes, RedriveAllowPolicy, RedrivePolicy, SettableAttributes } from './messages.ts';

interface Range {
  min: number;
  max: number;
  default: number;
}

/** Attributes with a few named values, all settable. */
export const CHOICES = {
  replication: { values: ['sync', 'async'], default: 'sync' },
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

export const SHAPED: { [K in DeadLetterAttribute]: Shaped<NonNullable<SettableAttributes[K]>> } = {
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
};

type NumericSettable = Exclude<keyof SettableAttributes, keyof typeof CHOICES | keyof typeof SHAPED>;

export const SETTABLE: Record<NumericSettable, Range> = {
  visibilityTimeout: { min: 0, max: 43_200, default: 30 },
  retentionPeriod: { min: 60, max: 1_209_600, default: 345_600 },
  maximumMessageSize: { min: 1_024, max: 1_048_576, default: 262_144 },
  delaySeconds: { min: 0, max: 900, default: 0 },
  receiveWaitTime: { min: 0, max: 20, default: 0 },
};

export const CREATION: Record<keyof CreationAttributes, Range> = {
  partitions: { min: 1, max: 64, default: 1 },
  replicationFactor: { min: 1, max: 5, default: 3 },
};

const ALL: Record<Exclude<keyof QueueAttributes, keyof typeof CHOICES | keyof typeof SHAPED>, Range> = { ...SETTABLE, ...CREATION };

export const DEFAULT_ATTRIBUTES: Readonly<QueueAttributes> = Object.freeze({
  ...Object.fromEntries(Object.entries(ALL).map(([k, r]) => [k, r.default])),
  ...Object.fromEntries(Object.entries(CHOICES).map(([k, c]) => [k, c.default])),
} as unknown as QueueAttributes);

type AttributeValue = NonNullable<QueueAttributes[keyof QueueAttributes]> | string;

function checkOne(name: string, value: unknown, ranges: Record<string, Range>): AttributeValue {
  const shaped = Object.hasOwn(SHAPED, name) ? SHAPED[name as keyof typeof SHAPED] : undefined;
  if (shaped !== undefined) return shaped.check(name, value);
  const choice = Object.hasOwn(CHOICES, name) ? CHOICES[name as keyof typeof CHOICES] : undefined;
  if (choice !== undefined) {
    if (typeof value !== 'string' || !(choice.values as readonly string[]).includes(value)) {
      throw new WharfError(
        ErrorCode.InvalidAttribute,
        `attribute ${name} must be one of ${choice.values.join(', ')}, got ${String(value).slice(0, 64)}`,
      );
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

/** Attributes for a new queue: the given ones checked, the rest defaulted. */
export function creationAttributes(given: Record<string, unknown> | undefined): QueueAttributes {
  const out: Record<string, AttributeValue> = { ...DEFAULT_ATTRIBUTES };
  for (const [name, value] of Object.entries(given ?? {})) {
    if (value === undefined) continue;
    out[name] = checkOne(name, value, ALL);
  }
  return checkCombination(out as unknown as QueueAttributes);
}

/** Attributes after a SetQueueAttributes: only settable ones may change. */
export function updatedAttributes(
  current: QueueAttributes,
  given: Record<string, unknown>,
): QueueAttributes {
  const out: Record<string, AttributeValue> = { ...current };
  for (const [name, value] of Object.entries(given)) {
    if (value === undefined) continue;
    if (value === null && Object.hasOwn(SHAPED, name)) {
      delete out[name];
      continue;
    }
    out[name] = checkOne(name, value, SETTABLE);
  }
  return checkCombination(out as unknown as QueueAttributes);
}

/** Rules across attributes: dead-lettering on expiry or on overflow needs a dead-letter queue. */
function checkCombination(attributes: QueueAttributes): QueueAttributes {
  if (attributes.redrivePolicy === undefined && attributes.deadLetterOnExpiry === true) {
    throw new WharfError(ErrorCode.InvalidAttribute, 'attribute deadLetterOnExpiry needs a redrivePolicy (a dead-letter queue)');
  }
  if (attributes.redrivePolicy === undefined && attributes.overflowPolicy === 'dead-letter') {
    throw new WharfError(ErrorCode.InvalidAttribute, "overflowPolicy 'dead-letter' needs a redrivePolicy (a dead-letter queue)");
  }
  return attributes;
}

export function sameAttributes(a: QueueAttributes, b: QueueAttributes): boolean {
  // Object-valued attributes compare by content (their stored JSON).
  const names = [...Object.keys(DEFAULT_ATTRIBUTES), ...Object.keys(SHAPED)] as Array<keyof QueueAttributes>;
  return names.every((k) => a[k] === b[k] || JSON.stringify(a[k]) === JSON.stringify(b[k]));
}
