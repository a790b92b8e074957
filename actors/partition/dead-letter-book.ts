/**
 * The ledger's memory of dead letters: which messages are marked for their DLQ, how many delivery
 * attempts each redelivered message has recorded, and per-message TTLs of messages in memory (when
 * each delivery was made is in its delivery record, stored and replicated). Bounded: marks by MAX_PENDING_MARKS, the rest by the messages in
 * memory (the window and the deliveries). Produces the Changes that keep the attempts on disk.
 */
import FlatQueue from 'flatqueue';
import { MAX_ATTEMPTS_KEPT, MAX_PENDING_MARKS, type AttemptEnd } from './dead-letter.ts';
import type { Change, DeliveryRecord, LoadedPartition } from './records.ts';

export class DeadLetterBook {
  /** Offsets marked for the DLQ and not yet moved. */
  readonly marked = new Set<number>();
  /** Offsets with recorded attempts → the highest attempt number. */
  private readonly attempts = new Map<number, number>();
  /** Messages in memory that carry a TTL → when it ends; `due` orders them (entries go stale, checked on pop). */
  private readonly ttl = new Map<number, number>();
  private readonly due = new FlatQueue<number>();

  constructor(loaded: LoadedPartition) {
    for (const offset of loaded.marks ?? []) this.marked.add(offset);
    for (const [offset, n] of loaded.attempts ?? []) this.attempts.set(offset, n);
    for (const [offset, expiresAt] of loaded.ttls ?? []) this.expiresAt(offset, expiresAt);
  }

  get full(): boolean {
    return this.marked.size >= MAX_PENDING_MARKS;
  }

  attemptCount(offset: number): number {
    return this.attempts.get(offset) ?? 0;
  }

  /** A message with a TTL is in memory (window or deliveries). */
  expiresAt(offset: number, expiresAt: number | undefined): void {
    if (expiresAt === undefined || this.ttl.get(offset) === expiresAt) return;
    this.ttl.set(offset, expiresAt);
    this.due.push(offset, expiresAt);
  }

  ttlOf(offset: number): number | undefined {
    return this.ttl.get(offset);
  }

  /** Offsets whose TTL ended by `now`, each once. */
  *expired(now: number): Generator<number> {
    for (let at = this.due.peekValue(); at !== undefined && at <= now; at = this.due.peekValue()) {
      const offset = this.due.pop() as number;
      if (this.ttl.get(offset) !== at) continue;
      this.ttl.delete(offset);
      yield offset;
    }
  }

  /** Records how the delivery `delivery` of `offset` ended: one attempt key, the oldest beyond the bound deleted. */
  ended(offset: number, delivery: DeliveryRecord, how: AttemptEnd, endedAt: number): Change[] {
    const n = delivery.count;
    // Records written before delivery times were kept know only the first one.
    const at = delivery.at ?? (n === 1 ? delivery.first : undefined);
    this.attempts.set(offset, n);
    const changes: Change[] = [
      {
        kind: 'putAttempt',
        offset,
        attempt: { n, endedAt, ended: how, ...(at === undefined ? {} : { at }), ...(delivery.consumer === undefined ? {} : { consumer: delivery.consumer }) },
      },
    ];
    if (n > MAX_ATTEMPTS_KEPT) changes.push({ kind: 'delAttempt', offset, n: n - MAX_ATTEMPTS_KEPT });
    return changes;
  }

  /** The message is gone from this partition: its attempt keys go too. */
  forget(offset: number): Change[] {
    this.ttl.delete(offset);
    const n = this.attempts.get(offset);
    if (n === undefined) return [];
    this.attempts.delete(offset);
    const changes: Change[] = [];
    for (let i = Math.max(1, n - MAX_ATTEMPTS_KEPT + 1); i <= n; i++) changes.push({ kind: 'delAttempt', offset, n: i });
    return changes;
  }

  /** A purge: every mark and attempt key goes. */
  purge(): Change[] {
    const changes: Change[] = [];
    for (const offset of this.marked) changes.push({ kind: 'delMark', offset });
    for (const offset of [...this.attempts.keys()]) changes.push(...this.forget(offset));
    this.marked.clear();
    this.ttl.clear();
    this.due.clear();
    return changes;
  }
}
