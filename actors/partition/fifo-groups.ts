/**
 * The message groups of a FIFO partition: which groups are held (a message of theirs is in flight),
 * which messages of each group wait in memory, and which groups' messages were left on disk so the
 * window could reach other groups' messages further on. Pure bookkeeping for the ledger (ledger.ts),
 * which decides deliveries with it.
 *
 * Order within a group: a group is held while any of its messages is leased. A held group delivers
 * nothing; a free group delivers its lowest offset first, redeliveries (lower offsets) before
 * messages never delivered. A group's never-delivered messages are delivered in offset order, since
 * one group lives in one partition and offsets follow the order of the sends.
 *
 * Delays keep that order: a delayed message is stored in its place (records.ts `due`), and a group
 * whose next message is not due yet *waits* until it is. A waiting group is held like a leased one
 * (it delivers nothing, its messages may be evicted and skipped); `release` frees it at the due time.
 *
 * Bounded memory whatever the backlog: the window (ready, never-delivered messages in memory) has the
 * ledger's limits. When it is full and no group in it may deliver (all held), the window scan goes on
 * past the held groups' messages, leaving them on disk, and evicts held groups' messages from memory
 * to make room for free groups'. Such a group is *skipped*: `skipped[g] = s` says that every
 * never-delivered message of g below s is in memory and every one from s up to the disk cursor is
 * on disk only. A rescan from the lowest s of the skipped groups that are free brings their messages
 * back, in order. At most MAX_SKIPPED groups are skipped; beyond that the scan stops as before (and
 * delivery of the groups in memory goes on).
 */
import Denque from 'denque';
import FlatQueue from 'flatqueue';
import type { MessageRecord } from './records.ts';

/** Groups whose messages may be left on disk behind the window at once. */
export const MAX_SKIPPED = 4096;

export interface WindowEntry {
  offset: number;
  record: MessageRecord;
  size: number;
}

/** The group of a message: a message without one (never on a FIFO queue) is in the group ''. */
export const groupOf = (record: { group?: string }): string => record.group ?? '';

/** The next message of a free group: a redelivery (requeued) or a window entry. */
export type Head = { offset: number; requeued: true } | { offset: number; requeued: false; entry: WindowEntry };

export class FifoGroups {
  /** Leased (in flight, lease not expired) deliveries per group: a group with any is held. */
  private readonly leased = new Map<string, number>();
  /** Groups whose next message is delayed → its due time: held until then. */
  private readonly waiting = new Map<string, number>();
  /** The waiting groups by due time (entries go stale; checked on pop). */
  private readonly dues = new FlatQueue<string>();
  /** The ledger's latest time, ms: a message due after it is not delivered yet. */
  now = 0;
  /** Offsets whose lease expired, per group, ascending: delivered again before anything else of it. */
  private readonly requeued = new Map<string, number[]>();
  /** Never-delivered ready messages in memory, per group, in offset order. */
  private readonly window = new Map<string, Denque<WindowEntry>>();
  private readonly windowGroupOf = new Map<number, string>();
  count = 0;
  bytes = 0;
  /** Free groups with something to deliver, by the offset of their next message (entries go stale; checked on pop). */
  private readonly available = new FlatQueue<string>();
  readonly skipped = new Map<string, number>();
  /** A window scan found nothing to do: none runs again until something changes. */
  stalled = false;
  /** The groups a rescan in progress serves (see fillRescan). */
  rescanning: Set<string> | undefined;

  private readonly windowMessages: number;
  private readonly windowBytes: number;

  constructor(limits: { windowMessages: number; windowBytes: number }) {
    this.windowMessages = limits.windowMessages;
    this.windowBytes = limits.windowBytes;
  }

  held(group: string): boolean {
    return (this.leased.get(group) ?? 0) > 0 || this.waiting.has(group);
  }

  /** Whether a message of `group` is in memory: leased, requeued, or waiting in the window. */
  has(group: string): boolean {
    return (this.leased.get(group) ?? 0) > 0 || this.requeued.has(group) || this.window.has(group);
  }

  private leasedNow(group: string): boolean {
    return (this.leased.get(group) ?? 0) > 0;
  }

  // ---- delays ------------------------------------------------------------------------------------

