/**
 * What a partition of a stream (queue attribute `mode: 'stream'`) knows beyond the ledger: where its
 * stored messages start, how many bytes they hold, the last sentAt it gave, and the committed
 * offsets of its consumer groups. Deterministic and free of I/O like the ledger: time comes in as
 * `now`, storage goes out as `Change`s the partition machine writes in the same batch as the
 * ledger's, so they replicate with it and survive a failover.
 *
 * A stream's messages are appended by the ledger (offsets, deduplication) and never leased: they
 * leave only from the head, by retention (age or size) or a purge, so the stored offsets are always
 * the range [start, nextOffset). That is what lets a read or a seek go straight to an offset.
 *
 * Memory: one record per consumer group with a committed offset, at most `maxGroups`.
 */
import type { NewMessage } from './ledger.ts';
import { recordSize, type Change, type LoadedPartition, type OffsetRecord, type StreamRecord } from './records.ts';

export type CommitResult = 'ok' | 'stale_generation' | 'out_of_range' | 'over_limit';

/** One message at the head of the stream, as the retention scan reads it. */
export type HeadRow = [offset: number, sentAt: number, size: number];

export class Stream {
  private record: StreamRecord;
  private readonly offsets = new Map<string, OffsetRecord>();
  private changes: Change[] = [];
  private dirty = false;
  private readonly maxGroups: number;

  constructor(loaded: Pick<LoadedPartition, 'stream' | 'offsets' | 'state'>, maxGroups: number) {
    this.maxGroups = maxGroups;
    const { state } = loaded;
    // No record yet: nothing was appended in stream mode, so everything below nextOffset is gone.
    const stored = loaded.stream ?? { start: state.nextOffset, bytes: 0, lastSentAt: 0 };
    this.record = { ...stored, start: Math.max(stored.start, state.purgedOffset) };
    for (const [group, record] of loaded.offsets ?? []) this.offsets.set(group, record);
  }

  /**
   * The messages of a send with the primary's time as sentAt, never below the last one given, so
   * sentAt never decreases along the offsets (front-ends' clocks differ, and seek by time searches).
   */
  stamp(messages: readonly NewMessage[], now: number): NewMessage[] {
    const sentAt = Math.max(now, this.record.lastSentAt);
    return messages.map((m) => ({ ...m, record: { ...m.record, sentAt } }));
  }

  /** Counts the messages of a stamped send the ledger stored (a duplicate answers another message's id). */
  appended(messages: readonly NewMessage[], ids: readonly string[]): void {
    messages.forEach((m, i) => {
      if (ids[i] !== m.record.id) return;
      this.record.bytes += recordSize(m.record);
      this.record.lastSentAt = Math.max(this.record.lastSentAt, m.record.sentAt);
      this.dirty = true;
    });
  }

  /**
   * Which messages at the head go (rows from `start`, in offset order): those past the retention
   * period, and the oldest while the partition holds more than `retentionBytes` (0: no size
   * limit). They are forgotten here at once; the caller deletes them through the ledger.
   */
  trimHead(rows: readonly HeadRow[], now: number, retentionMs: number, retentionBytes: number): number[] {
    const out: number[] = [];
    for (const [offset, sentAt, size] of rows) {
      if (offset < this.record.start) continue;
      const old = sentAt + retentionMs <= now;
      const over = retentionBytes > 0 && this.record.bytes > retentionBytes;
      if (!old && !over) break;
      out.push(offset);
      this.record.bytes = Math.max(0, this.record.bytes - size);
      this.record.start = offset + 1;
      this.dirty = true;
    }
    return out;
  }

  /** Whether the head may hold messages past the size limit (a scan should run without waiting). */
  overSize(retentionBytes: number): boolean {
    return retentionBytes > 0 && this.record.bytes > retentionBytes;
  }

  /** A purge removed everything below `nextOffset`. */
  purged(nextOffset: number): void {
    this.record = { ...this.record, start: nextOffset, bytes: 0 };
    this.dirty = true;
  }

  /**
   * Stores a group's position: refused when a commit of a newer generation is stored (a fenced
   * member), when it is past `nextOffset`, or when the partition holds `maxGroups` groups already.
   */
  commit(group: string, offset: number, generation: number, metadata: string | undefined, now: number, nextOffset: number): CommitResult {
    if (offset > nextOffset) return 'out_of_range';
    const stored = this.offsets.get(group);
    if (stored !== undefined && generation < stored.generation) return 'stale_generation';
    if (stored === undefined && this.offsets.size >= this.maxGroups) return 'over_limit';
    const record: OffsetRecord = { offset, generation, committedAt: now };
    if (metadata !== undefined) record.metadata = metadata;
    this.offsets.set(group, record);
    this.changes.push({ kind: 'putOffset', group, record });
    return 'ok';
  }

  /** The groups with a committed offset here. */
  groups(): string[] {
    return [...this.offsets.keys()];
  }

  committed(group: string): OffsetRecord | undefined {
    return this.offsets.get(group);
  }

  get start(): number {
    return this.record.start;
  }

  get bytes(): number {
    return this.record.bytes;
  }

  get hasChanges(): boolean {
    return this.changes.length > 0 || this.dirty;
  }

  /** The changes made since the last call, ending with the stream record when it changed. */
  takeChanges(): Change[] {
    const out = this.changes;
    if (this.dirty) out.push({ kind: 'putStream', record: { ...this.record } });
    this.changes = [];
    this.dirty = false;
    return out;
  }
}

/** A partition's input after a change of the queue's retention (the size limit concerns streams only). */
export function withRetention<T extends { retentionMs: number; stream?: { retentionBytes: number; maxGroups: number } }>(
  input: T,
  event: { retentionMs: number; retentionBytes?: number },
): T {
  const { stream } = input;
  return stream && event.retentionBytes !== undefined
    ? { ...input, retentionMs: event.retentionMs, stream: { ...stream, retentionBytes: event.retentionBytes } }
    : { ...input, retentionMs: event.retentionMs };
}
