/**
 * Value encodings, one per key kind of keys.ts. MessagePack arrays (positional, compact); each
 * decoder checks the shape so a corrupt value is reported, not trusted.
 */
import { Decoder, Encoder } from '@msgpack/msgpack';
import type { DeliveryRecord, MessageRecord, PartitionState } from '../../actors/partition/records.ts';
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
