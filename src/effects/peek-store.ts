/**
 * PeekMessages on one partition: a read-only page of its stored messages, as its primary's store
 * holds them (what is on disk was acknowledged, or is being). Ready and in-flight messages come from
 * m/ in offset order, with their current delivery record (l/), then delayed ones from d/ in due
 * order. Nothing is written: looking at a message does not lease it, count it or move it. A
 * stream's partition is its m/ range from the stream's start (t/), by offset, with its consumer
 * groups' committed offsets (o/).
 *
 * Keys (keys.ts): reads s/<q>/<p>, m/<q>/<p>/*, l/<q>/<p>/*, d/<q>/<p>/*, t/<q>/<p>, o/<q>/<p>/*.
 */
import { recordSize, type DeliveryRecord, type MessageRecord } from '../../actors/partition/records.ts';
import type { QueueName } from '../names.ts';
import { LIMITS } from '../protocol/limits.ts';
import type { PeekedMessage, PeekState } from '../protocol/messages.ts';
import { keys, type Range } from '../storage/keys.ts';
import { decodeMessage, decodeOffset, decodeState, decodeStream } from '../storage/records.ts';
import type { Store } from '../storage/store.ts';
import { storedDeliveries } from './partition-store.ts';

/** Where a partition's page starts: an offset of m/, or a (due, seq) of d/. */
export type PeekPosition = { phase: 'm'; offset: number } | { phase: 'd'; due: number; seq: number };

export interface PartitionPeek {
  queue: string;
  partition: number;
  from: PeekPosition;
  states: readonly PeekState[];
  limit: number;
  /** Stored messages this page may read at most. */
  budget: number;
  /** Bytes of bodies this page may carry (it always carries one message). */
  maxBytes: number;
  body: boolean;
  messageId?: string;
  attribute?: { name: string; value?: string };
  retentionMs: number;
  /** A stream: its messages by offset (`from` is an m/ offset), all in state `stored`. */
  stream?: boolean;
}

export interface PartitionPeekResult {
  messages: PeekedMessage[];
  /** Where the next page starts; absent when the partition was read to its end. */
  next?: PeekPosition;
  scanned: number;
  /** A stream: each consumer group's committed offset in the partition. */
  committed?: Array<[group: string, offset: number]>;
}

/** What a work queue's peek says of a message's state. */
type QueueState = Omit<PeekedMessage, 'messageId' | 'partition' | 'sentAt' | 'size' | 'attributes'> & { state: PeekState };

const PAGE = 256;
const PAGE_BYTES = 4 * 1024 * 1024;

export async function peekPartition(store: Store, input: PartitionPeek, now: number): Promise<PartitionPeekResult> {
  if (input.stream === true) return peekStream(store, input, now);
  const queue = input.queue as QueueName;
  const p = input.partition;
  const [rawState] = await store.getMany([keys.partition(queue, p)]);
  const state = rawState === undefined ? undefined : decodeState(rawState);
  const purgedOffset = state?.purgedOffset ?? 0;
  const purgedDelayedSeq = state?.purgedDelayedSeq ?? 0;
  const out: PeekedMessage[] = [];
  let scanned = 0;
  let bytes = 0;
  const wants = (s: PeekState) => input.states.includes(s);
  const full = () => out.length >= input.limit || scanned >= input.budget || (out.length > 0 && bytes >= input.maxBytes);

  const add = (record: MessageRecord, base: QueueState) => {
    if (!wants(base.state) || !matches(record, input, now)) return;
    out.push({ ...peeked(record, p, input.body), ...base });
    if (input.body) bytes += record.body.byteLength;
  };

  let from = input.from;
  if (input.budget <= 0) return { messages: out, next: from, scanned };
  if (from.phase === 'm') {
    // FIFO messages delayed in place are in m/: read it for them too while the partition has any.
    if (wants('ready') || wants('inflight') || (wants('delayed') && (state?.delayedInPlace ?? 0) > 0)) {
      const deliveries = await storedDeliveries(store, queue, p);
      const range: Range = keys.messagesBetween(queue, p, Math.max(from.offset, purgedOffset), Number.MAX_SAFE_INTEGER);
      const last = await pageThrough(store, range, full, (key, value) => {
        scanned++;
        add(...describe(decodeMessage(value), deliveries.get(keys.offsetOf(key)), now));
      });
      if (last !== undefined) return { messages: out, next: { phase: 'm', offset: keys.offsetOf(last) + 1 }, scanned };
    }
    from = { phase: 'd', due: 0, seq: 0 };
  }
  if (wants('delayed')) {
    if (full()) return { messages: out, next: from, scanned };
    const last = await pageThrough(store, keys.delayedFrom(queue, p, from.due, from.seq), full, (key, value) => {
      scanned++;
      const { due, seq } = keys.delayedOf(key);
      if (seq < purgedDelayedSeq) return;
      const record = decodeMessage(value);
      if (record.timerFor !== undefined) return; // a FIFO message delayed in place: peeked from m/
      add(record, { state: 'delayed', receiveCount: 0, delayedUntil: due });
    });
    if (last !== undefined) {
      const { due, seq } = keys.delayedOf(last);
      return { messages: out, next: { phase: 'd', due, seq: seq + 1 }, scanned };
    }
  }
  return { messages: out, scanned };
}

