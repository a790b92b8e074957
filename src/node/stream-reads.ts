/**
 * Stream reads on the node of a partition's primary: straight from the store, below the readable
 * end, without a write and without the partition actor's writer. The readable end is the actor's
 * `committedOffset`, the next offset of its last settled write: in sync mode a write settles once
 * a majority of the replicas persisted it (and its state is applied), so a reader never sees a
 * message a failover could lose (Kafka's high watermark). In async mode it settles on the primary
 * alone, as acknowledgements do.
 *
 * A stream's stored offsets are the range [start, end): retention and purges remove only from the
 * head (stream.ts), so a read scans from an offset and a seek by time bisects the range.
 */
import type { PartitionResult, StreamRead } from '../../actors/partition/partition.events.ts';
import type { MessageRecord } from '../../actors/partition/records.ts';
import { recordSize } from '../../actors/partition/records.ts';
import type { Stream } from '../../actors/partition/stream.ts';
import type { QueueName } from '../names.ts';
import { keys } from '../storage/keys.ts';
import { decodeMessage } from '../storage/records.ts';
import type { Store } from '../storage/store.ts';

/** What a read needs of the serving partition actor, taken from one snapshot. */
export interface StreamView {
  stream: Stream | undefined;
  /** The next offset of the last settled write. */
  end: number;
}

/** Messages scanned per store call while a read fills its reply: a byte bound stops it between chunks. */
const READ_CHUNK = 64;

export function isStreamRead(op: { type: string }): op is StreamRead {
  return op.type === 'read' || op.type === 'findOffset' || op.type === 'offsets' || op.type === 'groups';
}

export async function serveStreamRead(store: Store, queue: string, partition: number, view: StreamView, op: StreamRead): Promise<PartitionResult> {
  const { stream, end } = view;
  if (stream === undefined) return { type: 'failed', code: 'wrong_queue_mode', message: `queue ${queue} is not a stream` };
  const q = queue as QueueName;
  switch (op.type) {
    case 'offsets': {
      const committed = op.group === undefined ? undefined : stream.committed(op.group);
      return committed === undefined ? { type: 'offsets', start: stream.start, end } : { type: 'offsets', start: stream.start, end, committed };
    }
    case 'groups':
      return { type: 'groups', groups: stream.groups() };
    case 'findOffset':
      return { type: 'offset', offset: await firstAtOrAfter(store, q, partition, stream.start, end, op.timestamp) };
    case 'read': {
      const start = stream.start;
      let from = Math.max(op.from, start);
      const messages: Array<[number, MessageRecord]> = [];
      let bytes = 0;
      while (from < end && messages.length < op.max) {
        const limit = Math.min(READ_CHUNK, op.max - messages.length);
        const rows = await store.scan(keys.messagesBetween(q, partition, from, end), limit);
        if (rows.length === 0) break;
        for (const [key, value] of rows) {
          const record = decodeMessage(value);
          const size = recordSize(record);
          if (messages.length > 0 && bytes + size > op.maxBytes) return { type: 'read', messages, start, end };
          messages.push([keys.offsetOf(key), record]);
          bytes += size;
        }
        from = (messages[messages.length - 1]?.[0] ?? from) + 1;
      }
      return { type: 'read', messages, start, end };
    }
    default:
      return op satisfies never;
  }
}

/**
 * The first offset in [start, end) whose message was sent at or after `timestamp`, or `end`: a
 * bisection (sentAt never decreases along the offsets), one key read per step, so O(log n) reads.
 * A message trimmed from the head meanwhile counts as older than any timestamp.
 */
async function firstAtOrAfter(store: Store, queue: QueueName, partition: number, start: number, end: number, timestamp: number): Promise<number> {
  let lo = start;
  let hi = end;
  while (lo < hi) {
    const mid = lo + Math.floor((hi - lo) / 2);
    const [value] = await store.getMany([keys.message(queue, partition, mid)]);
    if (value !== undefined && decodeMessage(value).sentAt >= timestamp) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
