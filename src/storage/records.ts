/**
 * Value encodings, one per key kind of keys.ts. MessagePack arrays (positional, compact); each
 * decoder checks the shape so a corrupt value is reported, not trusted.
 */
import { Decoder, Encoder } from '@msgpack/msgpack';
import type { DedupGroup, DeliveryGroup, DeliveryRecord, MessageRecord, OffsetRecord, PartitionState, StreamRecord } from '../../actors/partition/records.ts';
import type { Attempt, DeadLetterInfo, DeadLetterMark, DeadLetterReason } from '../../actors/partition/dead-letter.ts';
import type { LogEntry, LogOp, ReplicaMeta } from '../../actors/replica/log.ts';
import { HLC_BYTES } from '../../actors/hosts/hlc.ts';
import { ErrorCode, WharfError } from '../errors.ts';
import type { MessageAttributes, QueueAttributes } from '../protocol/messages.ts';

const encoder = new Encoder({ ignoreUndefined: true });
const decoder = new Decoder();
const packr = { pack: (v: unknown) => encoder.encode(v), unpack: (b: Uint8Array): unknown => decoder.decode(b) };

export interface QueueRecord {
  attributes: QueueAttributes;
  createdAt: number;
  modifiedAt: number;
  incarnation: number;
}

function corrupt(what: string): never {
  throw new WharfError(ErrorCode.StorageFailure, `corrupt ${what} record`);
}

const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

/**
 * [id, sentAt, body, attributes?, group?, extras?]: nil fills an absent attributes or group when
 * something follows. `extras` (a map: `x` the TTL's expiry, `dl` the dead-letter info) comes sixth,
 * so records written before it read unchanged.
 */
export function encodeMessage(r: MessageRecord): Uint8Array {
  const extras = messageExtras(r);
  if (extras !== undefined) return packr.pack([r.id, r.sentAt, r.body, r.attributes ?? null, r.group ?? null, extras]);
  if (r.group !== undefined) return packr.pack([r.id, r.sentAt, r.body, r.attributes ?? null, r.group]);
  return packr.pack(r.attributes ? [r.id, r.sentAt, r.body, r.attributes] : [r.id, r.sentAt, r.body]);
}

export function decodeMessage(bytes: Uint8Array): MessageRecord {
  const a = packr.unpack(bytes) as unknown;
  if (!Array.isArray(a) || typeof a[0] !== 'string' || !isNum(a[1]) || !(a[2] instanceof Uint8Array)) corrupt('message');
  if (a[4] !== undefined && a[4] !== null && typeof a[4] !== 'string') corrupt('message');
  const record: MessageRecord = { id: a[0], sentAt: a[1], body: a[2] };
  if (a[3] !== undefined && a[3] !== null) record.attributes = a[3] as MessageAttributes;
  if (typeof a[4] === 'string') record.group = a[4];
  if (a[5] !== undefined) withExtras(record, a[5]);
  return record;
}

/** The optional fields of a message record (`x` TTL expiry, `dl` dead-letter info, `d` FIFO due time, `t` timer's offset, `h` hybrid logical clock), or undefined when it has none. */
export function messageExtras(r: MessageRecord): { x?: number; dl?: DeadLetterInfo; d?: number; t?: number; h?: Uint8Array } | undefined {
  if (r.expiresAt === undefined && r.deadLetter === undefined && r.due === undefined && r.timerFor === undefined && r.hlc === undefined) return undefined;
  return {
    ...(r.hlc === undefined ? {} : { h: r.hlc }),
    ...(r.expiresAt === undefined ? {} : { x: r.expiresAt }),
    ...(r.deadLetter === undefined ? {} : { dl: r.deadLetter }),
    ...(r.due === undefined ? {} : { d: r.due }),
    ...(r.timerFor === undefined ? {} : { t: r.timerFor }),
  };
}

