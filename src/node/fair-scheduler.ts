/**
 * The node's fair scheduler: which partition's pending requests go to its actor next. A partition
 * actor turns the requests it is handed into one durable write, built on the event loop and
 * written in order behind the node's other writes (src/storage/write-thread.ts), so a partition
 * handed everything a flood left pending holds the thread while it builds one huge batch, and
 * every other partition's write queues behind that batch's. Instead, each turn of
 * the event loop serves the partitions with pending work in deficit round-robin order: each earns
 * `quantum` (messages) a round and hands over the requests that fit in what it has earned. A
 * flooded partition writes about a quantum at a time, and a quiet one waits for one quantum of
 * each busy partition, not for their backlogs (docs/isolation.md). A partition is handed nothing
 * while its actor already holds `maxWrite` messages of requests for its next write (the actor adds
 * whatever it is handed to that write, however many rounds it came in), so that write stays
 * bounded.
 *
 * Pending work is bounded per partition (`maxPending` messages): beyond it a request is refused
 * with `over_limit` at once, before it costs anything but its decoding.
 *
 * Per request O(1): partitions with work are in a ring (a deque), each one's requests in a deque.
 */
import Denque from 'denque';

/** What the scheduler serves: a partition's pending requests (partition-client.ts). */
export interface Pending {
  /** Cost of the i-th oldest pending request, messages; undefined past the last one. */
  costAt(i: number): number | undefined;
  /** Hands the oldest `count` pending requests to the partition, as one batch. */
  hand(count: number): void;
  /**
   * Whether the partition takes requests now: not while its actor holds `maxWrite` messages of
   * requests for its next write. A partition that says no leaves the ring and is woken again
   * (`wake`) once it takes requests. Absent: always.
   */
  accepting?(): boolean;
}

interface Entry {
  pending: Pending;
  deficit: number;
  ringed: boolean;
}

export class FairScheduler {
  /** Messages each partition with pending work may hand over per round; Infinity hands everything at once. */
  readonly quantum: number;
  /** Pending messages one partition may hold before requests are refused. */
  readonly maxPending: number;
  /**
   * Messages a partition's actor may hold for its next write before the partition is handed no
   * more (`writeQuanta` quanta). Fewer make a flooded partition's writes small and its throughput
   * lower; more make a quiet partition's write wait behind a larger one.
   */
  readonly maxWrite: number;
  private readonly ring = new Denque<Entry>();
  private readonly entries = new Map<Pending, Entry>();
  private scheduled = false;

  constructor(options: { quantum: number; maxPending: number; writeQuanta?: number }) {
    this.quantum = options.quantum;
    this.maxPending = options.maxPending;
    this.maxWrite = (options.writeQuanta ?? Infinity) * options.quantum;
  }

  /** `pending` has new work: it is served from the next turn of the event loop. */
  wake(pending: Pending): void {
    let entry = this.entries.get(pending);
    if (entry === undefined) {
      entry = { pending, deficit: 0, ringed: false };
      this.entries.set(pending, entry);
    }
    if (!entry.ringed) {
      entry.ringed = true;
      this.ring.push(entry);
    }
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.round);
    }
  }

  /** One round: every partition in the ring earns a quantum and hands over what fits. */
  private readonly round = (): void => {
    this.scheduled = false;
    for (let n = this.ring.length; n > 0; n--) {
      const entry = this.ring.shift() as Entry;
      if (entry.pending.accepting?.() === false) {
        // Its actor holds a full next write already: handing more would only grow that write.
        // It earns nothing meanwhile and comes back with `wake`.
        entry.ringed = false;
        continue;
      }
      entry.deficit = Math.min(entry.deficit + this.quantum, Number.MAX_SAFE_INTEGER);
      let count = 0;
      let cost = 0;
      for (let next = entry.pending.costAt(0); next !== undefined && cost + next <= entry.deficit; next = entry.pending.costAt(count)) {
        cost += next;
        count++;
      }
      if (count > 0) entry.pending.hand(count);
      entry.deficit -= cost;
      if (entry.pending.costAt(0) === undefined) {
        // An idle partition keeps no credit: a burst after a quiet spell starts from one quantum.
        entry.ringed = false;
        entry.deficit = 0;
        this.entries.delete(entry.pending);
      } else {
        this.ring.push(entry);
      }
    }
    if (this.ring.length > 0 && !this.scheduled) {
      this.scheduled = true;
      setImmediate(this.round);
    }
  };
}

/** The cost of a partition op for the scheduler: the messages it writes or reads. */
export function opCost(op: { type: string; messages?: unknown[]; items?: unknown[]; max?: number; offsets?: unknown[] }): number {
  return Math.max(1, op.messages?.length ?? op.items?.length ?? op.offsets?.length ?? op.max ?? 1);
}
