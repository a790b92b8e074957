/**
 * The age of a partition's oldest message, read from the primary's store: what both the
 * `wharf_queue_oldest_message_age_seconds` gauge and GetQueueAttributes' approximateAgeOfOldestMessage
 * report, so the two never disagree.
 *
 * The oldest message not yet deleted is the older of two candidates, each one key away:
 * - the head of the partition's log: the lowest offset stored above the purge mark (ready or in
 *   flight). Offsets follow arrival, so it is the oldest of them, except for a delayed message
 *   that became ready after younger ones (it joins the log's tail);
 * - the delayed message due first (above the delayed purge mark).
 * Both are skipped when the partition state counts none of their kind, so an emptied or purged
 * partition reports 0 at once, consistent with its counts.
 */
import type { QueueName } from '../names.ts';
import { keys } from '../storage/keys.ts';
import { decodeMessage, decodeState } from '../storage/records.ts';
import type { Store } from '../storage/store.ts';

/**
 * Delayed keys of a purge stay on disk until the partition's reader removes them (soon after the
 * purge): a scan reads past this many of them at most, then gives up on the delayed candidate.
 */
const PURGED_DELAYED_SCAN = 256;

/** The sentAt of the partition's oldest message (ms), or undefined when it holds none. */
export async function oldestSentAt(store: Store, queue: QueueName, partition: number): Promise<number | undefined> {
  const [stateBytes] = await store.getMany([keys.partition(queue, partition)]);
  if (stateBytes === undefined) return undefined;
  const state = decodeState(stateBytes);
  let oldest: number | undefined;
  if (state.stored > 0) {
    const [head] = await store.scan(keys.messagesBetween(queue, partition, state.purgedOffset, 2 ** 52 - 1), 1);
    if (head !== undefined) oldest = decodeMessage(head[1]).sentAt;
  }
  if (state.delayed > 0) {
    const rows = await store.scan(keys.delayedAll(queue, partition), PURGED_DELAYED_SCAN);
    const first = rows.find(([key]) => keys.delayedOf(key).seq >= state.purgedDelayedSeq);
    if (first !== undefined) {
      const sentAt = decodeMessage(first[1]).sentAt;
      if (oldest === undefined || sentAt < oldest) oldest = sentAt;
    }
  }
  return oldest;
}

/** Milliseconds since the partition's oldest message was sent; 0 when it holds none. */
export async function oldestMessageAgeMs(store: Store, queue: QueueName, partition: number, now: number): Promise<number> {
  const sentAt = await oldestSentAt(store, queue, partition);
  return sentAt === undefined ? 0 : Math.max(0, now - sentAt);
}