/** Sets the fields `messageExtras` gave, checked. */
export function withExtras(record: MessageRecord, raw: unknown): MessageRecord {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) corrupt('message');
  const { x, dl, d, t, h } = raw as { x?: unknown; dl?: unknown; d?: unknown; t?: unknown; h?: unknown };
  if ((x !== undefined && !isNum(x)) || (d !== undefined && !isNum(d)) || (t !== undefined && !isNum(t))) corrupt('message');
  if (h !== undefined && !(h instanceof Uint8Array && h.byteLength === HLC_BYTES)) corrupt('message');
  if (h !== undefined) record.hlc = h;
  if (x !== undefined) record.expiresAt = x;
  if (d !== undefined) record.due = d;
  if (t !== undefined) record.timerFor = t;
  if (dl !== undefined) record.deadLetter = checkDeadLetter(dl);
  return record;
}

const REASONS: ReadonlySet<string> = new Set(['max-receives', 'retention', 'ttl', 'overflow', 'unknown-queue']);
const ENDS: ReadonlySet<string> = new Set(['lease-expired', 'released', 'dead-lettered']);

function checkAttempt(raw: unknown): Attempt {
  const a = raw as Partial<Attempt> | null;
  if (typeof a !== 'object' || a === null || !isNum(a.n) || !isNum(a.endedAt) || typeof a.ended !== 'string' || !ENDS.has(a.ended)) corrupt('attempt');
  if ((a.at !== undefined && !isNum(a.at)) || (a.consumer !== undefined && typeof a.consumer !== 'string')) corrupt('attempt');
  return a as Attempt;
}

function checkDeadLetter(raw: unknown): DeadLetterInfo {
  const d = raw as Partial<DeadLetterInfo> | null;
  if (
    typeof d !== 'object' || d === null || typeof d.sourceQueue !== 'string' || typeof d.reason !== 'string' || !REASONS.has(d.reason) ||
    !isNum(d.receiveCount) || !isNum(d.deadLetteredAt) || !isNum(d.totalAttempts) || !Array.isArray(d.attempts)
  ) {
    corrupt('dead-letter');
  }
  return { ...(d as DeadLetterInfo), attempts: d.attempts.map(checkAttempt) };
}

export function encodeMark(m: DeadLetterMark): Uint8Array {
  return packr.pack([m.reason, m.receiveCount, m.attempts, m.at]);
}

export function decodeMark(bytes: Uint8Array): DeadLetterMark {
  const a = packr.unpack(bytes) as unknown;
  if (!Array.isArray(a) || typeof a[0] !== 'string' || !REASONS.has(a[0]) || !isNum(a[1]) || !isNum(a[2]) || !isNum(a[3])) corrupt('dead-letter mark');
  return { reason: a[0] as DeadLetterReason, receiveCount: a[1], attempts: a[2], at: a[3] };
}

export function encodeAttempt(a: Attempt): Uint8Array {
  return packr.pack(a);
}

export function decodeAttempt(bytes: Uint8Array): Attempt {
  return checkAttempt(packr.unpack(bytes));
}

/**
 * First byte of a delivery group value. 0x02 groups carry the consumer names of their deliveries;
 * 0x03 groups also the message group of each delivery (FIFO queues); 0x01 groups (written before)
 * have neither; a stored single record of older stores is a MessagePack array of six numbers.
 */
const DELIVERY_GROUP_V1 = 0x01;
const DELIVERY_GROUP = 0x02;
const DELIVERY_GROUP_FIFO = 0x03;
/** 0x04 and 0x05 are 0x02 and 0x03 with each record's delivery time. */
const DELIVERY_GROUP_AT = 0x04;
const DELIVERY_GROUP_FIFO_AT = 0x05;
const VERSIONS: ReadonlySet<number> = new Set([DELIVERY_GROUP_V1, DELIVERY_GROUP, DELIVERY_GROUP_FIFO, DELIVERY_GROUP_AT, DELIVERY_GROUP_FIFO_AT]);
/** Offset, sequence, sentAt, deadline, first, count, size, consumer, message group, delivery time. */
const FIELDS_PER_DELIVERY = 10;
/** Room for one zigzag varint of a safe integer. */
const MAX_VARINT = 8;
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/**
 * A delivery group, in bytes: 0x02, then zigzag varints: `base` (the first record's first delivery),
 * the number of distinct consumer names and each name (its length, then its bytes), then per record
 * its offset, sequence and sentAt as differences from the record before, its deadline and first
 * delivery as differences from `base`, its count, its size and its consumer (1 + the name's index,
 * 0 for none). Records of one batch share most of their values (and usually one consumer), so this
 * stays near a dozen bytes a record, and it is written without MessagePack. A FIFO queue's group
 * (0x03) also ends each record with its message group, as a name of the same table (a receive's
 * run of one group stores the group's id once). Groups are written as 0x04 (0x05 for FIFO): each
 * record ends with its delivery time as s = 1 + (deadline - time), 0 for unknown (a lease never ends
 * before its delivery), and both s and the deadline are written as differences from the record
 * before's: a byte each for the records of one receive.
 */
