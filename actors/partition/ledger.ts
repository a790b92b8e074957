/**
 * The ledger: what one partition knows about its messages, and every decision about them (append,
 * deliver, lease, expire, delete, delay, retain, purge). Deterministic and free of I/O: time comes in
 * as `now`, storage goes out as a list of `Change`s the caller must make durable before it answers
 * anyone (the partition machine does that).
 *
 * Memory stays bounded whatever the backlog: only a window of ready messages ahead of delivery
 * (bounded in count and bytes), the delivery records of messages received and not yet deleted
 * (bounded by `maxInflight`), and a window of the earliest delayed messages are held. The rest stays
 * on disk and is paged in (`needsWindow`, `needsTimers`) by the machine. Window pages may run while
 * writes are under way: they only scan offsets below the last committed one, and `deletedAhead`
 * remembers messages deleted before any scan reached them.
 *
 * Per-message work is O(log n) (heaps) or O(1) (maps, deques).
 */
import Denque from 'denque';
import { DeadLetterBook } from './dead-letter-book.ts';
import type { DeadLetterReason, LengthLimit } from './dead-letter.ts';
import FlatQueue from 'flatqueue';
import { FifoGroups, groupOf, type WindowEntry } from './fifo-groups.ts';
import {
  EMPTY_PARTITION,
  recordSize,
  type Change,
  type DedupGroup,
  type DelayedEntry,
  type DeliveryRecord,
  type LoadedPartition,
  type MessageRecord,
  type PartitionState,
} from './records.ts';

/** A stored delivery group: how many records it holds, how many are current, and their offsets. */
interface StoredGroup {
  size: number;
  live: number;
  /** Offsets it held a current record for (some may have moved on since). */
  offsets: number[];
}

/** A stored group is rewritten once at most a quarter of its records is current (and it holds at least this many). */
const COMPACT_MIN_SIZE = 8;

export interface LedgerLimits {
  /** Ready messages kept in memory ahead of delivery. */
  windowMessages: number;
  /** Bytes of bodies kept in memory ahead of delivery. */
  windowBytes: number;
  /** Delivery records (in flight or awaiting redelivery) before receives answer over_limit. */
  maxInflight: number;
  /** Delayed messages kept in memory. */
  timerWindow: number;
}

/** A send's limits in one partition: its share of the queue's maxLength and maxStoredBytes. */
export interface SendLimits {
  /** The length limit and what to do beyond it (dead-letter.ts). */
  limit?: LengthLimit;
  /** Bytes (recordSize) the partition may hold. */
  maxStoredBytes?: number;
}

export interface NewMessage {
  record: MessageRecord;
  /** 0 for a message visible at once. */
  delayMs: number;
  /** A send with the same id within the window is answered with the first one's message instead. */
  dedupId?: string;
  /**
   * Held until at least this wall time, ms (time-window ordering, src/node/time-window.ts): the
   * message waits among the delayed ones, released in (due, arrival) order.
   */
  notBefore?: number;
}

/** How long a deduplication id is remembered unless the queue says otherwise (deduplicationWindow). */
export const DEDUP_WINDOW_MS = 5 * 60_000;

/** What a partition learns from its queue's attributes. */
export interface LedgerSettings {
  /** A FIFO queue: messages carry groups and each group is delivered in order (fifo-groups.ts). */
  fifo: boolean;
  /** How long a deduplication id is remembered, ms. */
  dedupWindowMs: number;
}

export const DEFAULT_SETTINGS: Readonly<LedgerSettings> = Object.freeze({ fifo: false, dedupWindowMs: DEDUP_WINDOW_MS });
/** Deduplication ids remembered per partition; the oldest go first beyond it. */
export const MAX_DEDUPS = 100_000;

/** One delivery decided by `receive`; `record` is absent when the body must be read from disk. */
export interface Delivery {
  offset: number;
  delivery: DeliveryRecord;
  record: MessageRecord | undefined;
}

export type HandleResult = 'ok' | 'stale' | 'not_in_flight';

interface Lease {
  offset: number;
  seq: number;
}

interface Attempt {
  expires: number;
  items: Lease[];
}

const ATTEMPT_TTL_MS = 5 * 60_000;
const MAX_ATTEMPTS = 1000;

export class Ledger {
  private state: PartitionState;
  private changes: Change[] = [];
  private dirtyState = false;

  /** Never-delivered ready messages, in offset order, with their bodies. */
  private readonly window = new Denque<WindowEntry>();
  private windowBytes = 0;
  /** Next offset not examined by the window; equal to nextOffset when every ready message is in memory. */
  private diskCursor: number;
  /**
   * Offsets at or past diskCursor deleted (by a client or by retention) that a window scan running
   * now may still read from disk: it must not bring them back.
   */
  private readonly deletedAhead = new Set<number>();

  /** Every message delivered at least once and not yet deleted. */
  private readonly deliveries = new Map<number, DeliveryRecord>();
  /** The delivery group each current record is in. */
  private readonly groupOf = new Map<number, number>();
  private readonly groups = new Map<number, StoredGroup>();
  /** The group this batch's delivery records go into, stored by takeChanges. */
  private batchGroup: { id: number; offsets: number[] } | undefined;
  /** Live leases by deadline; entries go stale when the delivery changes (checked on pop). */
  private readonly leases = new FlatQueue<Lease>();
  /** Offsets whose lease expired, ready for redelivery, lowest first. */
  private readonly retry = new FlatQueue<number>();
  private readonly requeued = new Set<number>();

  /** The earliest delayed messages, by due time. */
  private readonly timers = new FlatQueue<DelayedEntry>();
  /** Sequences of the delayed messages in `timers`, so a refill does not add one twice. */
  private readonly timerSeqs = new Set<number>();
  /** Every delayed message due before this (due, seq) is in `timers`; Infinity when all are. */
  private timerHorizon: { due: number; seq: number } = { due: Infinity, seq: 0 };
  private timersLoaded = false;

  private readonly attempts = new Map<string, Attempt>();
  /** Deduplication ids in their window → the message each created and its group's expiry. */
  private readonly dedups = new Map<string, { messageId: string; expires: number }>();
  /** The groups those ids were stored in, by expiry (the window may change between sends). */
  private readonly dedupGroups = new FlatQueue<DedupGroup>();
  /**
   * Where the next retention scan starts: every live message has this offset or a higher one (the
   * last scan deleted what was expired below the first message it found alive). Starting here spares
   * the scan the deleted keys at the head of the log.
   */
  retentionFrom = 0;
  /** Keys below the purge marks may remain on disk; cleared once a scan finds none. */
  private purgedKeys: boolean;
  /** Deletions of purged keys handed out and not yet taken by the writer: no new scan meanwhile. */
  private purgeInProgress = false;

