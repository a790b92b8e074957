/**
 * The partition's storage effects: load, commit (the group-committed write), settle (body reads), page.
 *
 * Keys (keys.ts): reads s/<q>/<p>, l/<q>/<p>/*, m/<q>/<p>/*, d/<q>/<p>/*; writes the same.
 */
import { fromPromise } from 'xstate';
import type {
  CommitInput,
  CommitOutput,
  LoadInput,
  LoadOutput,
  PageInput,
  PageOutput,
  SettleInput,
  SettleOutput,
} from '../../actors/partition/partition.events.ts';
import {
  currentDeliveries,
  EMPTY_PARTITION,
  loadedDeliveries,
  recordSize,
  type Change,
  type DelayedEntry,
  type DeliveryGroup,
  type DeliveryRecord,
  type MessageRecord,
  type OffsetRecord,
} from '../../actors/partition/records.ts';
import type { QueueName } from '../names.ts';
import { keys } from '../storage/keys.ts';
import {
  decodeDedupGroup,
  decodeDeliveryGroup,
  decodeMessage,
  decodeOffset,
  decodeState,
  encodeAttempt,
  decodeStream,
  encodeDedupGroup,
  encodeDeliveryGroup,
  encodeMark,
  encodeMessage,
  encodeOffset,
  encodeState,
  encodeStream,
} from '../storage/records.ts';
import type { Store, WriteOp } from '../storage/store.ts';
import { LIMITS } from '../protocol/limits.ts';

/** The ledger keeps at most this many deduplication ids, so at most this many groups, per partition (ledger.ts). */
const MAX_DEDUPS = 100_000;
/** Delivery groups are bounded by maxInflight; this only bounds one scan call. */
const DELIVERY_SCAN = 1 << 20;

export function toWriteOps(queue: QueueName, partition: number, changes: readonly Change[]): WriteOp[] {
  return changes.map((c): WriteOp => {
    switch (c.kind) {
      case 'putMessage':
        return { type: 'put', key: keys.message(queue, partition, c.offset), value: encodeMessage(c.record) };
      case 'delMessage':
        return { type: 'del', key: keys.message(queue, partition, c.offset) };
      case 'putDeliveries':
        return { type: 'put', key: keys.delivery(queue, partition, c.group.id), value: encodeDeliveryGroup(c.group) };
      case 'delDeliveries':
        return { type: 'del', key: keys.delivery(queue, partition, c.id) };
      case 'putDelayed':
        return { type: 'put', key: keys.delayed(queue, partition, c.due, c.seq), value: encodeMessage(c.record) };
      case 'delDelayed':
        return { type: 'del', key: keys.delayed(queue, partition, c.due, c.seq) };
      case 'putState':
        return { type: 'put', key: keys.partition(queue, partition), value: encodeState(c.state) };
      case 'putDedups':
        return { type: 'put', key: keys.dedupGroup(queue, partition, c.group.expires, c.group.tag), value: encodeDedupGroup(c.group) };
      case 'delDedups':
        return { type: 'del', key: keys.dedupGroup(queue, partition, c.expires, c.tag) };
      case 'putMark':
        return { type: 'put', key: keys.mark(queue, partition, c.offset), value: encodeMark(c.mark) };
      case 'delMark':
        return { type: 'del', key: keys.mark(queue, partition, c.offset) };
      case 'putAttempt':
        return { type: 'put', key: keys.attempt(queue, partition, c.offset, c.attempt.n), value: encodeAttempt(c.attempt) };
      case 'delAttempt':
        return { type: 'del', key: keys.attempt(queue, partition, c.offset, c.n) };
      case 'putStream':
        return { type: 'put', key: keys.stream(queue, partition), value: encodeStream(c.record) };
      case 'putOffset':
        return { type: 'put', key: keys.groupOffset(queue, partition, c.group), value: encodeOffset(c.record) };
      default:
        return c satisfies never;
    }
  });
}

/** The message records of `input.reads` that are stored. */
export async function readMessages(store: Store, input: { queue: string; partition: number; reads: readonly number[] }): Promise<Map<number, MessageRecord>> {
  const records = new Map<number, MessageRecord>();
  if (input.reads.length === 0) return records;
  const values = await store.getMany(input.reads.map((o) => keys.message(input.queue as QueueName, input.partition, o)));
  values.forEach((v, i) => {
    if (v) records.set(input.reads[i] as number, decodeMessage(v));
  });
  return records;
}

/** The stored delivery groups of a partition (l/ keys are numbered by group id). */
async function deliveryGroups(store: Store, queue: QueueName, partition: number): Promise<DeliveryGroup[]> {
  return (await store.scan(keys.deliveries(queue, partition), DELIVERY_SCAN)).map(([key, value]) => decodeDeliveryGroup(value, keys.offsetOf(key)));
}

/**
 * Reads a partition's counters, delivery records and deduplication ids. A delivery record counts
 * only while its message is stored: the group of a deleted message may outlive it.
 */
