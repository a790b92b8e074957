/**
 * Dead letters, as the partition sees them: why a message leaves its queue for the dead-letter
 * queue, the history of its delivery attempts, and the per-queue policy the ledger applies. Pure
 * values and decisions; the move itself (read, send to the DLQ, remove here) is the node's
 * (src/node/dead-letters.ts).
 *
 * A message to dead-letter is *marked* by the ledger (a replicated Change): from then on it is no
 * longer receivable nor counted, but its m/ record stays until the node has stored it in the DLQ
 * and told the partition so (the `deadLettered` op). A crash in between sends it again with the
 * same deduplication id, which the DLQ recognises.
 */

export type DeadLetterReason = 'max-receives' | 'retention' | 'ttl' | 'overflow' | 'unknown-queue';

/** How one delivery attempt ended. */
export type AttemptEnd = 'lease-expired' | 'released' | 'dead-lettered';

/** One delivery attempt of a message that was delivered more than once (or dead-lettered while in flight). */
export interface Attempt {
  /** Its receive count: 1 for the first delivery. */
  n: number;
  /** When it was delivered, ms (absent only for deliveries recorded before delivery times were stored). */
  at?: number;
  /** When it ended, ms. */
  endedAt: number;
  consumer?: string;
  ended: AttemptEnd;
}

/** Attempts kept per message: the last ones, plus their total. */
export const MAX_ATTEMPTS_KEPT = 32;

/** What a partition stores for a message it decided to dead-letter (k/ key). */
export interface DeadLetterMark {
  reason: DeadLetterReason;
  receiveCount: number;
  /** Attempts recorded so far (the h/ keys hold the last MAX_ATTEMPTS_KEPT of them). */
  attempts: number;
  at: number;
}

/** What a dead-lettered message carries in the DLQ: where it came from and why. */
export interface DeadLetterInfo {
  sourceQueue: string;
  reason: DeadLetterReason;
  receiveCount: number;
  deadLetteredAt: number;
  /** How many attempts there were in all; `attempts` holds the last ones. */
  totalAttempts: number;
  attempts: Attempt[];
}

export type OverflowPolicy = 'reject' | 'drop-oldest' | 'dead-letter';

/** A send's length limit, per partition (the queue's maxLength spread over its partitions). */
export interface LengthLimit {
  maxLength: number;
  overflow: OverflowPolicy;
}

/** Marks a partition keeps pending at most: beyond it, nothing more is dead-lettered until the node catches up. */
export const MAX_PENDING_MARKS = 10_000;

/** A queue's maxLength as each of its `partitions` enforces it. */
export function partitionLength(maxLength: number, partitions: number): number {
  return Math.max(1, Math.ceil(maxLength / partitions));
}

/** The deduplication id a dead-lettered message is sent to its DLQ with: the same for every try. */
export function deadLetterDedupId(incarnation: number, partition: number, offset: number): string {
  return `dl-${incarnation.toString(36)}-${partition.toString(36)}-${offset.toString(36)}`;
}