  private readonly limits: LedgerLimits;
  /** Dead letters: marks, attempts, TTLs (dead-letter-book.ts). */
  private readonly book: DeadLetterBook;
  /** Window entries removed out of order (a TTL ran out): skipped when they reach the front. */
  private readonly gone = new Set<number>();
  /** Messages past retention go to the DLQ instead of being deleted (the queue's deadLetterOnExpiry). */
  deadLetterOnExpiry = false;
  private dedupWindowMs: number;
  /** The groups of a FIFO partition; undefined on a standard queue. */
  private readonly fifo: FifoGroups | undefined;

  constructor(loaded: LoadedPartition, limits: LedgerLimits, now: number, settings: LedgerSettings = DEFAULT_SETTINGS) {
    this.limits = limits;
    this.book = new DeadLetterBook(loaded);
    this.dedupWindowMs = settings.dedupWindowMs;
    this.fifo = settings.fifo ? new FifoGroups(limits) : undefined;
    if (this.fifo !== undefined) this.fifo.now = now;
    this.state = { ...EMPTY_PARTITION, ...loaded.state };
    this.diskCursor = this.state.purgedOffset;
    this.purgedKeys = this.state.purgedOffset > 0 || this.state.purgedDelayedSeq > 0;
    for (const group of (loaded.dedups ?? []).sort((a, b) => a.expires - b.expires)) {
      this.dedupGroups.push(group, group.expires);
      for (const [id, messageId] of group.entries) this.dedups.set(id, { messageId, expires: group.expires });
    }
    this.expireDedups(now);
    for (const [offset, delivery, group] of loaded.deliveries) {
      if (offset < this.state.purgedOffset) continue;
      this.deliveries.set(offset, delivery);
      this.groupOf.set(offset, group);
      const stored = this.groups.get(group) ?? { size: 0, live: 0, offsets: [] };
      stored.live++;
      stored.offsets.push(offset);
      this.groups.set(group, stored);
      if (delivery.deadline > now) {
        this.leases.push({ offset, seq: delivery.seq }, delivery.deadline);
        this.fifo?.onLeased(groupOf(delivery));
      } else {
        // A lease that ran out while no primary served (a failover, a restart) is an attempt too.
        if (this.book.attemptCount(offset) < delivery.count) this.changes.push(...this.book.ended(offset, delivery, 'lease-expired', delivery.deadline));
        this.requeue(offset);
      }
    }
    const sizes = new Map(loaded.groups ?? []);
    for (const [id, stored] of this.groups) stored.size = Math.max(stored.live, sizes.get(id) ?? 0);
    // Groups left with no current record (their messages deleted, purged or delivered again) go.
    for (const id of sizes.keys()) if (!this.groups.has(id)) this.changes.push({ kind: 'delDeliveries', id });
  }

  // ---- appends -----------------------------------------------------------------------------------

  /**
   * Accepts messages and returns the message id each send stands for: its own, or the first one's
   * when its deduplication id was seen within the window (then nothing is stored again).
   */
  append(messages: readonly NewMessage[], now: number): string[] {
    const ids: string[] = [];
    const remembered: Array<[string, string]> = [];
    const expires = now + this.dedupWindowMs;
    this.fifo?.release(now);
    for (const { record, delayMs, dedupId, notBefore } of messages) {
      if (dedupId !== undefined) {
        const seen = this.remembered(dedupId, now);
        if (seen !== undefined) {
          ids.push(seen);
          continue;
        }
        this.dedups.set(dedupId, { messageId: record.id, expires });
        remembered.push([dedupId, record.id]);
      }
      ids.push(record.id);
      const due = Math.max(now + delayMs, notBefore ?? 0);
      if (due > now && this.fifo !== undefined) this.addDelayedInPlace(record, due);
      else if (due > now) this.addDelayed(record, due);
      else this.addVisible(record);
    }
    if (remembered.length > 0) {
      const group: DedupGroup = { expires, tag: (remembered[0] as [string, string])[1], entries: remembered };
      this.dedupGroups.push(group, group.expires);
      this.changes.push({ kind: 'putDedups', group });
      // Bounded memory: beyond the cap the oldest groups go before their window ends.
      while (this.dedups.size > MAX_DEDUPS && this.dedupGroups.length > 1) this.dropDedupGroup();
    }
    return ids;
  }

  /**
   * Whether this FIFO partition holds a message of `group` (ready, delayed or in flight): undefined
   * while some of its messages are on disk only, which it cannot tell without reading them.
   */
  holdsGroup(group: string): boolean | undefined {
    if (this.fifo === undefined) return false;
    if (this.fifo.has(group)) return true;
    return this.diskCursor < this.state.nextOffset || this.fifo.skipped.size > 0 ? undefined : false;
  }

  /** The message a deduplication id stands for while its window lasts. */
  remembered(dedupId: string, now: number): string | undefined {
    const seen = this.dedups.get(dedupId);
    return seen !== undefined && seen.expires > now ? seen.messageId : undefined;
  }

  /** A new deduplication window (the queue's deduplicationWindow changed): ids sent from now on keep it. */
  configure(settings: Pick<LedgerSettings, 'dedupWindowMs'>): void {
    this.dedupWindowMs = settings.dedupWindowMs;
  }

  private dropDedupGroup(): void {
    const group = this.dedupGroups.pop() as DedupGroup;
    for (const [id] of group.entries) {
      // A later send may have stored the id again (after its window): only its own entry goes.
      if (this.dedups.get(id)?.expires === group.expires) this.dedups.delete(id);
    }
    this.changes.push({ kind: 'delDedups', expires: group.expires, tag: group.tag });
  }

  /** Forgets deduplication ids whose window ended. */
  private expireDedups(now: number): void {
    for (let g = this.dedupGroups.peek(); g !== undefined && g.expires <= now; g = this.dedupGroups.peek()) this.dropDedupGroup();
  }

  private addVisible(record: MessageRecord): void {
    const offset = this.state.nextOffset++;
    const size = recordSize(record);
    this.state.stored++;
    this.state.bytes += size;
    this.dirtyState = true;
    this.changes.push({ kind: 'putMessage', offset, record });
    if (this.fifo !== undefined) {
      this.fifo.stalled = false;
      // A skipped group's later messages stay on disk too, behind its skipped ones.
      if (this.diskCursor === offset && !this.fifo.skipped.has(groupOf(record)) && this.fifo.hasRoom(size)) {
        this.fifo.admit({ offset, record, size });
        this.diskCursor = offset + 1;
      }
      return;
    }
    // Keep it in memory only while the window holds every ready message: otherwise the window
    // would have a gap, and the scan from diskCursor finds it later.
    if (this.diskCursor === offset && this.windowHasRoom(size)) {
      this.window.push({ offset, record, size });
      this.windowBytes += size;
      this.diskCursor = offset + 1;
      this.book.expiresAt(offset, record.expiresAt);
    }
  }

