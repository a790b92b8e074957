/**
 * A partition replica's log and metadata on RocksDB: load, append, read, truncate, apply.
 *
 * Keys (keys.ts): e/<q>/<p> (ReplicaMeta), r/<q>/<p>/<index> (log entries); applying an entry
 * writes the keys its ops name (the partition's s/, m/, l/, d/, u/ keys).
 *
 * The log is a bounded tail: entries more than `retain` below the applied index are deleted
 * (`logStart` moves up). A replica that needs older entries copies a snapshot instead: the primary
 * reads its state at one point in time (`openSnapshot`), the follower empties its own
 * (`beginInstall`), writes the pages (`installPage`) and ends at the snapshot's index
 * (`finishInstall`), from where it fetches the log again.
 *
 * Appends are synced before they resolve: a follower acknowledges an entry by fetching past it, and
 * a primary counts itself, so both must hold it on disk first. Applying is not synced: the entries
 * stay in the log until applied state is durable, and a restart applies from `meta.applied` again
 * (applying an entry twice leaves the same keys).
 */
import type { ReplicaMeta } from '../../actors/replica/log.ts';
import { emptyReplica, epochAt, resetReplica, trimTo, truncateEpochs, withEntry } from '../../actors/replica/log.ts';
import type { QueueName } from '../names.ts';
import { keys, type Range } from '../storage/keys.ts';
import { ErrorCode, WharfError } from '../errors.ts';
import { decodeLogEntry, decodeReplicaMeta, encodeReplicaMeta } from '../storage/records.ts';
import type { Store, StoreView, WriteOp } from '../storage/store.ts';

/** Entries applied per write when catching state up with a long log. */
const APPLY_CHUNK = 1024;

export class ReplicaStore {
  readonly queue: QueueName;
  readonly partition: number;
  private readonly store: Store;
  /** fsync appends (WHARF_SYNC_WRITES); off only where losing the latest writes of a node is acceptable. */
  private readonly sync: boolean;
  /** Log entries kept below the applied index. */
  readonly retain: number;

  constructor(store: Store, queue: QueueName, partition: number, sync = true, retain = Infinity) {
    this.store = store;
    this.sync = sync;
    this.retain = retain;
    this.queue = queue;
    this.partition = partition;
  }

  private metaOp(meta: ReplicaMeta): WriteOp {
    return { type: 'put', key: keys.replica(this.queue, this.partition), value: encodeReplicaMeta(meta) };
  }

  /** The replica's metadata; data left by an older queue of the same name is dropped first. */
  async load(incarnation: number): Promise<ReplicaMeta> {
    const [raw] = await this.store.getMany([keys.replica(this.queue, this.partition)]);
    const meta = raw ? decodeReplicaMeta(raw) : undefined;
    // A snapshot copy that did not finish left a partial state: empty it and start over.
    if (meta?.incarnation === incarnation && meta.installing) return this.reset(resetReplica(meta, false));
    if (meta?.incarnation === incarnation) return this.findLogStart(meta);
    await this.drop();
    const fresh = emptyReplica(incarnation);
    await this.saveMeta(fresh);
    return fresh;
  }

  /** The recorded log start can lag the primary's last trim: the first stored entry says where the log starts. */
  private async findLogStart(meta: ReplicaMeta): Promise<ReplicaMeta> {
    if (meta.logStart >= meta.applied) return meta;
    const [first] = await this.store.scanKeys(keys.logBetween(this.queue, this.partition, meta.logStart, meta.logEnd), 1);
    const start = first === undefined ? meta.logEnd : keys.offsetOf(first);
    return start > meta.logStart ? { ...meta, logStart: Math.min(start, meta.applied) } : meta;
  }

  /** The incarnation of the queue whose replica is stored here, if any. */
  async storedIncarnation(): Promise<number | undefined> {
    const [raw] = await this.store.getMany([keys.replica(this.queue, this.partition)]);
    return raw ? decodeReplicaMeta(raw).incarnation : undefined;
  }

  /** Persists `meta` alone (a newer epoch seen). */
  async saveMeta(meta: ReplicaMeta): Promise<void> {
    await this.store.write([this.metaOp(meta)], true);
  }

