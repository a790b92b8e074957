/**
 * What a partition persists, as domain values. The partition logic says *what* changes; the storage
 * effect in src/ decides the keys and bytes (src/storage/keys.ts, src/storage/records.ts).
 */
import type { MessageAttributes } from '../../src/protocol/messages.ts';
import type { Attempt, DeadLetterInfo, DeadLetterMark } from './dead-letter.ts';

/** A message as stored: immutable once written. */
export interface MessageRecord {
  id: string;
  body: Uint8Array;
  attributes?: MessageAttributes;
  /** When the partition accepted it, ms since the epoch. */
  sentAt: number;
  /** Per-message TTL: when it expires, ms (before retention would). */
  expiresAt?: number;
  /** A dead-lettered message's origin and history (dead-letter.ts). */
  deadLetter?: DeadLetterInfo;
  /** Its message group, on a FIFO queue: delivered in order with the group's other messages. */
  group?: string;
  /**
   * A delayed message of a FIFO queue: not delivered before this wall time, ms. It is stored in its
   * place among its group's messages, so it holds back the group's later ones until it is due.
   */
  due?: number;
  /**
   * On a cluster of independent hosts: the hybrid logical clock timestamp its shard's writer gave it
   * when it accepted it (actors/hosts/hlc.ts, 8 bytes). Absent on primary–secondary clusters.
   */
  hlc?: Uint8Array;
  /**
   * In d/ only: a timer standing for the FIFO message stored at this offset with `due` (it keeps the
   * delayed count and wakes the partition); its body is empty.
   */
  timerFor?: number;
}

/**
 * The delivery state of a message that has been received at least once. The records of the
 * deliveries decided in one write are stored together, as one delivery group.
 */
export interface DeliveryRecord {
  /** How many times it has been delivered. */
  count: number;
  /** When its current lease ends, ms since the epoch; in the past once it expired. */
  deadline: number;
  /** The delivery sequence number of the latest delivery: the receipt handle must carry it. */
  seq: number;
  /** When it was first delivered. */
  first: number;
  /**
   * When this (the latest) delivery was made: stored and replicated with the record, so a message's
   * attempt history keeps every delivery time across restarts and failovers. Absent in records
   * written before it was kept.
   */
  at?: number;
  /** Bytes of body and attributes, so a receive can bound its reply before reading the body. */
  size: number;
  /** The message's sentAt, so retention applies without reading the body. */
  sentAt: number;
  /** The message's group (FIFO queues), so a loaded partition knows which groups are held without reading bodies. */
  group?: string;
  /** Who received it this time (the lease owner), when the receive named itself. */
  consumer?: string;
}

/** The partition's own counters, written with every batch that changes them. */
export interface PartitionState {
  /** Offset the next visible message gets. */
  nextOffset: number;
  /** Sequence the next delivery gets. */
  nextSeq: number;
  /** Sequence the next delayed message gets (orders delayed messages due at the same ms). */
  nextDelayedSeq: number;
  /** Messages stored under m/ (ready or in flight). */
  stored: number;
  /** Messages stored under d/ (waiting out a delay). */
  delayed: number;
  /** Every message below this offset and every delayed message below this sequence was purged. */
  purgedOffset: number;
  purgedDelayedSeq: number;
  /** Messages of this partition dead-lettered so far (decided: marked). */
  deadLettered: number;
  /** FIFO messages stored in their group's place with a due time not reached (counted in `stored` and `delayed` both). */
  delayedInPlace: number;
  /**
   * Bytes (recordSize) of the messages counted in `stored` and `delayed`, for the queue's
   * maxStoredBytes. A message removed without its size at hand (only on disk) counts the mean.
   */
  bytes: number;
}

export const EMPTY_PARTITION: PartitionState = Object.freeze({
  nextOffset: 0,
  nextSeq: 1,
  nextDelayedSeq: 0,
  stored: 0,
  delayed: 0,
  purgedOffset: 0,
  purgedDelayedSeq: 0,
  deadLettered: 0,
  delayedInPlace: 0,
  bytes: 0,
});

/**
 * The delivery records written by one batch, under one key: a receive of 500 messages is one write,
 * not 500. A message's current record is the one in its newest group (the highest id); a group is
 * deleted once none of its records is current, and rewritten (its current records moved to a newer
 * group) once most of them are not, so the stored records stay within a few times the live ones.
 */
export interface DeliveryGroup {
  /** Unique and increasing within the partition: allocated from the delivery sequence. */
  id: number;
  entries: Array<[offset: number, delivery: DeliveryRecord]>;
}