  /**
   * A delayed message of a FIFO queue: stored in its group's order now, with its due time, so the
   * group's later messages wait behind it (fifo-groups.ts). A timer under d/ keeps it in the delayed
   * count until it is due.
   */
  private addDelayedInPlace(record: MessageRecord, due: number): void {
    const offset = this.state.nextOffset;
    this.addVisible({ ...record, due });
    this.state.delayedInPlace++;
    this.addDelayed({ id: record.id, sentAt: record.sentAt, body: EMPTY, timerFor: offset }, due);
  }

  private addDelayed(record: MessageRecord, due: number): void {
    const seq = this.state.nextDelayedSeq++;
    this.state.delayed++;
    // A FIFO delay's timer has no body: its message is counted where it is stored in place.
    if (record.timerFor === undefined) this.state.bytes += recordSize(record);
    this.dirtyState = true;
    this.changes.push({ kind: 'putDelayed', due, seq, record });
    if (!this.timersLoaded || !before(due, seq, this.timerHorizon)) return;
    if (this.timers.length < this.limits.timerWindow) {
      this.timers.push({ due, seq, record }, due);
      this.timerSeqs.add(seq);
    } else {
      // The timer window is full: pull the horizon in so this one is read from disk in its turn.
      this.timerHorizon = { due, seq };
    }
  }

  private windowHasRoom(size: number): boolean {
    if (this.window.length === 0) return true; // one message always fits, however large
    return this.window.length < this.limits.windowMessages && this.windowBytes + size <= this.limits.windowBytes;
  }

  // ---- receives ----------------------------------------------------------------------------------

  /**
   * Delivers up to `max` ready messages, oldest offset first, leasing each until now + visibilityMs.
   * Stops early at `maxBytes` (but always delivers at least one) and at the in-flight limit.
   */
  receive(
    max: number,
    maxBytes: number,
    visibilityMs: number,
    now: number,
    retentionMs: number,
    attemptId?: string,
    consumer?: string,
    maxReceives?: number,
  ): Delivery[] {
    if (attemptId !== undefined) {
      const again = this.repeatAttempt(attemptId, now);
      if (again) return again;
    }
    this.fifo?.release(now);
    // The lease owner, recorded with each delivery when the receive named itself.
    const owner = consumer === undefined ? {} : { consumer };
    const out =
      this.fifo === undefined
        ? this.receiveAny(max, maxBytes, visibilityMs, now, retentionMs, owner, maxReceives)
        : this.receiveInOrder(this.fifo, max, maxBytes, visibilityMs, now, retentionMs, owner, maxReceives);
    if (attemptId !== undefined && out.length > 0) this.rememberAttempt(attemptId, out, now);
    return out;
  }

  /** A standard queue's receive: redeliveries and window entries by offset. */
  private receiveAny(
    max: number,
    maxBytes: number,
    visibilityMs: number,
    now: number,
    retentionMs: number,
    owner: { consumer?: string },
    maxReceives: number | undefined,
  ): Delivery[] {
    const out: Delivery[] = [];
    let bytes = 0;
    while (out.length < max) {
      const fromRetry = this.peekRetry();
      const head = this.window.peekFront();
      if (fromRetry === undefined && head === undefined) break;
      const useRetry = fromRetry !== undefined && (head === undefined || fromRetry < head.offset);
      const offset = useRetry ? fromRetry : (head as WindowEntry).offset;
      const previous = this.deliveries.get(offset);
      const size = useRetry ? (previous as DeliveryRecord).size : (head as WindowEntry).size;
      if (out.length > 0 && bytes + size > maxBytes) break;
      if (!useRetry && this.deliveries.size >= this.limits.maxInflight) break;

      let record: MessageRecord | undefined;
      let sentAt: number;
      if (useRetry) {
        this.retry.pop();
        this.requeued.delete(offset);
        sentAt = (previous as DeliveryRecord).sentAt;
        if (sentAt + retentionMs <= now) {
          this.expireOne(offset, 'retention', now);
          continue;
        }
        if ((this.book.ttlOf(offset) ?? Infinity) <= now) {
          this.expireOne(offset, 'ttl', now);
          continue;
        }
        // Received as often as the redrive policy allows: it goes to the DLQ instead (unless too many wait).
        if (maxReceives !== undefined && (previous as DeliveryRecord).count >= maxReceives && this.deadLetter(offset, 'max-receives', now)) continue;
      } else {
        const entry = this.window.shift() as WindowEntry;
        this.windowBytes -= entry.size;
        if (this.gone.delete(offset)) continue;
        record = entry.record;
        sentAt = record.sentAt;
        if (sentAt + retentionMs <= now) {
          this.expireOne(offset, 'retention', now, size);
          continue;
        }
        if ((record.expiresAt ?? Infinity) <= now) {
          this.expireOne(offset, 'ttl', now, size);
          continue;
        }
      }
      const delivery = this.lease(offset, previous, { size, sentAt, ...owner }, now, visibilityMs);
      if (record !== undefined) this.book.expiresAt(offset, record.expiresAt);
      out.push({ offset, delivery, record });
      bytes += size;
    }
    return out;
  }

  /**
   * A FIFO queue's receive: free groups by the offset of their next message; from each, its messages
   * in order (redeliveries first) while the receive has room. A group delivered from is held until
   * none of its messages is leased. A redelivery past the redrive policy's receive count goes to
   * the DLQ instead, and its group moves on to its next message.
   */
  private receiveInOrder(
    fifo: FifoGroups,
    max: number,
    maxBytes: number,
    visibilityMs: number,
    now: number,
    retentionMs: number,
    owner: { consumer?: string },
    maxReceives: number | undefined,
  ): Delivery[] {
    const out: Delivery[] = [];
    const deferred: string[] = [];
    let bytes = 0;
    groups: while (out.length < max) {
      const group = fifo.nextAvailable();
      if (group === undefined) break;
      for (let head = fifo.head(group); head !== undefined && out.length < max; head = fifo.head(group)) {
        const { offset } = head;
        if (!head.requeued && (head.entry.record.due ?? 0) > now) break; // delayed: the group waits for it (offered below)
        const previous = this.deliveries.get(offset);
        const size = head.requeued ? (previous as DeliveryRecord).size : head.entry.size;
        if (out.length > 0 && bytes + size > maxBytes) {
          // The group's turn ends here; it stays first for the next receive.
          if (!fifo.held(group)) fifo.offer(group);
          break groups;
        }
        if (!head.requeued && this.deliveries.size >= this.limits.maxInflight) {
          // At the in-flight limit only redeliveries go out: other groups' may (offered again below).
          deferred.push(group);
          continue groups;
        }
        fifo.take(group, head);
        const record = head.requeued ? undefined : head.entry.record;
        const sentAt = head.requeued ? (previous as DeliveryRecord).sentAt : (record as MessageRecord).sentAt;
        if (sentAt + retentionMs <= now) {
          this.dropMessage(offset, size);
          continue;
        }
        if (head.requeued && maxReceives !== undefined && (previous as DeliveryRecord).count >= maxReceives && this.deadLetter(offset, 'max-receives', now)) continue;
        if (head.requeued) this.requeued.delete(offset);
        out.push({ offset, delivery: this.lease(offset, previous, { size, sentAt, group, ...owner }, now, visibilityMs), record });
        fifo.onLeased(group);
        bytes += size;
      }
      // Everything it had was past retention (or max was reached): free groups stay available.
      fifo.offer(group);
    }
    for (const group of deferred) fifo.offer(group);
    return out;
  }