  /**
   * Appends encoded entries at `meta.logEnd` (each with its epoch), synced. `extra` ops (the
   * primary's own state changes, in async mode or with a single voter) go in the same write.
   */
  async append(meta: ReplicaMeta, entries: ReadonlyArray<{ epoch: number; bytes: Uint8Array }>, extra: readonly WriteOp[] = [], applied?: number): Promise<ReplicaMeta> {
    const ops: WriteOp[] = [...extra];
    let epochs = meta.epochs;
    let index = meta.logEnd;
    for (const e of entries) {
      ops.push({ type: 'put', key: keys.logEntry(this.queue, this.partition, index), value: e.bytes });
      epochs = withEntry(epochs, e.epoch, index);
      index++;
    }
    const next: ReplicaMeta = {
      ...meta,
      epoch: Math.max(meta.epoch, ...entries.map((e) => e.epoch)),
      epochs,
      logEnd: index,
      applied: applied ?? meta.applied,
      mark: Math.max(meta.mark, index),
      markEpoch: index >= meta.mark ? epochAt(epochs, index) : meta.markEpoch,
    };
    ops.push(this.metaOp(next));
    await this.store.write(ops, this.sync);
    return next;
  }

  /**
   * Encoded entries [from, to), or the run of them from `from` that is still stored: a trim racing
   * this read may have deleted the first ones, and a gap must never pass for the entries after it.
   */
  async read(from: number, to: number): Promise<Uint8Array[]> {
    if (to <= from) return [];
    const rows = await this.store.scan(keys.logBetween(this.queue, this.partition, from, to), to - from);
    const out: Uint8Array[] = [];
    for (const [key, value] of rows) {
      if (key !== keys.logEntry(this.queue, this.partition, from + out.length)) break;
      out.push(value);
    }
    return out;
  }

  /** Deletes of the log entries [from, to). */
  private trimOps(from: number, to: number): WriteOp[] {
    const ops: WriteOp[] = [];
    for (let i = from; i < to; i++) ops.push({ type: 'del', key: keys.logEntry(this.queue, this.partition, i) });
    return ops;
  }

  /**
   * Deletes log entries [from, to), already applied, without touching the metadata: the primary
   * trims beside its appends, whose metadata writes carry the new log start from then on (and a
   * load finds where the log really starts, see `load`). Not synced: any later synced write
   * makes it durable, and entries that come back after a crash are only deleted again.
   */
  async deleteLog(from: number, to: number): Promise<void> {
    await this.store.write(this.trimOps(from, to), false);
  }

  /**
   * Drops entries from `to` on. Entries already applied to the state cannot be taken back one by
   * one (a deposed primary applied what it wrote): then the state is cleared and rebuilt from the
   * log prefix it keeps, as the commit index comes in. The log itself is never shortened below `to`,
   * so committed entries keep their copies.
   */
  async truncate(meta: ReplicaMeta, to: number): Promise<ReplicaMeta> {
    // Applied entries would have to be replayed from a log prefix that was trimmed: start over from
    // nothing, as a learner until it holds `to` entries again (it acknowledged them once).
    if (to < meta.applied && meta.logStart > 0) {
      return this.reset({ ...resetReplica(meta, false), mark: Math.min(meta.mark, to), markEpoch: to < meta.mark ? epochAt(meta.epochs, to) : meta.markEpoch });
    }
    const rebuild = to < meta.applied;
    if (rebuild) await this.clear(keys.stateRanges(this.queue, this.partition));
    const dels = (await this.store.scanKeys(keys.logBetween(this.queue, this.partition, to, meta.logEnd), meta.logEnd - to + 1))
      .map((key): WriteOp => ({ type: 'del', key }));
    // A truncation the primary asked for is legitimate: the mark follows it down.
    const epochs = truncateEpochs(meta.epochs, to);
    const next: ReplicaMeta = {
      ...meta,
      epochs,
      logEnd: to,
      applied: rebuild ? 0 : meta.applied,
      mark: Math.min(meta.mark, to),
      markEpoch: to < meta.mark ? epochAt(epochs, to) : meta.markEpoch,
    };
    await this.store.write([...dels, this.metaOp(next)], true);
    return next;
  }