export function encodeDeliveryGroup(g: DeliveryGroup): Uint8Array {
  const names = new Map<string, number>();
  const encoded: Uint8Array[] = [];
  const fifo = g.entries.some(([, d]) => d.group !== undefined);
  const name = (s: string | undefined) => {
    if (s === undefined || names.has(s)) return;
    names.set(s, names.size);
    encoded.push(textEncoder.encode(s));
  };
  for (const [, d] of g.entries) {
    name(d.consumer);
    name(d.group);
  }
  const nameBytes = encoded.reduce((n, b) => n + MAX_VARINT + b.byteLength, 0);
  const out = new Uint8Array(1 + (2 + g.entries.length * FIELDS_PER_DELIVERY) * MAX_VARINT + nameBytes);
  out[0] = fifo ? DELIVERY_GROUP_FIFO_AT : DELIVERY_GROUP_AT;
  let at = 1;
  const put = (n: number) => {
    // Zigzag, with arithmetic rather than bit operations: the values exceed 32 bits.
    let z = n >= 0 ? n * 2 : -n * 2 - 1;
    while (z >= 0x80) {
      out[at++] = (z % 0x80) | 0x80;
      z = Math.floor(z / 0x80);
    }
    out[at++] = z;
  };
  const base = g.entries[0]?.[1].first ?? 0;
  put(base);
  put(names.size);
  for (const bytes of encoded) {
    put(bytes.byteLength);
    out.set(bytes, at);
    at += bytes.byteLength;
  }
  let offset = 0;
  let seq = 0;
  let sentAt = base;
  let lastSince = 0;
  let lastDeadline = base;
  for (const [o, d] of g.entries) {
    put(o - offset);
    put(d.seq - seq);
    put(d.sentAt - sentAt);
    put(d.deadline - lastDeadline);
    lastDeadline = d.deadline;
    put(d.first - base);
    put(d.count);
    put(d.size);
    put(d.consumer === undefined ? 0 : (names.get(d.consumer) as number) + 1);
    if (fifo) put(d.group === undefined ? 0 : (names.get(d.group) as number) + 1);
    const since = d.at === undefined ? 0 : d.deadline - d.at + 1;
    put(since - lastSince);
    lastSince = since;
    offset = o;
    seq = d.seq;
    sentAt = d.sentAt;
  }
  return out.slice(0, at);
}

/**
 * A delivery record as stored before delivery groups (one per message, under its offset). A message's
 * current record is found with `storedDelivery` (src/effects/partition-store.ts).
 */
function decodeDelivery(bytes: Uint8Array): DeliveryRecord {
  const a = packr.unpack(bytes) as unknown;
  if (!Array.isArray(a) || a.length !== 6 || !a.every(isNum)) corrupt('delivery');
  const [count, deadline, seq, first, size, sentAt] = a as number[] as [number, number, number, number, number, number];
  return { count, deadline, seq, first, size, sentAt };
}