/** One durable change. A batch of them is written atomically. */
export type Change =
  | { kind: 'putMessage'; offset: number; record: MessageRecord }
  | { kind: 'delMessage'; offset: number }
  | { kind: 'putDeliveries'; group: DeliveryGroup }
  | { kind: 'delDeliveries'; id: number }
  | { kind: 'putDelayed'; due: number; seq: number; record: MessageRecord }
  | { kind: 'delDelayed'; due: number; seq: number }
  | { kind: 'putState'; state: PartitionState }
  | { kind: 'putDedups'; group: DedupGroup }
  | { kind: 'delDedups'; expires: number; tag: string }
  | { kind: 'putStream'; record: StreamRecord }
  | { kind: 'putOffset'; group: string; record: OffsetRecord }
  /** Dead letters (dead-letter.ts): a message marked for its DLQ, and the attempts of a redelivered one. */
  | { kind: 'putMark'; offset: number; mark: DeadLetterMark }
  | { kind: 'delMark'; offset: number }
  | { kind: 'putAttempt'; offset: number; attempt: Attempt }
  | { kind: 'delAttempt'; offset: number; n: number };

/** A stream partition's own counters (stream.ts), written with every batch that changes them. */
export interface StreamRecord {
  /** The lowest offset still stored: retention and purges remove from the head only. */
  start: number;
  /** Bytes (recordSize) of the messages stored, for size retention. */
  bytes: number;
  /** The highest sentAt given so far: sentAt never decreases along the offsets (seek by time). */
  lastSentAt: number;
}

/** A consumer group's position in one partition: the next offset it reads. */
export interface OffsetRecord {
  offset: number;
  /** The group generation of the commit: a commit of an older generation is refused. */
  generation: number;
  metadata?: string;
  committedAt: number;
}

/**
 * The deduplication ids of one send request, with the message each created, remembered until
 * `expires` (ms): one stored record per request, not per message, since ids come in batches.
 */
export interface DedupGroup {
  expires: number;
  /** Tells groups expiring in the same ms apart: the first message id of the request. */
  tag: string;
  entries: Array<[dedupId: string, messageId: string]>;
}

/** A delayed message as loaded from d/. */
export interface DelayedEntry {
  due: number;
  seq: number;
  record: MessageRecord;
}

/** What loading a partition from disk yields. */
export interface LoadedPartition {
  state: PartitionState;
  /** The current delivery record of each stored message that has one, and the group holding it. */
  deliveries: Array<[offset: number, delivery: DeliveryRecord, group: number]>;
  /** Every stored delivery group and the records it holds, current or not (default: as `deliveries` say). */
  groups?: Array<[id: number, size: number]>;
  /** Groups of deduplication ids still stored, in any order. */
  dedups?: DedupGroup[];
  /** Messages marked for their DLQ and not yet moved. */
  marks?: number[];
  /** Stored messages with recorded attempts: how many (the highest attempt number). */
  attempts?: Array<[offset: number, count: number]>;
  /** Delivered messages that carry a TTL: when each expires. */
  ttls?: Array<[offset: number, expiresAt: number]>;
  /** Stream mode: the stream's counters, absent before its first write. */
  stream?: StreamRecord;
  /** Stream mode: committed offsets by group. */
  offsets?: Array<[group: string, record: OffsetRecord]>;
}

/** Each offset's record from the newest group that holds it. */
export function currentDeliveries(groups: Iterable<DeliveryGroup>): Map<number, { delivery: DeliveryRecord; group: number }> {
  const current = new Map<number, { delivery: DeliveryRecord; group: number }>();
  for (const { id, entries } of groups) {
    for (const [offset, delivery] of entries) {
      const known = current.get(offset);
      if (known === undefined || known.group < id) current.set(offset, { delivery, group: id });
    }
  }
  return current;
}

/**
 * What a load yields from the stored delivery groups: each offset's current record, kept only
 * while its message is stored (a deleted message's record may linger in a group that other
 * deliveries keep).
 */
export function loadedDeliveries(
  groups: readonly DeliveryGroup[],
  stored: (offset: number) => boolean,
): Pick<LoadedPartition, 'deliveries' | 'groups'> {
  const deliveries: LoadedPartition['deliveries'] = [];
  for (const [offset, { delivery, group }] of currentDeliveries(groups)) {
    if (stored(offset)) deliveries.push([offset, delivery, group]);
  }
  deliveries.sort((a, b) => a[0] - b[0]);
  return { deliveries, groups: groups.map((g): [number, number] => [g.id, g.entries.length]) };
}

/** Bytes of body and attributes (names, types and values, strings counted in UTF-8), as SQS counts them. */
export function recordSize(record: Pick<MessageRecord, 'body' | 'attributes'>): number {
  let size = record.body.byteLength;
  if (record.attributes) {
    for (const [name, attr] of Object.entries(record.attributes)) {
      size += utf8Length(name) + attr.type.length + (typeof attr.value === 'string' ? utf8Length(attr.value) : attr.value.byteLength);
    }
  }
  return size;
}

function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 4; // a surrogate pair: one four-byte character
      i++;
    } else n += 3;
  }
  return n;
}