export async function loadPartition(store: Store, input: LoadInput): Promise<LoadOutput> {
  const queue = input.queue as QueueName;
  const [raw] = await store.getMany([keys.partition(queue, input.partition)]);
  const state = raw ? decodeState(raw) : { ...EMPTY_PARTITION };
  const groups = await deliveryGroups(store, queue, input.partition);
  const candidates = [...currentDeliveries(groups).keys()];
  const messages = candidates.length === 0 ? [] : await store.getMany(candidates.map((o) => keys.message(queue, input.partition, o)));
  const stored = new Set(candidates.filter((_, i) => messages[i] !== undefined));
  const dedups = (await store.scan(keys.dedupGroups(queue, input.partition), MAX_DEDUPS)).map(([, value]) => decodeDedupGroup(value));
  // Delivered messages with a TTL: the ledger checks it without their bodies (dead letters).
  const ttls: Array<[number, number]> = [];
  candidates.forEach((offset, i) => {
    const value = messages[i];
    const expiresAt = value === undefined ? undefined : decodeMessage(value).expiresAt;
    if (expiresAt !== undefined) ttls.push([offset, expiresAt]);
  });
  // Stream mode's records; a queue has none (a few empty reads).
  const [stream] = await store.getMany([keys.stream(queue, input.partition)]);
  const offsets = (await store.scan(keys.groupOffsets(queue, input.partition), LIMITS.maxGroupsPerPartition)).map(
    ([key, value]): [string, OffsetRecord] => [keys.groupOf(key), decodeOffset(value)],
  );
  const loaded: LoadOutput = {
    state,
    ...loadedDeliveries(groups, (offset) => stored.has(offset)),
    dedups,
    offsets,
    ...(await loadDeadLetters(store, queue, input.partition)),
    ttls,
  };
  if (stream) loaded.stream = decodeStream(stream);
  return loaded;
}

/** Marks bound what is pending; attempts are kept only for messages in flight or awaiting redelivery. */
const DEAD_LETTER_SCAN = 1 << 22;

/** Pending dead-letter marks and the attempt counts of redelivered messages. */
async function loadDeadLetters(store: Store, queue: QueueName, partition: number): Promise<{ marks: number[]; attempts: Array<[number, number]> }> {
  const marks = (await store.scanKeys(keys.marks(queue, partition), DEAD_LETTER_SCAN)).map((k) => keys.offsetOf(k));
  const counts = new Map<number, number>();
  for (const k of await store.scanKeys(keys.attempts(queue, partition), DEAD_LETTER_SCAN)) {
    const { offset, n } = keys.attemptOf(k);
    counts.set(offset, Math.max(counts.get(offset) ?? 0, n));
  }
  return { marks, attempts: [...counts] };
}

/** The current delivery record of every message that has one, read from the stored groups (for peeking). */
export async function storedDeliveries(store: Store, queue: QueueName, partition: number): Promise<Map<number, DeliveryRecord>> {
  const out = new Map<number, DeliveryRecord>();
  for (const [offset, { delivery }] of currentDeliveries(await deliveryGroups(store, queue, partition))) out.set(offset, delivery);
  return out;
}

/** The current delivery record of the message at `offset`, read from the stored groups (for inspection). */
export async function storedDelivery(store: Store, queue: QueueName, partition: number, offset: number): Promise<DeliveryRecord | undefined> {
  return currentDeliveries(await deliveryGroups(store, queue, partition)).get(offset)?.delivery;
}

export function partitionStore(store: Store, sync: boolean) {
  return {
    loadPartition: fromPromise<LoadOutput, LoadInput>(({ input }) => loadPartition(store, input)),

    commit: fromPromise<CommitOutput, CommitInput>(async ({ input }) => {
      await store.write(toWriteOps(input.queue as QueueName, input.partition, input.changes), sync);
      return { ticket: undefined };
    }),

    settle: fromPromise<SettleOutput, SettleInput>(async ({ input }) => ({ records: await readMessages(store, input) })),

    page: fromPromise<PageOutput, PageInput>(async ({ input }) => {
      const queue = input.queue as QueueName;
      switch (input.kind) {
        case 'window': {
          const range = keys.messagesBetween(queue, input.partition, input.from, input.end);
          const rows = await store.scan(range, input.limit);
          return {
            kind: 'window',
            scanned: rows.map(([k, v]) => [keys.offsetOf(k), decodeMessage(v)] as [number, MessageRecord]),
            complete: rows.length < input.limit,
            end: input.end,
          };
        }
        case 'timers': {
          const rows = await store.scan(keys.delayedFrom(queue, input.partition, input.from.due, input.from.seq), input.limit);
          const scanned: DelayedEntry[] = rows.map(([k, v]) => ({ ...keys.delayedOf(k), record: decodeMessage(v) }));
          return { kind: 'timers', scanned, complete: rows.length < input.limit };
        }
        case 'retention': {
          const rows = await store.scan(keys.messagesBetween(queue, input.partition, input.from, input.end), input.limit);
          const expired: number[] = [];
          let next = input.end;
          for (const [k, v] of rows) {
            const offset = keys.offsetOf(k);
            if (decodeMessage(v).sentAt > input.sentBefore) {
              next = offset;
              break;
            }
            expired.push(offset);
            next = offset + 1;
          }
          return { kind: 'retention', expired, next };
        }
        case 'purged': {
          const messages = await store.scanKeys(keys.messagesBetween(queue, input.partition, 0, input.end), input.limit);
          return { kind: 'purged', messages: messages.map((k) => keys.offsetOf(k)), complete: messages.length < input.limit };
        }
        case 'streamHead': {
          const rows = await store.scan(keys.messagesBetween(queue, input.partition, input.from, input.end), input.limit);
          return {
            kind: 'streamHead',
            rows: rows.map(([k, v]): [number, number, number] => {
              const record = decodeMessage(v);
              return [keys.offsetOf(k), record.sentAt, recordSize(record)];
            }),
          };
        }
        default:
          return input satisfies never;
      }
    }),
  };
}