  /** A new delivery of `offset` (after `previous`, if any), leased until `deadline`. */
  private lease(offset: number, previous: DeliveryRecord | undefined, message: Pick<DeliveryRecord, 'size' | 'sentAt' | 'group' | 'consumer'>, now: number, visibilityMs: number): DeliveryRecord {
    const delivery: DeliveryRecord = {
      count: (previous?.count ?? 0) + 1,
      deadline: now + visibilityMs,
      seq: this.state.nextSeq++,
      first: previous?.first ?? now,
      at: now,
      ...message,
    };
    this.dirtyState = true;
    this.record(offset, delivery);
    this.leases.push({ offset, seq: delivery.seq }, delivery.deadline);
    return delivery;
  }

  /** Whether a receive now would find a message without reading the disk first. */
  get hasReady(): boolean {
    if (this.fifo !== undefined) return this.fifo.hasAvailable();
    return this.peekRetry() !== undefined || this.window.length > 0;
  }

  /** A retried receive (same attempt id) gets the same deliveries while all their leases live. */
  private repeatAttempt(attemptId: string, now: number): Delivery[] | undefined {
    const attempt = this.attempts.get(attemptId);
    if (!attempt || attempt.expires <= now) return undefined;
    const out: Delivery[] = [];
    for (const { offset, seq } of attempt.items) {
      const delivery = this.deliveries.get(offset);
      if (!delivery || delivery.seq !== seq || delivery.deadline <= now) return undefined;
      out.push({ offset, delivery, record: undefined });
    }
    return out;
  }

  private rememberAttempt(attemptId: string, deliveries: Delivery[], now: number): void {
    this.attempts.delete(attemptId);
    if (this.attempts.size >= MAX_ATTEMPTS) {
      const oldest = this.attempts.keys().next().value;
      if (oldest !== undefined) this.attempts.delete(oldest);
    }
    this.attempts.set(attemptId, {
      expires: now + ATTEMPT_TTL_MS,
      items: deliveries.map((d) => ({ offset: d.offset, seq: d.delivery.seq })),
    });
  }

  // ---- handles -----------------------------------------------------------------------------------

  /** Deletes a delivered message if `seq` is its latest delivery. */
  remove(offset: number, seq: number): HandleResult {
    const delivery = this.deliveries.get(offset);
    if (!delivery || delivery.seq !== seq) return 'stale';
    this.dropMessage(offset);
    return 'ok';
  }

  /** Moves the lease deadline of a message in flight to now + visibilityMs. */
  changeVisibility(offset: number, seq: number, visibilityMs: number, now: number): HandleResult {
    const delivery = this.deliveries.get(offset);
    if (!delivery || delivery.seq !== seq) return 'stale';
    if (this.requeued.has(offset) || delivery.deadline <= now) return 'not_in_flight';
    const next: DeliveryRecord = { ...delivery, deadline: now + visibilityMs };
    this.record(offset, next);
    if (visibilityMs === 0) {
      // Released: receivable again at once, and the attempt's end is recorded now (not as an expiry).
      this.changes.push(...this.book.ended(offset, next, 'released', now));
      this.requeue(offset);
      // As when a lease runs out: its FIFO group is free again, with this message first.
      this.fifo?.onLeaseEnded(groupOf(next));
      return 'ok';
    }
    this.leases.push({ offset, seq }, next.deadline);
    return 'ok';
  }

  /** The current delivery record of `offset` if its latest delivery is `seq` (the lease keeper's view). */
  deliveryOf(offset: number, seq: number): Readonly<DeliveryRecord> | undefined {
    const delivery = this.deliveries.get(offset);
    return delivery !== undefined && delivery.seq === seq && !this.requeued.has(offset) ? delivery : undefined;
  }

  /** Makes `delivery` the current record of `offset`, stored with this batch's group. */
  private record(offset: number, delivery: DeliveryRecord): void {
    if (this.batchGroup === undefined) {
      this.batchGroup = { id: this.state.nextSeq++, offsets: [] };
      this.dirtyState = true;
    }
    const batch = this.batchGroup;
    if (this.groupOf.get(offset) !== batch.id) {
      this.release(offset);
      this.groupOf.set(offset, batch.id);
      batch.offsets.push(offset);
    }
    this.deliveries.set(offset, delivery);
  }

  /** The record of `offset` in its group is current no more: the group goes when none of its records is. */
  private release(offset: number): void {
    const id = this.groupOf.get(offset);
    if (id === undefined) return;
    this.groupOf.delete(offset);
    const stored = this.groups.get(id);
    if (stored === undefined) return; // this batch's group, not stored yet
    stored.live--;
    if (stored.live === 0) {
      this.groups.delete(id);
      this.changes.push({ kind: 'delDeliveries', id });
    } else if (stored.size >= COMPACT_MIN_SIZE && stored.live * 4 <= stored.size) {
      // Mostly stale: its current records move to this batch's group, so stale ones stay bounded.
      this.groups.delete(id);
      this.changes.push({ kind: 'delDeliveries', id });
      for (const o of stored.offsets) {
        const delivery = this.deliveries.get(o);
        if (this.groupOf.get(o) === id && delivery !== undefined) {
          this.groupOf.delete(o);
          this.record(o, delivery);
        }
      }
    }
  }

  /** A delivered message leaves its FIFO group: no longer holding it by its lease, nor waiting to be delivered again. */
  private leaveGroup(offset: number, delivery: DeliveryRecord | undefined): void {
    if (this.fifo === undefined || delivery === undefined) return;
    if (this.requeued.has(offset)) this.fifo.removeRequeued(groupOf(delivery), offset);
    else this.fifo.onLeaseEnded(groupOf(delivery));
  }

  /** `size`: the message's bytes when it is not in flight (a delivery record has them). */
  private dropMessage(offset: number, size?: number): void {
    if (offset >= this.diskCursor) this.deletedAhead.add(offset);
    const delivery = this.deliveries.get(offset);
    this.leaveGroup(offset, delivery);
    if (this.deliveries.delete(offset)) this.release(offset);
    this.requeued.delete(offset);
    this.changes.push(...this.book.forget(offset));
    this.changes.push({ kind: 'delMessage', offset });
    this.unstore(size ?? delivery?.size);
  }

