/**
 * PeekMessages on one partition: a read-only page of its stored messages, as its primary's store
 * holds them (what is on disk was acknowledged, or is being). Ready and in-flight messages come from
 * m/ in offset order, with their current delivery record (l/), then delayed ones from d/ in due
 * order. Nothing is written: looking at a message does not lease it, count it or move it.
 *
 * Keys (keys.ts): reads s/<q>/<p>, m/<q>/<p>/*, l/<q>/<p>/*, d/<q>/<p>/*.
 */
import { recordSize, type DeliveryRecord, type MessageRecord } from '../../actors/partition/records.ts';
import type { QueueName } from '../names.ts';
import type { PeekedMessage, PeekState } from '../protocol/messages.ts';
import { keys, type Range } from '../storage/keys.ts';
import { decodeMessage, decodeState } from '../storage/records.ts';
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
}

export interface PartitionPeekResult {
  messages: PeekedMessage[];
  /** Where the next page starts; absent when the partition was read to its end. */
  next?: PeekPosition;
  scanned: number;
}

const PAGE = 256;
const PAGE_BYTES = 4 * 1024 * 1024;

export async function peekPartition(store: Store, input: PartitionPeek, now: number): Promise<PartitionPeekResult> {
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

  const add = (record: MessageRecord, base: Omit<PeekedMessage, 'messageId' | 'partition' | 'sentAt' | 'size' | 'attributes'>) => {
    if (!wants(base.state)) return;
    if (input.messageId !== undefined && record.id !== input.messageId) return;
    if (!matchesAttribute(record, input.attribute)) return;
    if (record.sentAt + input.retentionMs <= now) return; // expired, not removed yet
    const message: PeekedMessage = {
      messageId: record.id,
      partition: p,
      sentAt: record.sentAt,
      size: recordSize(record),
      attributes: record.attributes ?? {},
      ...(record.group === undefined ? {} : { messageGroupId: record.group }),
      ...base,
      ...(input.body ? { body: record.body } : {}),
      // Hook: a dead-letter history stored with the record (the DLQ work) is passed through here.
    };
    if (input.body) bytes += record.body.byteLength;
    out.push(message);
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

/** A stored m/ message as peeked: in flight while its current lease lives, delayed (FIFO, in place) until due, otherwise ready. */
function describe(record: MessageRecord, d: DeliveryRecord | undefined, now: number): [MessageRecord, Omit<PeekedMessage, 'messageId' | 'partition' | 'sentAt' | 'size' | 'attributes'>] {
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