  /**
   * Applies entries [meta.applied, to) to the stored state; not synced (see above). The log tail
   * older than `retain` entries below the new applied index goes in the same write.
   */
  async apply(meta: ReplicaMeta, to: number): Promise<ReplicaMeta> {
    let next = meta;
    while (next.applied < Math.min(to, next.logEnd)) {
      const end = Math.min(to, next.logEnd, next.applied + APPLY_CHUNK);
      const ops: WriteOp[] = [];
      const entries = await this.read(next.applied, end);
      if (entries.length !== end - next.applied) throw new WharfError(ErrorCode.StorageFailure, `log entries ${next.applied}..${end} of ${this.queue}/${this.partition} are missing`);
      for (const bytes of entries) ops.push(...decodeLogEntry(bytes).ops);
      next = { ...next, applied: end };
      const cut = trimTo(next.logStart, end, this.retain);
      if (cut !== undefined) {
        ops.push(...this.trimOps(next.logStart, cut));
        next = { ...next, logStart: cut };
      }
      ops.push(this.metaOp(next));
      await this.store.write(ops, false);
    }
    return next;
  }

  /**
   * A follower's round: appends the fetched entries (synced) and, in the same write, applies what
   * the commit index now covers, taking each entry's changes from `entries` or from `decoded` (the
   * entries it fetched earlier, still in memory) instead of reading the log back. What is not in
   * memory is applied from the log afterwards, as `apply` does. Without entries nothing is synced.
   */
  async follow(
    meta: ReplicaMeta,
    entries: ReadonlyArray<{ epoch: number; bytes: Uint8Array; ops: readonly WriteOp[] }>,
    commit: number,
    decoded: (index: number) => readonly WriteOp[] | undefined,
  ): Promise<ReplicaMeta> {
    const to = Math.min(commit, meta.logEnd + entries.length);
    const changes: WriteOp[] = [];
    let applied = meta.applied;
    while (applied < to && applied - meta.applied < APPLY_CHUNK) {
      const ops = applied >= meta.logEnd ? entries[applied - meta.logEnd]?.ops : decoded(applied);
      if (ops === undefined) break;
      for (const op of ops) changes.push(op);
      applied++;
    }
    let next: ReplicaMeta = { ...meta, applied };
    const cut = trimTo(next.logStart, applied, this.retain);
    if (cut !== undefined) {
      changes.push(...this.trimOps(next.logStart, cut));
      next = { ...next, logStart: cut };
    }
    if (entries.length > 0) next = await this.append(next, entries, changes, applied);
    else if (changes.length > 0 || applied > meta.applied) await this.store.write([...changes, this.metaOp(next)], false);
    else next = meta;
    return next.applied < to ? this.apply(next, to) : next;
  }

  /** Writes ops of entries already persisted (the primary applying at commit) and the new applied index. */
  async applyOps(meta: ReplicaMeta, ops: readonly WriteOp[], applied: number): Promise<ReplicaMeta> {
    const next = { ...meta, applied };
    await this.store.write([...ops, this.metaOp(next)], false);
    return next;
  }

  /** Empties the log and the state and saves `meta` (an empty replica) first, synced. */
  private async reset(meta: ReplicaMeta): Promise<ReplicaMeta> {
    await this.saveMeta(meta);
    await this.clear([...keys.stateRanges(this.queue, this.partition), keys.log(this.queue, this.partition)]);
    return meta;
  }

  /**
   * Starts copying a snapshot: the replica is marked `installing` (durably, before anything is
   * deleted) and emptied. Until `finishInstall` it is a learner, and a restart starts over.
   */
  beginInstall(meta: ReplicaMeta): Promise<ReplicaMeta> {
    return this.reset(resetReplica(meta, true));
  }

