/**
 * Per-queue figures for the queue view: the approximate counts from GetQueueAttributes (what
 * `wharf stats` shows, the oldest message's age included); two rates between consecutive samples:
 * how fast the queue's depth changes, and how fast its partitions' primaries append to their
 * replicated logs (entries per second; an entry is one batch of sends, leases or deletes), from the
 * heartbeats' log ends; and running totals of messages sent, received and deleted, from every
 * live node's counters (message-totals.ts), which the page turns into rates.
 */
import type { WharfClient } from '../../client/client.ts';
import { ErrorCode, isWharfError } from '../../errors.ts';
import type { QueueCounts } from '../../protocol/messages.ts';
import type { MessageCounters } from '../protocol.ts';
import type { ClusterMapView } from './cluster-map.ts';
import { MessageTotals } from './message-totals.ts';
import type { NodeRequests } from './node-requests.ts';

/** GetQueueAttributes requests under way at once. */
const CONCURRENCY = 8;

export interface QueueStats {
  queue: string;
  /** The latest counts; the previous sample's when this one failed. */
  counts: QueueCounts | null;
  /** Why this sample's request failed (the counts are then the previous ones), else null. */
  error: string | null;
  /** Change of visible + in flight + delayed per second since the previous sample; null on the first. */
  depthPerSecond: number | null;
  /** Log entries appended per second by the queue's primaries since the previous sample. */
  logEntriesPerSecond: number | null;
  /** Sum of the primaries' log ends, as reported. */
  logEnd: number;
  /** Messages sent, received (deliveries) and deleted since the inspector started, over all nodes. */
  messages: MessageCounters;
  sampledAt: number;
}

interface Sample {
  counts: QueueCounts | null;
  depth: number | null;
  logEnd: number;
  at: number;
}

const depthOf = (c: QueueCounts) =>
  c.approximateNumberOfMessages + c.approximateNumberOfMessagesNotVisible + c.approximateNumberOfMessagesDelayed;

const perSecond = (now: number, before: number, ms: number) => Math.round(((now - before) * 1000 * 10) / ms) / 10;

export class QueueStatsSampler {
  private readonly previous = new Map<string, Sample>();

  private readonly client: WharfClient;
  private readonly requests: Pick<NodeRequests, 'counters'>;
  private readonly now: () => number;
  private readonly totals = new MessageTotals();

  constructor(client: WharfClient, requests: Pick<NodeRequests, 'counters'>, now: () => number = Date.now) {
    this.client = client;
    this.requests = requests;
    this.now = now;
  }

  /** Asks every node not known dead for its counters; one that does not answer adds its share next time. */
  private async countMessages(map: ClusterMapView): Promise<void> {
    const nodes = map.nodes.filter((n) => n.liveness !== 'dead').map((n) => n.id);
    const replies = await Promise.all(nodes.map((node) => this.requests.counters(node).catch(() => undefined)));
    for (const reply of replies) if (reply !== undefined) this.totals.add(reply);
    this.totals.keep(new Set(map.queues.map((q) => q.name)), new Set(map.nodes.map((n) => n.id)));
  }

  async sample(map: ClusterMapView): Promise<QueueStats[]> {
    await this.countMessages(map);
    const queues = map.queues;
    const out = new Array<QueueStats>(queues.length);
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < queues.length; i = next++) {
        const q = queues[i];
        if (q !== undefined) out[i] = await this.one(q.name, q.partitions.reduce((sum, p) => sum + (p.logEnd ?? 0), 0));
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, queues.length) }, worker));
    const names = new Set(queues.map((q) => q.name));
    for (const name of this.previous.keys()) if (!names.has(name)) this.previous.delete(name);
    return out;
  }

  private async one(queue: string, logEnd: number): Promise<QueueStats> {
    let counts: QueueCounts | null = null;
    let error: string | null = null;
    try {
      counts = (await this.client.getQueueAttributes(queue)).counts;
    } catch (err) {
      error = isWharfError(err, ErrorCode.QueueNotFound) ? 'deleted' : err instanceof Error ? err.message : String(err);
    }
    const at = this.now();
    const depth = counts === null ? null : depthOf(counts);
    const before = this.previous.get(queue);
    this.previous.set(queue, { counts: counts ?? before?.counts ?? null, depth, logEnd, at });
    const ms = before === undefined ? 0 : at - before.at;
    return {
      queue,
      counts: counts ?? before?.counts ?? null,
      error,
      depthPerSecond: before?.depth != null && depth !== null && ms > 0 ? perSecond(depth, before.depth, ms) : null,
      logEntriesPerSecond: before !== undefined && ms > 0 && logEnd >= before.logEnd ? perSecond(logEnd, before.logEnd, ms) : null,
      logEnd,
      messages: this.totals.of(queue),
      sampledAt: at,
    };
  }
}