/** The group stored under delivery key number `id` (a legacy single record holds the delivery of offset `id`). */
export function decodeDeliveryGroup(bytes: Uint8Array, id: number): DeliveryGroup {
  const version = bytes[0];
  if (version === undefined || !VERSIONS.has(version)) return { id, entries: [[id, decodeDelivery(bytes)]] };
  const fifo = version === DELIVERY_GROUP_FIFO || version === DELIVERY_GROUP_FIFO_AT;
  const timed = version === DELIVERY_GROUP_AT || version === DELIVERY_GROUP_FIFO_AT;
  let at = 1;
  const get = (): number => {
    let z = 0;
    let scale = 1;
    for (;;) {
      const b = bytes[at++];
      if (b === undefined || scale > 2 ** 56) corrupt('delivery');
      z += (b & 0x7f) * scale;
      if (b < 0x80) break;
      scale *= 0x80;
    }
    return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
  };
  const base = get();
  const names: string[] = [];
  if (version !== DELIVERY_GROUP_V1) {
    const count = get();
    for (let i = 0; i < count; i++) {
      const length = get();
      if (length < 0 || at + length > bytes.length) corrupt('delivery');
      names.push(textDecoder.decode(bytes.subarray(at, at + length)));
      at += length;
    }
  }
  const entries: DeliveryGroup['entries'] = [];
  let offset = 0;
  let seq = 0;
  let sentAt = base;
  let since = 0;
  let lastDeadline = base;
  while (at < bytes.length) {
    offset += get();
    seq += get();
    sentAt += get();
    // 0x04 and 0x05 write each deadline as the difference from the record before's.
    const deadline = timed ? (lastDeadline += get()) : base + get();
    const first = base + get();
    const count = get();
    const size = get();
    const consumer = version === DELIVERY_GROUP_V1 ? undefined : names[get() - 1];
    const group = fifo ? names[get() - 1] : undefined;
    if (timed) since += get();
    const record: DeliveryRecord = { count, deadline, seq, first, size, sentAt };
    if (consumer !== undefined) record.consumer = consumer;
    if (group !== undefined) record.group = group;
    if (since > 0) record.at = deadline - since + 1;
    entries.push([offset, record]);
  }
  return { id, entries };
}

const STATE_FIELDS = ['nextOffset', 'nextSeq', 'nextDelayedSeq', 'stored', 'delayed', 'purgedOffset', 'purgedDelayedSeq', 'deadLettered', 'delayedInPlace', 'bytes'] as const;
/** States written before dead letters, FIFO delays, and stored bytes have fields fewer (they read as 0). */
const STATE_LENGTHS: ReadonlySet<number> = new Set([STATE_FIELDS.length - 3, STATE_FIELDS.length - 2, STATE_FIELDS.length - 1, STATE_FIELDS.length]);

export function encodeState(s: PartitionState): Uint8Array {
  return packr.pack(STATE_FIELDS.map((f) => s[f] ?? 0));
}

export function decodeState(bytes: Uint8Array): PartitionState {
  const a = packr.unpack(bytes) as unknown;
  if (!Array.isArray(a) || !STATE_LENGTHS.has(a.length) || !a.every(isNum)) corrupt('partition state');
  return Object.fromEntries(STATE_FIELDS.map((f, i) => [f, (a[i] as number | undefined) ?? 0])) as unknown as PartitionState;
}

export function encodeQueue(q: QueueRecord): Uint8Array {
  return packr.pack(q);
}

export function decodeQueue(bytes: Uint8Array): QueueRecord {
  const q = packr.unpack(bytes) as Partial<QueueRecord> | null;
  if (typeof q !== 'object' || q === null || typeof q.attributes !== 'object' || !isNum(q.createdAt) || !isNum(q.modifiedAt) || !isNum(q.incarnation)) {
    corrupt('queue');
  }
  return q as QueueRecord;
}

export function encodeNumber(n: number): Uint8Array {
  return packr.pack(n);
}

export function decodeNumber(bytes: Uint8Array): number {
  const n = packr.unpack(bytes) as unknown;
  if (!isNum(n)) corrupt('number');
  return n;
}

export function encodeDedupGroup(g: DedupGroup): Uint8Array {
  return packr.pack([g.expires, g.tag, g.entries]);
}

export function decodeDedupGroup(bytes: Uint8Array): DedupGroup {
  const a = packr.unpack(bytes) as unknown;
  if (!Array.isArray(a) || a.length !== 3 || !isNum(a[0]) || typeof a[1] !== 'string' || !Array.isArray(a[2])) corrupt('dedup');
  const entries = a[2] as unknown[];
  if (!entries.every((e) => Array.isArray(e) && e.length === 2 && typeof e[0] === 'string' && typeof e[1] === 'string')) corrupt('dedup');
  return { expires: a[0], tag: a[1], entries: entries as Array<[string, string]> };
}