  /** One message fewer under m/, with its bytes (undefined: not at hand, the mean is taken). */
  private unstore(size: number | undefined): void {
    this.forgetBytes(size);
    this.state.stored--;
    this.dirtyState = true;
  }

  /**
   * Takes a message leaving the partition off its stored bytes. Called before the count drops. A
   * message removed by offset alone (retention or a TTL before any delivery) counts the mean of
   * those held: reading its record to learn its size would cost a read per removal.
   */
  private forgetBytes(size: number | undefined): void {
    const held = this.state.stored + this.state.delayed - this.state.delayedInPlace;
    if (held <= 1) {
      this.state.bytes = 0;
      return;
    }
    const gone = size ?? this.state.bytes / held;
    this.state.bytes = Math.max(0, Math.round(this.state.bytes - gone));
  }

  // ---- time --------------------------------------------------------------------------------------

  /** Expires leases and deduplication ids, and releases delayed messages that are due. */
  tick(now: number, retentionMs: number): void {
    this.expireDedups(now);
    this.fifo?.release(now);
    for (let deadline = this.leases.peekValue(); deadline !== undefined && deadline <= now; deadline = this.leases.peekValue()) {
      const lease = this.leases.pop() as Lease;
      const delivery = this.deliveries.get(lease.offset);
      // A lease entry is current only if the delivery still has its seq and deadline.
      if (!delivery || delivery.seq !== lease.seq || delivery.deadline !== deadline) continue;
      if (this.requeued.has(lease.offset)) continue;
      this.changes.push(...this.book.ended(lease.offset, delivery, 'lease-expired', deadline));
      this.requeue(lease.offset);
      this.fifo?.onLeaseEnded(groupOf(delivery));
    }
    this.expireTtls(now);
    for (let due = this.timers.peekValue(); due !== undefined && due <= now; due = this.timers.peekValue()) {
      // Past the horizon, earlier ones may still be on disk: wait for the page that brings them, so
      // releases keep (due, seq) order (time-window ordering depends on it).
      const top = this.timers.peek() as DelayedEntry;
      if (!before(top.due, top.seq, this.timerHorizon)) break;
      const entry = this.timers.pop() as DelayedEntry;
      this.timerSeqs.delete(entry.seq);
      this.changes.push({ kind: 'delDelayed', due: entry.due, seq: entry.seq });
      // Released, its bytes are counted again where it is stored next (or not at all).
      if (entry.record.timerFor === undefined) this.forgetBytes(recordSize(entry.record));
      this.state.delayed--;
      this.dirtyState = true;
      if (entry.record.timerFor !== undefined) {
        // The FIFO message it stands for is stored in place: it is simply not delayed any more.
        this.state.delayedInPlace = Math.max(0, this.state.delayedInPlace - 1);
        continue;
      }
      const expired = entry.record.sentAt + retentionMs <= now ? 'retention' : (entry.record.expiresAt ?? Infinity) <= now ? 'ttl' : undefined;
      if (expired === undefined) this.addVisible(entry.record);
      else if (this.deadLetterOnExpiry && !this.book.full) this.deadLetter(this.addHidden(entry.record), expired, now, recordSize(entry.record));
    }
  }

  private requeue(offset: number): void {
    this.requeued.add(offset);
    const delivery = this.deliveries.get(offset);
    if (this.fifo !== undefined && delivery !== undefined) this.fifo.onRequeued(groupOf(delivery), offset);
    else this.retry.push(offset, offset);
  }

  private peekRetry(): number | undefined {
    // Drop entries deleted since they were requeued.
    for (let offset = this.retry.peek(); offset !== undefined; offset = this.retry.peek()) {
      if (this.requeued.has(offset)) return offset;
      this.retry.pop();
    }
    return undefined;
  }

  /** The earliest lease deadline or delay due time, for the caller's timer; undefined when idle. */
  nextWake(): number | undefined {
    const wakes = [this.leases.peekValue(), this.timers.peekValue(), this.fifo?.nextDue].filter((t) => t !== undefined);
    return wakes.length === 0 ? undefined : Math.min(...wakes);
  }

  // ---- retention ---------------------------------------------------------------------------------

  /**
   * Deletes messages found at the head of the log whose retention ran out (`expired` from a scan of
   * the oldest offsets), whatever their state. Returns how many were deleted.
   */
  expire(expired: readonly number[], now = 0): number {
    let n = 0;
    for (const offset of expired) {
      if (offset < this.state.purgedOffset || this.book.marked.has(offset)) continue;
      if (this.deliveries.has(offset)) {
        this.expireOne(offset, 'retention', now);
        n++;
        continue;
      }
      if (offset >= this.diskCursor) {
        // Never examined: only on disk.
        if (this.deadLetterOnExpiry && this.deadLetter(offset, 'retention', now)) {
          n++;
          continue;
        }
        this.deletedAhead.add(offset);
        this.changes.push({ kind: 'delMessage', offset });
        this.unstore(undefined);
        n++;
        continue;
      }
      if (this.fifo !== undefined) {
        // In memory as its group's next message: it goes. Skipped ones go when a rescan brings them back.
        if (this.fifo.removeIfHead(offset)) {
          this.deleteStored(offset);
          n++;
        }
        continue;
      }
      if (this.shiftWindowHead(offset)) {
        if (this.gone.delete(offset)) continue;
        if (this.deadLetterOnExpiry && this.deadLetter(offset, 'retention', now)) {
          n++;
          continue;
        }
        this.changes.push(...this.book.forget(offset));
        this.deleteStored(offset);
        n++;
      }
    }
    return n;
  }

  /** Takes `offset` out of the window when it is the window's head. */
  private shiftWindowHead(offset: number): boolean {
    const head = this.window.peekFront();
    if (head === undefined || head.offset !== offset) return false;
    this.window.shift();
    this.windowBytes -= head.size;
    return true;
  }

  private deleteStored(offset: number): void {
    this.changes.push({ kind: 'delMessage', offset });
    this.unstore(undefined);
  }

  /**
   * Stream mode: deletes messages trimmed from the head of a stream (stream.ts), oldest first. A
   * stream's window is never refilled from disk (nothing is received), so, unlike `expire`, nothing
   * past the disk cursor is remembered: memory stays bounded however much is trimmed.
   */
  trimStream(offsets: readonly number[]): void {
    for (const offset of offsets) {
      if (offset < this.state.purgedOffset) continue;
      this.shiftWindowHead(offset);
      this.deleteStored(offset);
    }
  }

