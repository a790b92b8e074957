/**
 * The node's fair scheduler: which partition's pending requests go to its actor next. A partition
 * actor turns the requests it is handed into one durable write, built on the event loop and
 * written in order behind the node's other writes (src/storage/write-thread.ts), so a partition
 * handed everything a flood left pending holds the thread while it builds one huge batch, and
 * every other partition's write queues behind that batch's. Instead, each turn of
 * the event loop serves the partitions with pending work in deficit round-robin order: each earns
 * `quantum` (messages) a round and hands over the requests that fit in what it has earned, round
 * after round, until it has handed everything or its actor holds `maxWrite` messages of requests
 * for its next write (the actor adds whatever it is handed to that write, however many rounds it
 * came in). That bound is one quantum while other partitions have work too: a flooded partition
 * then writes about a quantum at a time, and a quiet one waits for one quantum of each busy
 * partition, not for their backlogs (docs/isolation.md). Alone, a partition's writes may hold
 * `writeQuanta` quanta.
 *
 * Pending work is bounded per partition (`maxPending` messages): beyond it a request is refused
 * with `over_limit` at once, before it costs anything but its decoding.
 *
 * Per request O(1): partitions with work are in a ring (a deque), each one's requests in a deque.
 */
import Denque from 'denque';

/** How long after two partitions last had pending work at once their writes stay small (`maxWrite`). */
const SHARED_MS = 500;

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
  /** What a partition's actor may hold for its next write while it is the only one with work (`maxWrite`). */
  private readonly soloWrite: number;
  private readonly now: () => number;
  /** Until when (`now`) other partitions count as having work too. */
  private sharedUntil = -Infinity;
  private readonly ring = new Denque<Entry>();
  private readonly entries = new Map<Pending, Entry>();
  private scheduled = false;

  constructor(options: { quantum: number; maxPending: number; writeQuanta?: number; now?: () => number }) {
    this.quantum = options.quantum;
    this.maxPending = options.maxPending;
    this.soloWrite = (options.writeQuanta ?? Infinity) * options.quantum;
    this.now = options.now ?? (() => performance.now());
  }

  /**
   * Messages a partition's actor may hold for its next write before the partition is handed no
   * more. While it is the only partition with pending work (none other had any in the last
   * `SHARED_MS`), `writeQuanta` quanta: large writes, the throughput of a lone busy partition.
   * Otherwise one quantum: a flooded partition's writes stay small, and a quiet partition's write
   * waits behind less (docs/isolation.md).
   */
  get maxWrite(): number {
    return this.now() < this.sharedUntil ? Math.min(this.quantum, this.soloWrite) : this.soloWrite;
  }

  /** `pending` has new work: it is served from the next turn of the event loop. */
  wake(pending: Pending): void {
    let entry = this.entries.get(pending);
    if (entry === undefined) {
      entry = { pending, deficit: 0, ringed: false };
      this.entries.set(pending, entry);
      if (this.entries.size > 1) this.sharedUntil = this.now() + SHARED_MS;
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

  /**
   * One turn of the event loop: rounds in which every partition in the ring earns a quantum and
   * hands over what fits, until none is left in the ring. Each partition's share per round is the
   * same, so the turn stays fair; a partition leaves the ring when its actor holds a full next
   * write (`accepting`) or it has nothing more pending, and each round brings it nearer one or the
   * other. One round per turn would cap a busy partition at a quantum per turn of the event loop,
   * however idle the rest of the node (a receive of 500 messages took two turns).
   */
  private readonly round = (): void => {
    this.scheduled = false;
    // Partitions that stay busy keep their entries: each turn they share renews the window.
    if (this.entries.size > 1) this.sharedUntil = this.now() + SHARED_MS;
    while (this.ring.length > 0) {
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
    }
  };
}

/** The cost of a partition op for the scheduler: the messages it writes or reads. */
export function opCost(op: { type: string; messages?: unknown[]; items?: unknown[]; max?: number; offsets?: unknown[] }): number {
  return Math.max(1, op.messages?.length ?? op.items?.length ?? op.offsets?.length ?? op.max ?? 1);
}