  /** Frees the waiting groups whose next message is due by `now`. */
  release(now: number): void {
    this.now = Math.max(this.now, now);
    for (let due = this.dues.peekValue(); due !== undefined && due <= this.now; due = this.dues.peekValue()) {
      const group = this.dues.pop() as string;
      if (this.waiting.get(group) !== due) continue;
      this.waiting.delete(group);
      this.stalled = false;
      this.offer(group);
    }
  }

  /** When the earliest waiting group's next message is due. */
  get nextDue(): number | undefined {
    return this.dues.peekValue();
  }

  // ---- leases ------------------------------------------------------------------------------------

  onLeased(group: string): void {
    this.leased.set(group, (this.leased.get(group) ?? 0) + 1);
    this.stalled = false;
  }

  /** A lease ended (deleted, expired, dropped): the group is free once none is left. */
  onLeaseEnded(group: string): void {
    const n = (this.leased.get(group) ?? 0) - 1;
    if (n > 0) {
      this.leased.set(group, n);
      return;
    }
    this.leased.delete(group);
    this.stalled = false;
    this.offer(group);
  }

  onRequeued(group: string, offset: number): void {
    const list = this.requeued.get(group) ?? [];
    let i = list.length;
    while (i > 0 && (list[i - 1] as number) > offset) i--;
    list.splice(i, 0, offset);
    this.requeued.set(group, list);
    this.offer(group);
  }

  /** A requeued message is gone (deleted, expired) or delivered again. */
  removeRequeued(group: string, offset: number): void {
    const list = this.requeued.get(group);
    if (list === undefined) return;
    const i = list.indexOf(offset);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.requeued.delete(group);
    this.stalled = false;
    this.offer(group);
  }

  // ---- delivery ----------------------------------------------------------------------------------

  head(group: string): Head | undefined {
    const r = this.requeued.get(group)?.[0];
    if (r !== undefined) return { offset: r, requeued: true };
    const entry = this.window.get(group)?.peekFront();
    return entry === undefined ? undefined : { offset: entry.offset, requeued: false, entry };
  }

  /**
   * Makes a free group with something to deliver available, at its head's offset; a group whose head
   * is delayed waits for it instead. A waiting group without a head in memory (evicted) stays
   * waiting: a rescan would only bring the same message back.
   */
  offer(group: string): void {
    if (this.leasedNow(group)) return;
    const head = this.head(group);
    if (head === undefined) return;
    const due = head.requeued ? undefined : head.entry.record.due;
    if (due !== undefined && due > this.now) {
      if (this.waiting.get(group) !== due) {
        this.waiting.set(group, due);
        this.dues.push(group, due);
      }
      return;
    }
    this.waiting.delete(group);
    this.available.push(group, head.offset);
  }

  /** The free group whose next message has the lowest offset, taken off the available heap. */
  nextAvailable(): string | undefined {
    const group = this.peekAvailable();
    if (group !== undefined) this.available.pop();
    return group;
  }

  hasAvailable(): boolean {
    return this.peekAvailable() !== undefined;
  }

  private peekAvailable(): string | undefined {
    for (let group = this.available.peek(); group !== undefined; group = this.available.peek()) {
      const head = this.held(group) ? undefined : this.head(group);
      if (head !== undefined && head.offset === this.available.peekValue()) return group;
      this.available.pop();
    }
    return undefined;
  }

  /** Takes a group's head off its list (the caller delivers or drops it). */
  take(group: string, head: Head): void {
    if (head.requeued) {
      const list = this.requeued.get(group) as number[];
      list.shift();
      if (list.length === 0) this.requeued.delete(group);
    } else {
      this.removeEntry(group);
    }
  }

  private removeEntry(group: string): WindowEntry | undefined {
    const q = this.window.get(group);
    const entry = q?.shift();
    if (q === undefined || entry === undefined) return undefined;
    if (q.length === 0) this.window.delete(group);
    this.windowGroupOf.delete(entry.offset);
    this.count--;
    this.bytes -= entry.size;
    this.stalled = false;
    return entry;
  }

  // ---- window ------------------------------------------------------------------------------------

  hasRoom(size: number): boolean {
    if (this.count === 0) return true; // one message always fits, however large
    return this.count < this.windowMessages && this.bytes + size <= this.windowBytes;
  }