  /**
   * Where a retention scan should start: no message below it is stored. Every stored message is in
   * flight (a delivery), in the window, or not yet examined (from the disk cursor on), so the scan
   * skips the keys of messages deleted since the last one, which the store would step over one by one.
   */
  get retentionStart(): number {
    let lowest = Math.min(this.diskCursor, this.window.peekFront()?.offset ?? Infinity, this.fifo?.lowestOffset ?? Infinity);
    for (const offset of this.deliveries.keys()) if (offset < lowest) lowest = offset;
    return Math.max(this.retentionFrom, this.state.purgedOffset, lowest);
  }

  // ---- paging ------------------------------------------------------------------------------------

  /** Whether the window should be refilled from disk. */
  get needsWindow(): boolean {
    if (this.fifo !== undefined) return this.fifoScan(this.fifo) !== undefined;
    return (
      this.diskCursor < this.state.nextOffset &&
      this.window.length < this.limits.windowMessages / 2 &&
      this.windowBytes < this.limits.windowBytes / 2
    );
  }

  /** Whether ready messages wait on disk beyond the window. */
  get hasUnpaged(): boolean {
    if (this.fifo !== undefined && this.fifo.skipped.size > 0 && !this.fifo.stalled && this.fifo.rescanGroups().size > 0) return true;
    return this.diskCursor < this.state.nextOffset;
  }

  /** The offset a window refill scans from. */
  get windowFrom(): number {
    if (this.fifo !== undefined) {
      const scan = this.fifoScan(this.fifo);
      // The fill that follows serves the groups this scan was chosen for.
      this.fifo.rescanning = scan?.groups;
      return scan?.from ?? this.diskCursor;
    }
    return this.diskCursor;
  }

  /** How many messages a window refill should read. */
  get windowWanted(): number {
    // A FIFO scan may step over held groups' messages without keeping them: it reads a full page.
    if (this.fifo !== undefined) return Math.max(1, this.limits.windowMessages - this.fifo.count, Math.floor(this.limits.windowMessages / 4));
    return Math.max(1, this.limits.windowMessages - this.window.length);
  }

  /**
   * The window scan a FIFO partition needs, if any: a rescan of skipped groups that are free (their
   * messages wait on disk below the cursor), else the scan from the cursor while the window is low
   * or holds nothing deliverable.
   */
  private fifoScan(fifo: FifoGroups): { from: number; groups?: Set<string> } | undefined {
    if (fifo.stalled) return undefined;
    const room = fifo.wantsMore || (!fifo.hasAvailable() && fifo.hasEvictable);
    if (fifo.skipped.size > 0 && room) {
      const groups = fifo.rescanGroups();
      if (groups.size > 0) return { from: fifo.rescanFrom(groups), groups };
    }
    if (this.diskCursor < this.state.nextOffset && (fifo.wantsMore || !fifo.hasAvailable())) return { from: this.diskCursor };
    return undefined;
  }

  /**
   * Adds scanned messages (offset order, from `windowFrom`, below `end`) to the window. `end` is the
   * next offset of the last durable write when the scan began: later messages may not be on disk
   * yet, so the window never claims to have examined them. `complete` when the scan reached `end`.
   */
  fillWindow(scanned: ReadonlyArray<[offset: number, record: MessageRecord]>, complete: boolean, end: number): void {
    if (this.fifo !== undefined) {
      const groups = this.fifo.rescanning;
      this.fifo.rescanning = undefined;
      if (groups !== undefined) this.fillRescan(this.fifo, groups, scanned, complete, end);
      else this.fillInOrder(this.fifo, scanned, complete, end);
      return;
    }
    let cursor = this.diskCursor;
    let full = false;
    for (const [offset, record] of scanned) {
      if (offset < cursor) continue;
      if (offset >= end) break;
      if (this.deletedAhead.delete(offset) || this.book.marked.has(offset)) {
        cursor = offset + 1;
        continue;
      }
      if (!this.deliveries.has(offset)) {
        this.book.expiresAt(offset, record.expiresAt);
        const size = recordSize(record);
        if (!this.windowHasRoom(size)) {
          full = true;
          break;
        }
        this.window.push({ offset, record, size });
        this.windowBytes += size;
      }
      cursor = offset + 1;
    }
    if (complete && !full) cursor = Math.max(cursor, end);
    this.diskCursor = Math.min(cursor, this.state.nextOffset);
    for (const offset of this.deletedAhead) if (offset < this.diskCursor) this.deletedAhead.delete(offset);
  }

  /**
   * A FIFO window scan from the cursor: messages of free groups come into memory while there is room
   * (held groups' messages are evicted to make it); messages of held or skipped groups that do not
   * fit stay on disk and their group is skipped, so the scan reaches the groups behind them.
   */
  private fillInOrder(fifo: FifoGroups, scanned: ReadonlyArray<[number, MessageRecord]>, complete: boolean, end: number): void {
    const start = this.diskCursor;
    const skippedBefore = fifo.skipped.size;
    let cursor = this.diskCursor;
    let full = false;
    for (const [offset, record] of scanned) {
      if (offset < cursor) continue;
      if (offset >= end) break;
      if (this.deletedAhead.delete(offset) || this.deliveries.has(offset) || this.book.marked.has(offset)) {
        cursor = offset + 1;
        continue;
      }
      const group = groupOf(record);
      const size = recordSize(record);
      if (fifo.skipped.has(group)) {
        // Its earlier messages are on disk: this one waits behind them.
        cursor = offset + 1;
        continue;
      }
      if (!fifo.hasRoom(size) && fifo.held(group) && fifo.canSkip(group)) {
        fifo.skip(group, offset);
        cursor = offset + 1;
        continue;
      }
      if (!fifo.hasRoom(size) && !(fifo.evictHeld() && fifo.hasRoom(size))) {
        full = true;
        break;
      }
      fifo.admit({ offset, record, size });
      cursor = offset + 1;
    }
    if (complete && !full) cursor = Math.max(cursor, end);
    this.diskCursor = Math.min(cursor, this.state.nextOffset);
    for (const offset of this.deletedAhead) if (offset < this.diskCursor) this.deletedAhead.delete(offset);
    // Skipped groups with nothing left below the cursor are whole in memory again.
    fifo.rescanned(new Set(fifo.skipped.keys()), 0, this.diskCursor);
    if (this.diskCursor === start && fifo.skipped.size === skippedBefore) fifo.stalled = true;
  }