/**
 * A stream partition's page: its messages from `from` (or its start, when that is later) in offset
 * order, and the committed offsets of its groups. Messages past age retention and not trimmed yet
 * are left out, as a read would soon no longer find them.
 */
async function peekStream(store: Store, input: PartitionPeek, now: number): Promise<PartitionPeekResult> {
  const queue = input.queue as QueueName;
  const p = input.partition;
  const [rawStream] = await store.getMany([keys.stream(queue, p)]);
  const start = rawStream === undefined ? 0 : decodeStream(rawStream).start;
  const committed = (await store.scan(keys.groupOffsets(queue, p), LIMITS.maxGroupsPerPartition)).map(
    ([key, value]): [string, number] => [keys.groupOf(key), decodeOffset(value).offset],
  );
  const out: PeekedMessage[] = [];
  let scanned = 0;
  let bytes = 0;
  const full = () => out.length >= input.limit || scanned >= input.budget || (out.length > 0 && bytes >= input.maxBytes);
  const from = input.from.phase === 'm' ? input.from.offset : 0;
  if (input.budget <= 0) return { messages: out, next: { phase: 'm', offset: from }, scanned, committed };
  const range = keys.messagesBetween(queue, p, Math.max(from, start), Number.MAX_SAFE_INTEGER);
  const last = await pageThrough(store, range, full, (key, value) => {
    scanned++;
    const record = decodeMessage(value);
    if (!matches(record, input, now)) return;
    out.push({ ...peeked(record, p, input.body), state: 'stored', offset: keys.offsetOf(key), receiveCount: 0 });
    if (input.body) bytes += record.body.byteLength;
  });
  return last === undefined ? { messages: out, scanned, committed } : { messages: out, next: { phase: 'm', offset: keys.offsetOf(last) + 1 }, scanned, committed };
}

/** Whether a stored record passes the page's filters and is still within retention. */
function matches(record: MessageRecord, input: PartitionPeek, now: number): boolean {
  if (input.messageId !== undefined && record.id !== input.messageId) return false;
  if (!matchesAttribute(record, input.attribute)) return false;
  return record.sentAt + input.retentionMs > now; // expired, not removed yet
}

/** The fields of a peeked message that come from its record. */
function peeked(record: MessageRecord, partition: number, body: boolean): Pick<PeekedMessage, 'messageId' | 'partition' | 'sentAt' | 'size' | 'attributes' | 'messageGroupId' | 'body'> {
  return {
    messageId: record.id,
    partition,
    sentAt: record.sentAt,
    size: recordSize(record),
    attributes: record.attributes ?? {},
    ...(record.group === undefined ? {} : { messageGroupId: record.group }),
    ...(body ? { body: record.body } : {}),
  };
}

/** A stored m/ message as peeked: in flight while its current lease lives, delayed (FIFO, in place) until due, otherwise ready. */
function describe(record: MessageRecord, d: DeliveryRecord | undefined, now: number): [MessageRecord, QueueState] {
  if (d === undefined && record.due !== undefined && record.due > now) return [record, { state: 'delayed', receiveCount: 0, delayedUntil: record.due }];
  if (d === undefined) return [record, { state: 'ready', receiveCount: 0 }];
  if (d.deadline <= now) return [record, { state: 'ready', receiveCount: d.count }];
  return [record, { state: 'inflight', receiveCount: d.count, leaseUntil: d.deadline, ...(d.consumer === undefined ? {} : { leaseOwner: d.consumer }) }];
}

function matchesAttribute(record: MessageRecord, wanted: PartitionPeek['attribute']): boolean {
  if (wanted === undefined) return true;
  const a = record.attributes?.[wanted.name];
  if (a === undefined) return false;
  if (wanted.value === undefined) return true;
  return typeof a.value === 'string' && a.value === wanted.value;
}

/**
 * Reads `range` from one point-in-time view, handing each entry to `visit`, until the range ends
 * (undefined) or `full()` says the page is done after an entry (that entry's key). Messages filtered
 * out still count against the scan budget, so a narrow filter over a long queue pages too.
 */
async function pageThrough(
  store: Store,
  range: Range,
  full: () => boolean,
  visit: (key: string, value: Uint8Array) => void,
): Promise<string | undefined> {
  const view = store.view([range]);
  try {
    for (;;) {
      const page = await view.next(PAGE, PAGE_BYTES);
      if (page.length === 0) return undefined;
      for (const [key, value] of page) {
        visit(key, value);
        if (full()) return key;
      }
    }
  } finally {
    await view.close();
  }
}