  /** Below half its limits: worth a scan. */
  get wantsMore(): boolean {
    return this.count < this.windowMessages / 2 && this.bytes < this.windowBytes / 2;
  }

  /** Adds a message after the group's others in memory (the caller keeps offset order per group). */
  admit(entry: WindowEntry): void {
    const group = groupOf(entry.record);
    let q = this.window.get(group);
    if (q === undefined) {
      q = new Denque<WindowEntry>();
      this.window.set(group, q);
    }
    q.push(entry);
    this.windowGroupOf.set(entry.offset, group);
    this.count++;
    this.bytes += entry.size;
    this.stalled = false;
    if (q.length === 1) this.offer(group);
  }

  /** Removes a message from the window if it is its group's next one (retention at the log's head). */
  removeIfHead(offset: number): boolean {
    const group = this.windowGroupOf.get(offset);
    if (group === undefined || this.window.get(group)?.peekFront()?.offset !== offset) return false;
    this.removeEntry(group);
    this.offer(group);
    return true;
  }

  /** Whether a group may be (or already is) skipped. */
  canSkip(group: string): boolean {
    return this.skipped.has(group) || this.skipped.size < MAX_SKIPPED;
  }

  skip(group: string, offset: number): void {
    if (!this.skipped.has(group)) this.skipped.set(group, offset);
  }

  /**
   * Moves every held group's messages out of memory (they are skipped from their first one), except
   * those of `keep`. Returns whether anything was evicted.
   */
  evictHeld(keep?: ReadonlySet<string>): boolean {
    let evicted = false;
    for (const [group, q] of this.window) {
      if (!this.held(group) || keep?.has(group) || !this.canSkip(group)) continue;
      const front = q.peekFront() as WindowEntry;
      // Everything of the group from its first message in memory on is now on disk only.
      this.skipped.set(group, Math.min(this.skipped.get(group) ?? Infinity, front.offset));
      for (let e = q.shift(); e !== undefined; e = q.shift()) {
        this.windowGroupOf.delete(e.offset);
        this.count--;
        this.bytes -= e.size;
      }
      this.window.delete(group);
      evicted = true;
    }
    return evicted;
  }

  /** Whether evictHeld would free anything. */
  get hasEvictable(): boolean {
    for (const group of this.window.keys()) if (this.held(group) && this.canSkip(group)) return true;
    return false;
  }

  /** Skipped groups that are free: a rescan would bring them messages to deliver. */
  rescanGroups(): Set<string> {
    const out = new Set<string>();
    for (const group of this.skipped.keys()) if (!this.held(group)) out.add(group);
    return out;
  }

  /** The lowest offset of a skipped group in `groups`. */
  rescanFrom(groups: ReadonlySet<string>): number {
    let from = Infinity;
    for (const group of groups) from = Math.min(from, this.skipped.get(group) ?? Infinity);
    return from;
  }

  /** The rescan of `groups` covered every offset below `upTo`: their messages there are in memory. */
  rescanned(groups: ReadonlySet<string>, upTo: number, diskCursor: number): void {
    for (const group of groups) {
      const s = this.skipped.get(group);
      if (s === undefined) continue;
      const next = Math.max(s, upTo);
      if (next >= diskCursor) this.skipped.delete(group);
      else this.skipped.set(group, next);
    }
  }

  /** The lowest offset of a never-delivered message in memory or skipped (for retention scans). */
  get lowestOffset(): number {
    let lowest = Infinity;
    for (const q of this.window.values()) lowest = Math.min(lowest, (q.peekFront() as WindowEntry).offset);
    for (const s of this.skipped.values()) lowest = Math.min(lowest, s);
    return lowest;
  }

  clear(): void {
    this.leased.clear();
    this.waiting.clear();
    this.dues.clear();
    this.requeued.clear();
    this.window.clear();
    this.windowGroupOf.clear();
    this.count = 0;
    this.bytes = 0;
    this.available.clear();
    this.skipped.clear();
    this.stalled = false;
    this.rescanning = undefined;
  }

  /** Groups held now (for the inspector). */
  get heldGroups(): number {
    return this.leased.size;
  }
}