  /**
   * A rescan for skipped groups that are free: their messages from where each was skipped come back
   * into memory, in order, while there is room; the groups' skip marks move up to where it stopped.
   */
  private fillRescan(fifo: FifoGroups, groups: ReadonlySet<string>, scanned: ReadonlyArray<[number, MessageRecord]>, complete: boolean, scanEnd: number): void {
    // From the disk cursor on, messages are the cursor scan's to admit: a rescan admitting them too would deliver them twice.
    const end = Math.min(scanEnd, this.diskCursor);
    const from = fifo.rescanFrom(groups);
    let upTo = complete ? end : (scanned.at(-1)?.[0] ?? from - 1) + 1;
    let admitted = 0;
    for (const [offset, record] of scanned) {
      if (offset < from) continue;
      if (offset >= end) break;
      const group = groupOf(record);
      const mark = fifo.skipped.get(group);
      if (!groups.has(group) || mark === undefined || offset < mark || this.deliveries.has(offset) || this.book.marked.has(offset)) continue;
      const size = recordSize(record);
      if (!fifo.hasRoom(size) && !(fifo.evictHeld(groups) && fifo.hasRoom(size))) {
        upTo = offset;
        break;
      }
      fifo.admit({ offset, record, size });
      admitted++;
    }
    upTo = Math.min(upTo, end);
    const before = fifo.rescanFrom(groups);
    fifo.rescanned(groups, upTo, this.diskCursor);
    if (admitted === 0 && fifo.rescanFrom(groups) === before) fifo.stalled = true;
  }

  /** Whether delayed messages on disk may be due before the earliest one in memory. */
  get needsTimers(): boolean {
    if (!this.timersLoaded) return true;
    if (this.timerHorizon.due === Infinity) return false;
    const next = this.timers.peekValue();
    return next === undefined || next >= this.timerHorizon.due;
  }

  get timersFrom(): { due: number; seq: number } {
    return this.timersLoaded ? this.timerHorizon : { due: 0, seq: 0 };
  }

  /** Adds scanned delayed messages (due order). `complete` when the scan reached the end. */
  fillTimers(scanned: readonly DelayedEntry[], complete: boolean): void {
    let last: { due: number; seq: number } | undefined;
    for (const entry of scanned) {
      last = entry;
      if (entry.seq < this.state.purgedDelayedSeq) {
        // Purged: remove it now that a scan found it.
        this.changes.push({ kind: 'delDelayed', due: entry.due, seq: entry.seq });
        continue;
      }
      if (this.timerSeqs.has(entry.seq)) continue;
      this.timers.push(entry, entry.due);
      this.timerSeqs.add(entry.seq);
    }
    this.timersLoaded = true;
    this.timerHorizon = complete || !last ? { due: Infinity, seq: 0 } : { due: last.due, seq: last.seq + 1 };
  }

  // ---- purge -------------------------------------------------------------------------------------

  /**
   * Forgets every message. Durable at once through the partition state's purge marks; the keys
   * below them are removed afterwards (`purgeRanges`). Returns the number purged.
   */
  purge(): number {
    const purged = this.state.stored + this.state.delayed;
    this.state.purgedOffset = this.state.nextOffset;
    this.state.purgedDelayedSeq = this.state.nextDelayedSeq;
    this.state.stored = 0;
    this.state.delayed = 0;
    this.state.delayedInPlace = 0;
    this.state.bytes = 0;
    this.dirtyState = true;
    this.window.clear();
    this.windowBytes = 0;
    this.fifo?.clear();
    this.diskCursor = this.state.nextOffset;
    this.deletedAhead.clear();
    this.deliveries.clear();
    for (const id of this.groups.keys()) this.changes.push({ kind: 'delDeliveries', id });
    this.groups.clear();
    this.groupOf.clear();
    this.batchGroup = undefined;
    this.leases.clear();
    this.retry.clear();
    this.requeued.clear();
    this.timers.clear();
    this.timerSeqs.clear();
    this.timerHorizon = { due: Infinity, seq: 0 };
    this.attempts.clear();
    this.changes.push(...this.book.purge());
    this.gone.clear();
    this.purgedKeys = true;
    // Read the delayed messages again from the start: the scan removes the purged ones it meets.
    this.timersLoaded = false;
    return purged;
  }

  /**
   * Whether purged message keys may remain on disk (a scan should remove them). The purge deleted
   * every delivery group itself: all of them are known here.
   */
  get hasPurgedKeys(): boolean {
    return this.purgedKeys && !this.purgeInProgress;
  }

  /** Deletes the purged message keys a scan found below the purge mark; counts were settled by the purge. */
  forgetPurged(messages: readonly number[], complete: boolean): void {
    for (const offset of messages) {
      if (offset < this.state.purgedOffset) this.changes.push({ kind: 'delMessage', offset });
    }
    if (complete) this.purgedKeys = false;
    else this.purgeInProgress = true;
  }

  // ---- dead letters (dead-letter.ts) -------------------------------------------------------------

  /**
   * Marks a stored message for its DLQ: no longer receivable nor counted; its record stays until the
   * node has moved it (`deadLettered`). False when too many marks wait already (nothing changed).
   */
  private deadLetter(offset: number, reason: DeadLetterReason, now: number, size?: number): boolean {
    if (this.book.full || this.book.marked.has(offset)) return false;
    const delivery = this.deliveries.get(offset);
    // Marked, it no longer counts: its record stays only until the node has moved it.
    this.forgetBytes(size ?? delivery?.size);
    if (delivery !== undefined && !this.requeued.has(offset) && delivery.deadline > now) {
      this.changes.push(...this.book.ended(offset, delivery, 'dead-lettered', now));
    }
    this.leaveGroup(offset, delivery);
    if (this.deliveries.delete(offset)) this.release(offset);
    this.requeued.delete(offset);
    this.book.marked.add(offset);
    this.changes.push({
      kind: 'putMark',
      offset,
      mark: { reason, receiveCount: delivery?.count ?? 0, attempts: this.book.attemptCount(offset), at: now },
    });
    this.state.stored--;
    this.state.deadLettered++;
    this.dirtyState = true;
    return true;
  }

  /** A message past retention or its TTL: dead-lettered when the queue says so, deleted otherwise. */
  private expireOne(offset: number, reason: 'retention' | 'ttl', now: number, size?: number): void {
    if (this.deadLetterOnExpiry && this.deadLetter(offset, reason, now, size)) return;
    this.dropMessage(offset, size);
  }

  /** Stores a message under a new offset without making it receivable (it is about to be marked). */
  private addHidden(record: MessageRecord): number {
    const offset = this.state.nextOffset++;
    this.state.stored++;
    this.state.bytes += recordSize(record);
    this.dirtyState = true;
    this.changes.push({ kind: 'putMessage', offset, record });
    if (this.diskCursor === offset) this.diskCursor = offset + 1;
    return offset;
  }

