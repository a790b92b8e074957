/**
 * A host's hybrid logical clock (actors/hosts/hlc.ts) on a cluster of independent hosts: every
 * message a shard's writer accepts here is stamped with it, and it merges the stamps of the
 * messages this host copies from the other hosts' shards. So a message accepted after this host
 * copied another one orders after it, even when this host's wall clock is behind the other's; and
 * a shard taken over by this host goes on with stamps above what its old writer gave (this host
 * followed that shard's log).
 *
 * Merging looks at the last message of each fetched batch only: the writer stamps in log order,
 * so the last one carries the batch's largest stamp, and the cost is one decode per fetch. At start
 * the clock takes in the last stamp of every replica's log tail on disk, so a host that restarts
 * with its wall clock stepped back does not stamp below what it wrote or copied before.
 */

/** Log entries read back from the end of each replica's log at start, looking for its last message. */
const RESTORE_TAIL_ENTRIES = 64;
import type { Logger } from 'pino';
import { compareHlc, merge, packHlc, tick, unpackHlc, ZERO_HLC, type Hlc } from '../../actors/hosts/hlc.ts';
import type { QueueName } from '../names.ts';
import { ReplicaStore } from '../replication/replica-store.ts';
import { keys } from '../storage/keys.ts';
import { decodeLogEntry, decodeMessage, decodeReplicaMeta } from '../storage/records.ts';
import type { Store, WriteOp } from '../storage/store.ts';

/** A stamp from a host this far ahead of our wall clock is logged: the clocks need attention (docs/models.md). */
export const SKEW_WARNING_MS = 500;

export class HostClock {
  private last: Hlc = ZERO_HLC;
  private readonly wall: () => number;
  private readonly log: Logger | undefined;

  constructor(wall: () => number, log?: Logger) {
    this.wall = wall;
    this.log = log;
  }

  /** The timestamp of a message accepted now, packed. */
  stamp(): Uint8Array {
    this.last = tick(this.last, this.wall());
    return packHlc(this.last);
  }

  /** Takes in a stamp seen on a message written elsewhere. */
  observe(packed: Uint8Array): void {
    const remote = unpackHlc(packed);
    if (remote === undefined || compareHlc(remote, this.last) <= 0) return;
    const { hlc, skewMs } = merge(this.last, remote, this.wall());
    if (skewMs > SKEW_WARNING_MS) this.log?.warn({ skewMs }, "a host's clock is ahead of this one: message timestamps follow the fastest clock");
    this.last = hlc;
  }

  /** Takes in the largest stamp of a batch of replicated log entries: the last message's, found from the end. */
  observeEntries(entries: ReadonlyArray<{ ops: readonly WriteOp[] }>): void {
    for (let e = entries.length - 1; e >= 0; e--) {
      const ops = (entries[e] as { ops: readonly WriteOp[] }).ops;
      for (let i = ops.length - 1; i >= 0; i--) {
        const op = ops[i] as WriteOp;
        if (op.type !== 'put' || !keys.holdsMessage(op.key)) continue;
        // A FIFO delay's timer record carries no stamp: the message before it does.
        const { hlc } = decodeMessage(op.value);
        if (hlc === undefined) continue;
        this.observe(hlc);
        return;
      }
    }
  }

  /** Takes in the last stamp of every replica log stored here (bounded read per replica). */
  async restore(store: Store): Promise<void> {
    for (const key of await store.scanKeys(keys.allReplicas, Number.MAX_SAFE_INTEGER)) {
      const { queue, partition } = keys.replicaOf(key);
      const [raw] = await store.getMany([key]);
      if (raw === undefined) continue;
      const { logStart, logEnd } = decodeReplicaMeta(raw);
      const tail = await new ReplicaStore(store, queue as QueueName, partition).read(Math.max(logStart, logEnd - RESTORE_TAIL_ENTRIES), logEnd);
      this.observeEntries(tail.map(decodeLogEntry));
    }
  }

  /** The latest timestamp given or seen. */
  current(): Hlc {
    return this.last;
  }
}
