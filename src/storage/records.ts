/**
 * Value encodings, one per key kind of keys.ts. MessagePack arrays (positional, compact); each
 * decoder checks the shape so a corrupt value is reported, not trusted.
 */
import { Decoder, Encoder } from '@msgpack/msgpack';
import type { DedupGroup, DeliveryRecord, MessageRecord, PartitionState } from '../../actors/partition/records.ts';
import type { LogEntry, LogOp, ReplicaMeta } from '../../actors/replica/log.ts';
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

export function encodeMessage(r: MessageRecord): Uint8Array {
  return packr.pack(r.attributes ? [r.id, r.sentAt, r.body, r.attributes] : [r.id, r.sentAt, r.body]);
}

export function decodeMessage(bytes: Uint8Array): MessageRecord {
  const a = packr.unpack(bytes) as unknown;
  if (!Array.isArray(a) || typeof a[0] !== 'string' || !isNum(a[1]) || !(a[2] instanceof Uint8Array)) corrupt('message');
  const record: MessageRecord = { id: a[0], sentAt: a[1], body: a[2] };
  if (a[3] !== undefined) record.attributes = a[3] as MessageAttributes;
  return record;
}

export function encodeDelivery(d: DeliveryRecord): Uint8Array {
  return packr.pack([d.count, d.deadline, d.seq, d.first, d.size, d.sentAt]);
}

export function decodeDelivery(bytes: Uint8Array): DeliveryRecord {
  const a = packr.unpack(bytes) as unknown;
  if (!Array.isArray(a) || a.length !== 6 || !a.every(isNum)) corrupt('delivery');
  const [count, deadline, seq, first, size, sentAt] = a as number[] as [number, number, number, number, number, number];
  return { count, deadline, seq, first, size, sentAt };
}

const STATE_FIELDS = ['nextOffset', 'nextSeq', 'nextDelayedSeq', 'stored', 'delayed', 'purgedOffset', 'purgedDelayedSeq'] as const;

export function encodeState(s: PartitionState): Uint8Array {
  return packr.pack(STATE_FIELDS.map((f) => s[f]));
}

export function decodeState(bytes: Uint8Array): PartitionState {
  const a = packr.unpack(bytes) as unknown;
  if (!Array.isArray(a) || a.length !== STATE_FIELDS.length || !a.every(isNum)) corrupt('partition state');
  return Object.fromEntries(STATE_FIELDS.map((f, i) => [f, a[i] as number])) as unknown as PartitionState;
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