  /** Expires the messages in memory whose TTL ended. */
  private expireTtls(now: number): void {
    for (const offset of this.book.expired(now)) {
      if (this.book.marked.has(offset) || this.gone.has(offset)) continue;
      if (this.deliveries.has(offset)) {
        this.expireOne(offset, 'ttl', now);
      } else if (offset < this.diskCursor && offset >= this.state.purgedOffset) {
        // In the window: it leaves the window when it reaches the front.
        this.gone.add(offset);
        if (this.deadLetterOnExpiry && this.deadLetter(offset, 'ttl', now)) continue;
        this.changes.push(...this.book.forget(offset));
        this.changes.push({ kind: 'delMessage', offset });
        this.unstore(undefined);
      }
    }
  }

  /**
   * Sends under a length limit (the queue's maxLength for this partition): what does not fit is
   * refused (`reject`), makes room by deleting the oldest ready messages (`drop-oldest`, refused
   * when none is in memory), or is stored and dead-lettered at once (`dead-letter`). Under a bytes
   * limit (the queue's maxStoredBytes for this partition) a message that would take the partition
   * past it is refused, whatever the overflow policy: making room would delete messages to store one
   * of unbounded size. Repeats of a remembered deduplication id take no room. Returns each message's
   * id ('' when refused), the indexes refused for the length and those refused for the bytes.
   */
  appendLimited(messages: readonly NewMessage[], now: number, limits: SendLimits): { ids: string[]; rejected: number[]; overStoredBytes: number[] } {
    const ids: string[] = [];
    const rejected: number[] = [];
    const overStoredBytes: number[] = [];
    const { limit, maxStoredBytes } = limits;
    messages.forEach((message, i) => {
      const repeat = message.dedupId !== undefined && this.remembered(message.dedupId, now) !== undefined;
      if (!repeat && maxStoredBytes !== undefined && this.state.bytes + recordSize(message.record) > maxStoredBytes) {
        ids.push('');
        overStoredBytes.push(i);
        return;
      }
      if (!repeat && limit !== undefined && this.state.stored + this.state.delayed - this.state.delayedInPlace >= limit.maxLength) {
        if (limit.overflow === 'drop-oldest' && this.dropOldest()) {
          // room made: fall through
        } else if (limit.overflow === 'dead-letter' && !this.book.full) {
          const [id] = this.append([{ ...message, delayMs: 0 }], now);
          const offset = this.state.nextOffset - 1;
          // A fresh message at the end: it is the window's last entry or not in memory at all.
          const last = this.window.peekBack();
          if (last !== undefined && last.offset === offset) {
            this.window.pop();
            this.windowBytes -= last.size;
          }
          this.deadLetter(offset, 'overflow', now, recordSize(message.record));
          ids.push(id ?? message.record.id);
          return;
        } else {
          ids.push('');
          rejected.push(i);
          return;
        }
      }
      ids.push(this.append([message], now)[0] ?? message.record.id);
    });
    return { ids, rejected, overStoredBytes };
  }

  /** Deletes the oldest ready message in memory (a redelivery or the window's front); false when there is none. */
  private dropOldest(): boolean {
    const fromRetry = this.peekRetry();
    let head = this.window.peekFront();
    while (head !== undefined && this.gone.has(head.offset)) {
      this.window.shift();
      this.windowBytes -= head.size;
      this.gone.delete(head.offset);
      head = this.window.peekFront();
    }
    if (fromRetry !== undefined && (head === undefined || fromRetry < head.offset)) {
      this.retry.pop();
      this.dropMessage(fromRetry);
      return true;
    }
    if (head === undefined) return false;
    this.window.shift();
    this.windowBytes -= head.size;
    this.changes.push(...this.book.forget(head.offset));
    this.changes.push({ kind: 'delMessage', offset: head.offset });
    this.unstore(head.size);
    return true;
  }

  /** The node stored these marked messages in their DLQ: their records go. 'stale' for one not marked. */
  deadLettered(offsets: readonly number[]): HandleResult[] {
    return offsets.map((offset) => {
      if (!this.book.marked.delete(offset)) return 'stale';
      this.changes.push({ kind: 'delMark', offset });
      this.changes.push(...this.book.forget(offset));
      this.changes.push({ kind: 'delMessage', offset });
      return 'ok';
    });
  }

  /** Marked messages waiting for the node to move them. */
  get pendingDeadLetters(): number {
    return this.book.marked.size;
  }

  // ---- commit ------------------------------------------------------------------------------------

  /** The changes made since the last call, ending with the partition state when it changed. */
  takeChanges(): Change[] {
    const out = this.changes;
    this.purgeInProgress = false;
    const batch = this.batchGroup;
    this.batchGroup = undefined;
    if (batch !== undefined) {
      const entries: Array<[number, DeliveryRecord]> = [];
      const taken = new Set<number>();
      for (const offset of batch.offsets) {
        const delivery = this.deliveries.get(offset);
        if (this.groupOf.get(offset) !== batch.id || delivery === undefined || taken.has(offset)) continue;
        taken.add(offset);
        entries.push([offset, delivery]);
      }
      if (entries.length > 0) {
        this.groups.set(batch.id, { size: entries.length, live: entries.length, offsets: entries.map(([o]) => o) });
        out.push({ kind: 'putDeliveries', group: { id: batch.id, entries } });
      }
    }
    if (this.dirtyState) out.push({ kind: 'putState', state: { ...this.state } });
    this.changes = [];
    this.dirtyState = false;
    return out;
  }

  get hasChanges(): boolean {
    return this.changes.length > 0 || this.dirtyState;
  }

  // ---- counts ------------------------------------------------------------------------------------

  counts(): { visible: number; inflight: number; delayed: number } {
    const inflight = this.deliveries.size - this.requeued.size;
    return {
      visible: Math.max(0, this.state.stored - inflight - this.state.delayedInPlace),
      inflight,
      delayed: this.state.delayed,
    };
  }

  /** Bytes of the messages held (ready, in flight, delayed), as maxStoredBytes counts them. */
  get storedBytes(): number {
    return this.state.bytes;
  }

  /** Messages of this partition dead-lettered so far (marked; moved or on their way). */
  get deadLetteredCount(): number {
    return this.state.deadLettered;
  }

  /** A plain summary for logs and the inspector. */
  summary(): Record<string, number> {
    return {
      ...this.counts(),
      nextOffset: this.state.nextOffset,
      window: this.fifo?.count ?? this.window.length,
      windowBytes: this.fifo?.bytes ?? this.windowBytes,
      ...(this.fifo === undefined ? {} : { heldGroups: this.fifo.heldGroups, skippedGroups: this.fifo.skipped.size }),
      diskCursor: this.diskCursor,
      retry: this.requeued.size,
      timers: this.timers.length,
    };
  }

  get partitionState(): Readonly<PartitionState> {
    return this.state;
  }
}

const EMPTY = new Uint8Array(0);

function before(due: number, seq: number, horizon: { due: number; seq: number }): boolean {
  return due < horizon.due || (due === horizon.due && seq < horizon.seq);
}
