/**
 * Checks the records read back from KV. A value in a bucket is written by any node (perhaps of
 * another version) or by an operator with the `nats kv` tool, so nothing decoded from it is trusted
 * until it passed here. Objects are loose on purpose: a field added by a newer node is kept (and
 * written back unchanged by a CAS update) instead of failing the whole record on an older one.
 */
import * as v from 'valibot';
import { ErrorCode, WharfError } from '../errors.ts';
import { isQueueName } from '../names.ts';
import { creationAttributes } from '../protocol/attributes.ts';
import { principalPolicy } from '../protocol/codec.ts';
import type { PrincipalPolicy, QueueAttributes, QueueTags } from '../protocol/messages.ts';
import { checkTags } from '../protocol/tags.ts';
import { assignmentKey, CLUSTER_MODELS, MANAGER_LEASE_KEY, type Assignment, type ManagerLease, type NodeRecord, type PartitionLayout, type QueueMeta } from './records.ts';

const id = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{1,64}$/, 'expected an id of 1-64 characters [A-Za-z0-9_-]'));
const queue = v.pipe(v.string(), v.check((name: string) => isQueueName(name), 'expected a queue name'));
const count = v.pipe(v.number(), v.integer(), v.minValue(0));
const time = v.pipe(v.number(), v.finite());
const ids = v.array(id);
const storeId = v.pipe(v.string(), v.minLength(1), v.maxLength(128));

/** A transform by one of the API's checks: what it throws becomes the schema's issue. */
export const checkedBy = <I, O>(check: (input: I) => O) =>
  v.rawTransform<I, O>(({ dataset, addIssue, NEVER }) => {
    try {
      return check(dataset.value);
    } catch (err) {
      addIssue({ message: err instanceof Error ? err.message : String(err) });
      return NEVER;
    }
  });

// Attributes go through the same check as a CreateQueue (ranges, choices, defaults), so a record
// written before an attribute existed reads back with that attribute's default.
const attributes = v.pipe(v.record(v.string(), v.unknown()), checkedBy<Record<string, unknown>, QueueAttributes>(creationAttributes));

// Tags go through the same rules as a TagQueue's.
const tags = v.pipe(v.record(v.string(), v.string()), checkedBy<Record<string, string>, QueueTags>(checkTags));

// Annotated with the record types: a field added to records.ts fails the type check here until
// the schema knows it.
const layout: v.GenericSchema<unknown, PartitionLayout> = v.looseObject({
  states: v.pipe(v.array(v.picklist(['active', 'draining', 'retired'])), v.minLength(1), v.maxLength(1024)),
  generation: count,
  previous: v.exactOptional(v.pipe(v.array(count), v.maxLength(1024))),
});

const queueMeta: v.GenericSchema<unknown, QueueMeta> = v.looseObject({
  name: queue,
  attributes,
  incarnation: time,
  createdAt: time,
  modifiedAt: time,
  tags: v.exactOptional(tags),
  layout: v.exactOptional(layout),
});

const assignment: v.GenericSchema<unknown, Assignment> = v.looseObject({
  queue,
  partition: count,
  incarnation: time,
  replicas: ids,
  learners: ids,
  primary: v.nullable(id),
  epoch: count,
  isr: ids,
  leaving: ids,
  updatedAt: time,
  stores: v.exactOptional(v.record(id, storeId)),
  previous: v.exactOptional(v.strictObject({ primary: id, epoch: count })),
});

const nodeRecord: v.GenericSchema<unknown, NodeRecord> = v.looseObject({
  id,
  boot: v.pipe(v.string(), v.minLength(1), v.maxLength(128)),
  state: v.picklist(['active', 'draining', 'removed']),
  registeredAt: time,
  store: v.exactOptional(storeId),
  storeGeneration: v.exactOptional(count),
  model: v.exactOptional(v.picklist(CLUSTER_MODELS)),
});

const managerLease: v.GenericSchema<unknown, ManagerLease> = v.looseObject({
  holder: id,
  term: count,
  renewedAt: time,
  released: v.exactOptional(v.boolean()),
});

/** One kind of record: its schema and the key it must be stored under. */
export interface RecordKind<T> {
  readonly kind: string;
  readonly schema: v.GenericSchema<unknown, T>;
  keyOf(record: T): string;
}

export const QUEUE: RecordKind<QueueMeta> = { kind: 'queue', schema: queueMeta, keyOf: (q) => q.name };
export const ASSIGNMENT: RecordKind<Assignment> = {
  kind: 'assignment',
  schema: assignment,
  keyOf: (a) => assignmentKey(a.queue, a.partition),
};
export const NODE: RecordKind<NodeRecord> = { kind: 'node', schema: nodeRecord, keyOf: (n) => n.id };
export const PRINCIPAL: RecordKind<PrincipalPolicy> = {
  kind: 'principal',
  schema: principalPolicy as v.GenericSchema<unknown, PrincipalPolicy>,
  keyOf: (p) => p.name,
};
export const LEASE: RecordKind<ManagerLease> = { kind: 'manager lease', schema: managerLease, keyOf: () => MANAGER_LEASE_KEY };

/** Deep-freezes a decoded record: the caches hand out their objects, so no caller may change them. */
function freeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const inner of Object.values(value)) freeze(inner);
    Object.freeze(value);
  }
  return value;
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Decodes a value stored under `key`: JSON, checked against the kind's schema, and stored under
 * the key it names (a record copied to the wrong key is as wrong as a malformed one).
 * Throws a WharfError (`internal`) describing what is wrong.
 */
export function decodeRecord<T>(kind: RecordKind<T>, key: string, bytes: Uint8Array): T {
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(bytes));
  } catch (err) {
    throw new WharfError(ErrorCode.Internal, `${kind.kind} ${key}: value is not JSON`, { cause: err });
  }
  return checkRecord(kind, key, parsed);
}

/** Checks a record about to be written or just read, and returns a frozen copy of the checked value. */
export function checkRecord<T>(kind: RecordKind<T>, key: string, value: unknown): T {
  const result = v.safeParse(kind.schema, value);
  if (!result.success) {
    const issue = result.issues[0];
    const path = issue.path?.map((p) => String(p.key)).join('.') ?? '';
    throw new WharfError(ErrorCode.Internal, `${kind.kind} ${key}: ${path ? `${path}: ` : ''}${issue.message}`);
  }
  const record = result.output;
  const expected = kind.keyOf(record);
  if (expected !== key) {
    throw new WharfError(ErrorCode.Internal, `${kind.kind} ${key}: the record belongs under key ${expected}`);
  }
  return freeze(record);
}

/**
 * The bytes stored for a record, and the record as every reader (this node's cache included) will
 * decode them: writing and reading back must give the same value, e.g. without `undefined` fields.
 */
export function encodeRecord<T>(kind: RecordKind<T>, record: T): { key: string; bytes: Uint8Array; value: T } {
  const key = kind.keyOf(record);
  const text = JSON.stringify(record);
  const value = checkRecord(kind, key, JSON.parse(text));
  return { key, bytes: new TextEncoder().encode(text), value };
}