  /** Writes one page of a snapshot; only keys of this partition's state are accepted. */
  async installPage(rows: ReadonlyArray<[string, Uint8Array]>): Promise<void> {
    const ranges = keys.stateRanges(this.queue, this.partition);
    const ops: WriteOp[] = [];
    for (const [key, value] of rows) {
      if (!ranges.some((r) => key >= r.gte && key < r.lt)) {
        throw new WharfError(ErrorCode.InvalidRequest, `a snapshot of ${this.queue}/${this.partition} holds a key outside it: ${key.slice(0, 120)}`);
      }
      ops.push({ type: 'put', key, value });
    }
    await this.store.write(ops, false);
  }

  /**
   * Ends a snapshot copy: the state is the primary's as of `index`, the log starts (empty) there
   * with the primary's epoch history below it. Synced, which also makes the pages durable.
   */
  async finishInstall(meta: ReplicaMeta, snapshot: { index: number; epochs: ReplicaMeta['epochs']; epoch: number }): Promise<ReplicaMeta> {
    const epochs = truncateEpochs(snapshot.epochs, snapshot.index);
    const next: ReplicaMeta = {
      ...meta,
      epoch: Math.max(meta.epoch, snapshot.epoch),
      epochs,
      logStart: snapshot.index,
      logEnd: snapshot.index,
      applied: snapshot.index,
      mark: Math.max(meta.mark, snapshot.index),
      markEpoch: snapshot.index >= meta.mark ? epochAt(epochs, snapshot.index) : meta.markEpoch,
      installing: false,
    };
    await this.saveMeta(next);
    return next;
  }

  /**
   * The replica's state at this instant, with the metadata that says which log index it reflects.
   * Called when no write of this replica is under way (the caller's job): the views of the several
   * key ranges are opened together, so they all see the same instant.
   */
  openSnapshot(): Snapshot {
    const key = keys.replica(this.queue, this.partition);
    return new Snapshot(this.store.view([{ gte: key, lt: `${key}\0` }, ...keys.stateRanges(this.queue, this.partition)]));
  }

  /** Deletes every key of this replica: log, metadata and state. */
  async drop(): Promise<void> {
    await this.clear(keys.partitionRanges(this.queue, this.partition));
  }

  private async clear(ranges: readonly Range[]): Promise<void> {
    for (const range of ranges) {
      for (;;) {
        const batch = await this.store.scanKeys(range, 10_000);
        if (batch.length === 0) break;
        await this.store.write(batch.map((key): WriteOp => ({ type: 'del', key })), false);
      }
    }
  }
}

/** A point-in-time read of a replica's state: first the metadata (its applied index), then pages of keys. */
export class Snapshot {
  private readonly view: StoreView;
  constructor(view: StoreView) {
    this.view = view;
  }

  async meta(): Promise<ReplicaMeta> {
    const [row] = await this.view.next(1, Infinity);
    if (!row) throw new WharfError(ErrorCode.Internal, 'a snapshot of a replica without metadata');
    return decodeReplicaMeta(row[1]);
  }

  next(limit: number, maxBytes: number): Promise<Array<[string, Uint8Array]>> {
    return this.view.next(limit, maxBytes);
  }

  close(): Promise<void> {
    return this.view.close();
  }
}

/**
 * Drops the last `k` entries of a replica's log while keeping its mark: what a disk that lost its
 * latest writes looks like. For fault tests and for operators rehearsing recovery on a stopped
 * node's store; the replica comes back as a learner until it has the entries again.
 */
export async function rollBackLog(store: Store, queue: QueueName, partition: number, k: number): Promise<ReplicaMeta> {
  const [raw] = await store.getMany([keys.replica(queue, partition)]);
  if (!raw) throw new Error(`no replica of ${queue}/${partition} in this store`);
  const meta = decodeReplicaMeta(raw);
  const to = Math.max(0, meta.logEnd - k);
  const dels = (await store.scanKeys(keys.logBetween(queue, partition, to, meta.logEnd), k + 1)).map((key): WriteOp => ({ type: 'del', key }));
  const next: ReplicaMeta = { ...meta, epochs: truncateEpochs(meta.epochs, to), logEnd: to, applied: Math.min(meta.applied, to) };
  await store.write([...dels, { type: 'put', key: keys.replica(queue, partition), value: encodeReplicaMeta(next) }], true);
  return next;
}
