/**
 * A partition replica's log and metadata on RocksDB: load, append, read, truncate, apply.
 *
 * Keys (keys.ts): e/<q>/<p> (ReplicaMeta), r/<q>/<p>/<index> (log entries); applying an entry
 * writes the keys its ops name (the partition's s/, m/, l/, d/ keys).
 *
 * Appends are synced before they resolve: a follower acknowledges an entry by fetching past it, and
 * a primary counts itself, so both must hold it on disk first. Applying is not synced: the entries
 * stay in the log until applied state is durable, and a restart applies from `meta.applied` again
 * (applying an entry twice leaves the same keys).
 */
import type { ReplicaMeta } from '../../actors/replica/log.ts';
import { emptyReplica, epochAt, truncateEpochs, withEntry } from '../../actors/replica/log.ts';
import type { QueueName } from '../names.ts';
import { keys, type Range } from '../storage/keys.ts';
import { decodeLogEntry, decodeReplicaMeta, encodeReplicaMeta } from '../storage/records.ts';
import type { Store, WriteOp } from '../storage/store.ts';

/** Entries applied per write when catching state up with a long log. */
const APPLY_CHUNK = 1024;

export class ReplicaStore {
  readonly queue: QueueName;
  readonly partition: number;
  private readonly store: Store;
  /** fsync appends (WHARF_SYNC_WRITES); off only where losing the latest writes of a node is acceptable. */
  private readonly sync: boolean;

  constructor(store: Store, queue: QueueName, partition: number, sync = true) {
    this.store = store;
    this.sync = sync;
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
    if (meta?.incarnation === incarnation) return meta;
    await this.drop();
    const fresh = emptyReplica(incarnation);
    await this.saveMeta(fresh);
    return fresh;
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
      incarnation: meta.incarnation,
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

  /** Encoded entries [from, to). */
  async read(from: number, to: number): Promise<Uint8Array[]> {
    if (to <= from) return [];
    const rows = await this.store.scan(keys.logBetween(this.queue, this.partition, from, to), to - from);
    return rows.map(([, v]) => v);
  }

  /**
   * Drops entries from `to` on. Entries already applied to the state cannot be taken back one by
   * one (a deposed primary applied what it wrote): then the state is cleared and rebuilt from the
   * log prefix it keeps, as the commit index comes in. The log itself is never shortened below `to`,
   * so committed entries keep their copies.
   */
  async truncate(meta: ReplicaMeta, to: number): Promise<ReplicaMeta> {
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

  /** Applies entries [meta.applied, to) to the stored state; not synced (see above). */
  async apply(meta: ReplicaMeta, to: number): Promise<ReplicaMeta> {
    let next = meta;
    while (next.applied < Math.min(to, next.logEnd)) {
      const end = Math.min(to, next.logEnd, next.applied + APPLY_CHUNK);
      const ops: WriteOp[] = [];
      for (const bytes of await this.read(next.applied, end)) ops.push(...decodeLogEntry(bytes).ops);
      next = { ...next, applied: end };
      ops.push(this.metaOp(next));
      await this.store.write(ops, false);
    }
    return next;
  }

  /** Writes ops of entries already persisted (the primary applying at commit) and the new applied index. */
  async applyOps(meta: ReplicaMeta, ops: readonly WriteOp[], applied: number): Promise<ReplicaMeta> {
    const next = { ...meta, applied };
    await this.store.write([...ops, this.metaOp(next)], false);
    return next;
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
