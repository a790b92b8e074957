/**
 * A queue's counts from its partitions' (GetQueueAttributes): sums of the message counts, and the
 * oldest message's age as the largest of the partitions', in whole seconds as SQS reports it.
 */
import type { QueueCounts } from '../protocol/messages.ts';
import type { PartitionCounts } from './partition-client.ts';

export function queueCounts(partitions: readonly PartitionCounts[]): QueueCounts {
  const total: QueueCounts = {
    approximateNumberOfMessages: 0,
    approximateNumberOfMessagesNotVisible: 0,
    approximateNumberOfMessagesDelayed: 0,
    approximateNumberOfMessagesDeadLettered: 0,
    approximateStoredBytes: 0,
    approximateAgeOfOldestMessage: 0,
  };
  let oldestMs = 0;
  for (const c of partitions) {
    total.approximateNumberOfMessages += c.visible;
    total.approximateNumberOfMessagesNotVisible += c.inflight;
    total.approximateNumberOfMessagesDelayed += c.delayed;
    total.approximateNumberOfMessagesDeadLettered += c.deadLettered ?? 0;
    total.approximateStoredBytes += c.storedBytes ?? 0;
    oldestMs = Math.max(oldestMs, c.oldestAgeMs);
  }
  total.approximateAgeOfOldestMessage = Math.floor(oldestMs / 1000);
  return total;
}
