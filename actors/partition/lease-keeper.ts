/**
 * The lease keeper: the server side of the opt-in lease heartbeat (docs/api.md, "Lease heartbeat").
 *
 * A receive that asked for the heartbeat hands its deliveries to the keeper under its principal and
 * the consumer name it carried: a lease holder is the pair, so a beat or goodbye of another principal
 * under the same consumer name neither keeps nor ends its leases (the nodes hear each principal's
 * beats on its own subject, which NATS lets only that principal publish: docs/security.md). While
 * that holder's beats keep coming, the keeper extends its leases before they run
 * out; once no beat has come for `timeoutMs` (or the consumer said goodbye), it ends them at once, so
 * the messages are receivable again within the timeout instead of after the visibility timeout.
 *
 * Pure like the ledger: time comes in as `now`, beats through `BeatsOf` (the node hears them on the
 * bus), and every extension or release is a ledger visibility change, so it goes into the
 * partition's next write and is replicated like any other. A live consumer's leases are looked at
 * every quarter of the timeout, and extended only when less than half their span is left, so a
 * partition writes at most one delivery group per look, not one per message per beat. The span,
 * max(visibility timeout, heartbeat timeout), is never shorter than the timeout, so while a consumer
 * lives its leases cannot lapse between two looks, and when it dies the keeper ends them first.
 *
 * What is kept is bounded by the deliveries it tracks (at most the ledger's in-flight limit): a
 * delete forgets its offset, a redelivery to anyone replaces it, and a consumer without leases goes.
 * The keeper lives in the primary's memory only: after a failover the new primary keeps no one's
 * leases alive, and they end at their last deadline, as without the heartbeat.
 */
import type { HandleResult } from './ledger.ts';
import type { DeliveryRecord } from './records.ts';

/**
 * One key per lease holder: principal names have no space (names.ts) and consumer names are
 * printable ASCII without it (codec.ts), so no two pairs share a key.
 */
export function leaseHolder(principal: string, consumer: string): string {
  return `${principal} ${consumer}`;
}

/** The last beat heard from a holder (`leaseHolder`) (wall ms), and whether it was a goodbye; undefined when none was. */
export type BeatsOf = (holder: string) => { at: number; goodbye: boolean } | undefined;

/** What the keeper needs of the ledger. */
export interface LeaseTarget {
  deliveryOf(offset: number, seq: number): Readonly<DeliveryRecord> | undefined;
  changeVisibility(offset: number, seq: number, visibilityMs: number, now: number): HandleResult;
}

interface Kept {
  /** leaseHolder(principal, consumer). */
  holder: string;
  seq: number;
  /** The receive's visibility timeout: each extension moves the deadline to now + max(it, timeout). */
  visibilityMs: number;
}

interface Holder {
  offsets: Set<number>;
  /** When its latest heartbeat receive was served: a sign of life older beats do not outweigh. */
  since: number;
  /** When its leases were last looked at. */
  checkedAt: number;
}

export class LeaseKeeper {
  private readonly kept = new Map<number, Kept>();
  private readonly holders = new Map<string, Holder>();
  private readonly timeoutMs: number;

  constructor(timeoutMs: number) {
    this.timeoutMs = timeoutMs;
  }

  /** Keeps the leases of deliveries made by a heartbeat receive of `consumer` as `principal`. */
  track(principal: string, consumer: string, deliveries: ReadonlyArray<{ offset: number; seq: number }>, visibilityMs: number, now: number): void {
    if (deliveries.length === 0) return;
    const key = leaseHolder(principal, consumer);
    let holder = this.holders.get(key);
    if (holder === undefined) {
      holder = { offsets: new Set(), since: now, checkedAt: now };
      this.holders.set(key, holder);
    }
    holder.since = Math.max(holder.since, now);
    for (const { offset, seq } of deliveries) {
      this.forget(offset);
      this.kept.set(offset, { holder: key, seq, visibilityMs });
      holder.offsets.add(offset);
    }
    // forget() may have dropped this holder while it was empty.
    if (!this.holders.has(key)) this.holders.set(key, holder);
  }

  /** The message at `offset` was deleted (or its lease is not the keeper's any more). */
  forget(offset: number): void {
    const k = this.kept.get(offset);
    if (k === undefined) return;
    this.kept.delete(offset);
    const holder = this.holders.get(k.holder);
    if (holder === undefined) return;
    holder.offsets.delete(offset);
    if (holder.offsets.size === 0) this.holders.delete(k.holder);
  }

  /** A purge: nothing is left to keep. */
  clear(): void {
    this.kept.clear();
    this.holders.clear();
  }

  /**
   * Extends the leases of live consumers that need it, and ends those of consumers silent for the
   * timeout or gone. Call before the ledger's own tick, so an ended lease is requeued in the same pass.
   */
  tick(ledger: LeaseTarget, now: number, beatsOf: BeatsOf): { extended: number; released: number } {
    let extended = 0;
    let released = 0;
    for (const [key, holder] of this.holders) {
      const beat = beatsOf(key);
      const lastSign = Math.max(holder.since, beat?.at ?? -Infinity);
      const gone = beat !== undefined && beat.goodbye && beat.at >= holder.since;
      if (gone || now - lastSign > this.timeoutMs) {
        for (const offset of holder.offsets) {
          const k = this.kept.get(offset) as Kept;
          this.kept.delete(offset);
          const d = ledger.deliveryOf(offset, k.seq);
          if (d !== undefined && d.deadline > now && ledger.changeVisibility(offset, k.seq, 0, now) === 'ok') released++;
        }
        this.holders.delete(key);
        continue;
      }
      if (now - holder.checkedAt < this.timeoutMs / 4) continue;
      holder.checkedAt = now;
      for (const offset of holder.offsets) {
        const k = this.kept.get(offset) as Kept;
        const d = ledger.deliveryOf(offset, k.seq);
        if (d === undefined || d.deadline <= now) {
          // Deleted, delivered again or already expired: not this consumer's lease any more.
          this.kept.delete(offset);
          holder.offsets.delete(offset);
          continue;
        }
        const span = Math.max(k.visibilityMs, this.timeoutMs);
        if (d.deadline - now < span / 2 && ledger.changeVisibility(offset, k.seq, span, now) === 'ok') extended++;
      }
      if (holder.offsets.size === 0) this.holders.delete(key);
    }
    return { extended, released };
  }

  /** Leases kept now, and by how many holders (for the inspector and tests). */
  get size(): { leases: number; consumers: number } {
    return { leases: this.kept.size, consumers: this.holders.size };
  }
}
