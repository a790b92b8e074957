/**
 * The replicated log of one partition, as values: what a replica knows about its own log, and the
 * epoch history that decides where two logs diverge (Kafka KIP-101: truncate by epoch boundaries,
 * never by a high watermark).
 *
 * Every entry has an index (0, 1, 2, …) and the epoch of the primary that wrote it. A new primary's
 * first entry starts its epoch, so the history is a list of (epoch, first index) pairs, epochs
 * increasing. Two logs that agree on the last index of an epoch agree on everything before it, so
 * a follower whose last entry has epoch E keeps its log up to the end of E in the primary's history
 * and drops the rest.
 */

/** One change of the partition's stored state, as the storage layer writes it. */
export type LogOp = { type: 'put'; key: string; value: Uint8Array } | { type: 'del'; key: string };

export interface LogEntry {
  epoch: number;
  ops: LogOp[];
}

/** What a replica persists beside its log (one small record, rewritten with every log write). */
export interface ReplicaMeta {
  /** The queue incarnation this replica belongs to: data of an older queue of the same name is dropped. */
  incarnation: number;
  /** The highest epoch this replica has seen: entries, fetches and assignments below it are refused. */
  epoch: number;
  /** (epoch, index of its first entry), epochs increasing. */
  epochs: Array<[epoch: number, start: number]>;
  /**
   * Index of the first entry still stored. Entries below it were applied and deleted (the log keeps
   * a bounded tail, see `trimTo`); a follower that needs them copies a snapshot of the state instead.
   */
  logStart: number;
  /** Index after the last entry. */
  logEnd: number;
  /** Entries below this index have been applied to the partition's stored state. */
  applied: number;
  /**
   * The highest log end this replica ever acknowledged. A log end below it on load means the log
   * lost entries it had promised to keep (a rolled-back disk, a bad restore): the replica must not
   * count for commit or be elected until it has caught up past it.
   */
  mark: number;
  /** Epoch of the entry just below `mark`. */
  markEpoch: number;
  /**
   * A snapshot is being copied into the state: the state is partial until it completes. A replica
   * found in this condition on load starts over from an empty log (it stays a learner meanwhile).
   */
  installing: boolean;
}

export const emptyReplica = (incarnation: number): ReplicaMeta => ({
  incarnation,
  epoch: 0,
  epochs: [],
  logStart: 0,
  logEnd: 0,
  applied: 0,
  mark: 0,
  markEpoch: 0,
  installing: false,
});

/**
 * The replica with its log and state emptied, keeping what must outlive them: its incarnation, the
 * highest epoch seen, and the mark of what it once acknowledged (so it stays a learner until it has
 * copied that much again).
 */
export const resetReplica = (meta: ReplicaMeta, installing: boolean): ReplicaMeta => ({
  ...emptyReplica(meta.incarnation),
  epoch: meta.epoch,
  mark: meta.mark,
  markEpoch: meta.markEpoch,
  installing,
});

/** Whether the replica lacks entries it acknowledged (or holds a partial snapshot): not counted, never elected. */
export const isAmnesiac = (meta: ReplicaMeta): boolean => meta.installing || meta.logEnd < meta.mark;

/**
 * Where the log can be cut: entries more than `retain` below `below` (the applied index, or what the
 * primary must still serve) are no longer needed, but a cut is only worth a write once it frees at
 * least a quarter of `retain`, so trimming costs one small delete batch now and then.
 */
export function trimTo(logStart: number, below: number, retain: number): number | undefined {
  const to = below - retain;
  return to - logStart >= Math.max(1, Math.floor(retain / 4)) ? to : undefined;
}

/** Epoch of the entry at `index - 1`, i.e. of the last entry of a log ending at `index`; 0 for none. */
export function epochAt(epochs: ReplicaMeta['epochs'], end: number): number {
  let epoch = 0;
  for (const [e, start] of epochs) {
    if (start < end) epoch = e;
    else break;
  }
  return epoch;
}

/**
 * Where a log whose last entry has epoch `lastEpoch` stops agreeing with this history (of a log
 * ending at `logEnd`): the end of the largest epoch ≤ lastEpoch here, i.e. the start of the next
 * epoch, or logEnd when it is the last one. 0 when this history has no such epoch.
 */
export function endOfEpoch(epochs: ReplicaMeta['epochs'], logEnd: number, lastEpoch: number): number {
  let found = -1;
  for (let i = 0; i < epochs.length; i++) {
    const [e] = epochs[i] as [number, number];
    if (e <= lastEpoch) found = i;
    else break;
  }
  if (found < 0) return 0;
  const next = epochs[found + 1];
  return next === undefined ? logEnd : next[1];
}

/**
 * Where a follower's log must be cut before it can copy from this history (of a log ending at
 * `logEnd`), given the follower's log end `from` and the epoch `lastEpoch` of its last entry; or
 * undefined when the follower's log is a prefix of this one and it can fetch from `from`.
 *
 * Past the end of its last epoch here, the follower's tail diverges: cut at that end (KIP-101). If
 * this history has no entry of `lastEpoch` at all, every entry of that epoch on the follower came
 * from a primary whose entries this log does not hold, wherever that epoch started — possibly below
 * endOfEpoch (Kafka's KIP-279 case) — so the last entry goes, and the follower asks again with the
 * epoch of the entry before it. Such entries were never committed (a committed entry is in every
 * later primary's log), so a follower never has to drop an entry it applied.
 */
export function divergence(epochs: ReplicaMeta['epochs'], logEnd: number, from: number, lastEpoch: number): number | undefined {
  const end = endOfEpoch(epochs, logEnd, lastEpoch);
  if (from > end) return end;
  if (from > 0 && !epochs.some(([e]) => e === lastEpoch)) return from - 1;
  return undefined;
}

/** The history after truncating the log to `end`: epochs that start at or past it are gone. */
export function truncateEpochs(epochs: ReplicaMeta['epochs'], end: number): ReplicaMeta['epochs'] {
  return epochs.filter(([, start]) => start < end);
}

/** The history after appending an entry of `epoch` at `index`. */
export function withEntry(epochs: ReplicaMeta['epochs'], epoch: number, index: number): ReplicaMeta['epochs'] {
  const last = epochs[epochs.length - 1];
  if (last !== undefined && last[0] === epoch) return epochs;
  if (last !== undefined && last[0] > epoch) throw new Error(`entry of epoch ${epoch} after epoch ${last[0]}`);
  return [...epochs, [epoch, index]];
}