/** [epoch, epochs, logEnd, applied, mark, incarnation, markEpoch, logStart, installing]; records of 7 predate the last two. */
export function encodeReplicaMeta(m: ReplicaMeta): Uint8Array {
  return packr.pack([m.epoch, m.epochs, m.logEnd, m.applied, m.mark, m.incarnation, m.markEpoch, m.logStart, m.installing]);
}

export function decodeReplicaMeta(bytes: Uint8Array): ReplicaMeta {
  const a = packr.unpack(bytes) as unknown;
  if (!Array.isArray(a) || (a.length !== 7 && a.length !== 9) || !isNum(a[0]) || !isNum(a[2]) || !isNum(a[3]) || !isNum(a[4]) || !isNum(a[5]) || !isNum(a[6])) corrupt('replica');
  if (a.length === 9 && (!isNum(a[7]) || typeof a[8] !== 'boolean')) corrupt('replica');
  const epochs = a[1] as unknown;
  if (!Array.isArray(epochs) || !epochs.every((p) => Array.isArray(p) && p.length === 2 && isNum(p[0]) && isNum(p[1]))) corrupt('replica');
  return {
    epoch: a[0],
    epochs: epochs as Array<[number, number]>,
    logEnd: a[2],
    applied: a[3],
    mark: a[4],
    incarnation: a[5],
    markEpoch: a[6],
    logStart: a.length === 9 ? (a[7] as number) : 0,
    installing: a.length === 9 ? (a[8] as boolean) : false,
  };
}

/** A log entry: [epoch, [[key, value], [key]…]] — a key alone is a delete. */
export function encodeLogEntry(entry: LogEntry): Uint8Array {
  return packr.pack([entry.epoch, entry.ops.map((op) => (op.type === 'put' ? [op.key, op.value] : [op.key]))]);
}

export function decodeLogEntry(bytes: Uint8Array): LogEntry {
  const a = packr.unpack(bytes) as unknown;
  if (!Array.isArray(a) || a.length !== 2 || !isNum(a[0]) || !Array.isArray(a[1])) corrupt('log entry');
  const ops = (a[1] as unknown[]).map((raw): LogOp => {
    if (!Array.isArray(raw) || typeof raw[0] !== 'string') corrupt('log entry');
    if (raw.length === 1) return { type: 'del', key: raw[0] };
    if (raw.length !== 2 || !(raw[1] instanceof Uint8Array)) corrupt('log entry');
    return { type: 'put', key: raw[0], value: raw[1] };
  });
  return { epoch: a[0], ops };
}

/** [start, bytes, lastSentAt] */
export function encodeStream(r: StreamRecord): Uint8Array {
  return packr.pack([r.start, r.bytes, r.lastSentAt]);
}

export function decodeStream(bytes: Uint8Array): StreamRecord {
  const a = packr.unpack(bytes) as unknown;
  if (!Array.isArray(a) || a.length !== 3 || !a.every(isNum)) corrupt('stream');
  const [start, size, lastSentAt] = a as [number, number, number];
  return { start, bytes: size, lastSentAt };
}

/** [offset, generation, committedAt, metadata?] */
export function encodeOffset(r: OffsetRecord): Uint8Array {
  return packr.pack(r.metadata === undefined ? [r.offset, r.generation, r.committedAt] : [r.offset, r.generation, r.committedAt, r.metadata]);
}

export function decodeOffset(bytes: Uint8Array): OffsetRecord {
  const a = packr.unpack(bytes) as unknown;
  if (!Array.isArray(a) || (a.length !== 3 && a.length !== 4) || !isNum(a[0]) || !isNum(a[1]) || !isNum(a[2])) corrupt('offset');
  if (a.length === 4 && typeof a[3] !== 'string') corrupt('offset');
  const record: OffsetRecord = { offset: a[0], generation: a[1], committedAt: a[2] };
  if (a.length === 4) record.metadata = a[3] as string;
  return record;
}
