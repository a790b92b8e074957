/**
 * A simulated partition disk for the unit tests of the ledger and the partition machine: it holds
 * exactly what the `Change` lists put there (s/, m/, l/, d/ as maps) and answers the same scans the
 * storage effect answers (src/effects/partition-store.ts), without RocksDB. Also an in-memory `Store`
 * so the real storage effect can run against memory.
 */
import type { DeliveryRecord, DelayedEntry, DeliveryGroup, LoadedPartition, MessageRecord, PartitionState, Change, DedupGroup, OffsetRecord, StreamRecord } from '../../actors/partition/records.ts';
import { EMPTY_PARTITION, loadedDeliveries, recordSize } from '../../actors/partition/records.ts';
import type { Range } from '../../src/storage/keys.ts';
import type { Attempt, DeadLetterMark } from '../../actors/partition/dead-letter.ts';
import type { Store, StoreView, WriteOp } from '../../src/storage/store.ts';
import { Ledger, type LedgerLimits } from '../../actors/partition/ledger.ts';

export class MemDisk {
  state: PartitionState = { ...EMPTY_PARTITION };
  readonly messages = new Map<number, MessageRecord>();
  /** Delivery groups by id, as stored. */
  readonly groups = new Map<number, DeliveryGroup>();
  /** Delayed messages by `${due}/${seq}`. */
  readonly delayed = new Map<string, DelayedEntry>();
  /** Deduplication groups by `${expires}/${tag}`. */
  readonly dedups = new Map<string, DedupGroup>();
  /** Stream mode: the stream record and committed offsets by group. */
  stream: StreamRecord | undefined;
  readonly offsets = new Map<string, OffsetRecord>();
  /** Every batch applied, in order. */
  readonly batches: Change[][] = [];
  /** Dead-letter marks by offset, and attempts by `${offset}/${n}`. */
  readonly marks = new Map<number, DeadLetterMark>();
  readonly attempts = new Map<string, Attempt>();

  apply(changes: readonly Change[]): void {
    this.batches.push([...changes]);
    for (const c of changes) {
      switch (c.kind) {
        case 'putMessage':
          this.messages.set(c.offset, c.record);
          break;
        case 'delMessage':
          this.messages.delete(c.offset);
          break;
        case 'putDeliveries':
          this.groups.set(c.group.id, { id: c.group.id, entries: c.group.entries.map(([o, d]) => [o, { ...d }]) });
          break;
        case 'delDeliveries':
          this.groups.delete(c.id);
          break;
        case 'putDelayed':
          this.delayed.set(`${c.due}/${c.seq}`, { due: c.due, seq: c.seq, record: c.record });
          break;
        case 'delDelayed':
          this.delayed.delete(`${c.due}/${c.seq}`);
          break;
        case 'putState':
          this.state = { ...c.state };
          break;
        case 'putDedups':
          this.dedups.set(`${c.group.expires}/${c.group.tag}`, c.group);
          break;
        case 'delDedups':
          this.dedups.delete(`${c.expires}/${c.tag}`);
          break;
        case 'putMark':
          this.marks.set(c.offset, c.mark);
          break;
        case 'delMark':
          this.marks.delete(c.offset);
          break;
        case 'putAttempt':
          this.attempts.set(`${c.offset}/${c.attempt.n}`, c.attempt);
          break;
        case 'delAttempt':
          this.attempts.delete(`${c.offset}/${c.n}`);
          break;
        case 'putStream':
          this.stream = { ...c.record };
          break;
        case 'putOffset':
          this.offsets.set(c.group, { ...c.record });
          break;
        default:
          c satisfies never;
      }
    }
  }

  /** The current delivery record of every stored message that has one, by offset (what a load finds). */
  get deliveries(): Map<number, DeliveryRecord> {
    return new Map(this.load().deliveries.map(([offset, d]) => [offset, d]));
  }

  /** What loading the partition yields (as the storage effect's loadPartition). */
  load(): LoadedPartition {
    const { deliveries, groups } = loadedDeliveries([...this.groups.values()], (offset) => this.messages.has(offset));
    return {
      state: { ...this.state },
      deliveries: deliveries.map(([offset, d, group]): [number, DeliveryRecord, number] => [offset, { ...d }, group]),
      ...(groups ? { groups } : {}),
      dedups: [...this.dedups.values()],
      marks: [...this.marks.keys()],
      attempts: [
        ...[...this.attempts.entries()]
          .reduce((m, [key, a]) => m.set(Number(key.split('/')[0]), Math.max(m.get(Number(key.split('/')[0])) ?? 0, a.n)), new Map<number, number>())
          .entries(),
      ],
      offsets: [...this.offsets].map(([g, r]): [string, OffsetRecord] => [g, { ...r }]),
      ...(this.stream ? { stream: { ...this.stream } } : {}),
    };
  }

  /** Stream mode: [offset, sentAt, size] of the messages in [from, end), at most `limit`. */
  streamHead(from: number, end: number, limit: number): Array<[number, number, number]> {
    return this.scanWindow(from, end, limit).scanned.map(([o, r]): [number, number, number] => [o, r.sentAt, recordSize(r)]);
  }

  /** Messages with offsets in [from, end), at most `limit`, in offset order. */
  scanWindow(from: number, end: number, limit: number): { scanned: Array<[number, MessageRecord]>; complete: boolean } {
    const offsets = [...this.messages.keys()].filter((o) => o >= from && o < end).sort((a, b) => a - b);
    const rows = offsets.slice(0, limit).map((o): [number, MessageRecord] => [o, this.messages.get(o) as MessageRecord]);
    return { scanned: rows, complete: rows.length < limit };
  }

  /**
   * Delayed messages from `from` in (due, seq) order, at most `limit`. `bySeq` false scans from the
   * due time only, as the storage effect does (keys.delayedFrom has no seq).
   */
  scanTimers(from: { due: number; seq: number }, limit: number, bySeq = true): { scanned: DelayedEntry[]; complete: boolean } {
    const all = [...this.delayed.values()]
      .filter((e) => e.due > from.due || (e.due === from.due && (!bySeq || e.seq >= from.seq)))
      .sort((a, b) => a.due - b.due || a.seq - b.seq);
    const rows = all.slice(0, limit).map((e) => ({ ...e }));
    return { scanned: rows, complete: rows.length < limit };
  }

  /** Offsets at the head of m/ (in [from, end)) whose sentAt is before `sentBefore`, as the retention scan. */
  scanRetention(sentBefore: number, limit: number, from = 0, end = Infinity): number[] {
    return this.retentionPage(sentBefore, limit, from, end).expired;
  }

  /** The retention scan as the storage effect answers it: expired offsets and where to start next. */
  retentionPage(sentBefore: number, limit: number, from: number, end: number): { expired: number[]; next: number } {
    const offsets = [...this.messages.keys()]
      .filter((o) => o >= from && o < end)
      .sort((a, b) => a - b)
      .slice(0, limit);
    const expired: number[] = [];
    let next = end;
    for (const o of offsets) {
      if ((this.messages.get(o) as MessageRecord).sentAt > sentBefore) {
        next = o;
        break;
      }
      expired.push(o);
      next = o + 1;
    }
    return { expired, next };
  }

  /** Offsets of messages below `end`, at most `limit`, as the purged-keys scan. */
  scanPurged(end: number, limit: number): { messages: number[]; complete: boolean } {
    const messages = [...this.messages.keys()].filter((o) => o < end).sort((a, b) => a - b).slice(0, limit);
    return { messages, complete: messages.length < limit };
  }

  /** Messages waiting out a delay, sorted by (due, seq). */
  delayedSorted(): DelayedEntry[] {
    return [...this.delayed.values()].sort((a, b) => a.due - b.due || a.seq - b.seq);
  }
}

/** An in-memory `Store`: sorted keys, atomic batches. */
export class MemStore implements Store {
  readonly data = new Map<string, Uint8Array>();
  scans = 0;
  writes = 0;

  async getMany(keys: string[]): Promise<Array<Uint8Array | undefined>> {
    return keys.map((k) => this.data.get(k));
  }

  async write(ops: readonly WriteOp[], _sync: boolean): Promise<void> {
    this.writes++;
    for (const op of ops) {
      if (op.type === 'put') this.data.set(op.key, op.value);
      else this.data.delete(op.key);
    }
  }

  async scan(range: Range, limit: number): Promise<Array<[string, Uint8Array]>> {
    this.scans++;
    return this.keysIn(range)
      .slice(0, limit)
      .map((k): [string, Uint8Array] => [k, this.data.get(k) as Uint8Array]);
  }

  async scanKeys(range: Range, limit: number): Promise<string[]> {
    this.scans++;
    return this.keysIn(range).slice(0, limit);
  }

  /** A copy of the ranges as they are now: later writes do not show. */
  view(ranges: readonly Range[]): StoreView {
    const rows = ranges.flatMap((r) => this.keysIn(r).map((k): [string, Uint8Array] => [k, this.data.get(k) as Uint8Array]));
    let at = 0;
    return {
      next: async (limit) => rows.slice(at, (at = Math.min(rows.length, at + limit))),
      close: async () => undefined,
    };
  }

  async close(): Promise<void> {}

  keysIn(range: Range): string[] {
    return [...this.data.keys()].filter((k) => k >= range.gte && k < range.lt).sort(compareBytes);
  }
}

/** Byte order of two keys, as RocksDB's default comparator (keys are ASCII: code unit order is byte order). */
export function compareBytes(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

let ids = 0;

/** A message record with a body of `size` bytes. */
export function message(sentAt: number, size = 8, id = `m${ids++}`): MessageRecord {
  return { id, body: new Uint8Array(size), sentAt };
}

/** A promise with its resolve and reject handles. */
export interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (err: unknown) => void;
}

export function deferred<T>(): Deferred<T> {
  let resolve: (value: T) => void = () => undefined;
  let reject: (err: unknown) => void = () => undefined;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets promises and the actors they drive settle: `rounds` turns of the event loop. */
export async function flush(rounds = 10): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** Limits of a ledger whose window holds everything a unit test sends. */
export const ROOMY_LIMITS: LedgerLimits = { windowMessages: 1000, windowBytes: 1 << 30, maxInflight: 100_000, timerWindow: 1000 };

/** A ledger on a MemDisk: `commit` writes what it changed, `restart` loads a new one from the disk as a new primary would. */
export function ledgerOnDisk(t0: number, limits: LedgerLimits = ROOMY_LIMITS) {
  const disk = new MemDisk();
  let ledger = new Ledger(disk.load(), limits, t0);
  return {
    disk,
    get ledger() {
      return ledger;
    },
    commit: () => disk.apply(ledger.takeChanges()),
    restart(now: number) {
      ledger = new Ledger(disk.load(), limits, now);
      const { scanned, complete } = disk.scanWindow(ledger.windowFrom, disk.state.nextOffset, 1000);
      ledger.fillWindow(scanned, complete, disk.state.nextOffset);
    },
  };
}
