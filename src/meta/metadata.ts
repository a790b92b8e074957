/**
 * The metadata service: the cluster's catalog (queues, partition assignments, nodes, the manager's
 * lease) in NATS JetStream KV, with an in-memory copy on every node kept fresh by KV watches.
 *
 * Reads are synchronous and come from that copy: it may lag the bucket by a moment, which costs a
 * redirect or a failed compare-and-swap, never a wrong decision, because every write that decides
 * something is a CAS on the revision the writer read. A successful write is in the copy before its
 * promise resolves, so a writer reads its own writes.
 *
 * A watch can lag: its consumer lives on one NATS server, and when that server is cut off or the
 * stream changes leader, the client notices only after the consumer's heartbeats go missing, seconds
 * later. Nodes therefore also announce each of their writes on a core NATS subject (`metaChanges`,
 * `shareChanges`), with the revision the stream's leader gave it, and apply the others' as they
 * apply watch events: only when newer than what they hold. An announcement is a hint that arrives
 * sooner; a lost one costs nothing, as the watch brings the same write later.
 *
 * Buckets, keys and record types are fixed in records.ts.
 */
import { setTimeout as delay } from 'node:timers/promises';
import {
  JetStreamApiCodes,
  JetStreamApiError,
  jetstream,
  PubHeaders,
  StorageType,
  type JetStreamClient,
} from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { Empty, headers, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { pino, type Logger } from 'pino';
import { ErrorCode, WharfError } from '../errors.ts';
import { clusterName } from '../names.ts';
import { decodeMetaChange, encodeMetaChange } from '../protocol/internal.ts';
import { subjects } from '../protocol/subjects.ts';
import {
  assignmentKey,
  buckets,
  KV_KEY,
  MANAGER_LEASE_KEY,
  METADATA_BUCKETS,
  type Assignment,
  type ManagerLease,
  type MetadataBucket,
  type NodeRecord,
  type QueueMeta,
} from './records.ts';
import { ASSIGNMENT, decodeRecord, encodeRecord, LEASE, NODE, QUEUE, type RecordKind } from './schemas.ts';
import { WatchedBucket, type Versioned } from './watched-bucket.ts';

export type { Versioned } from './watched-bucket.ts';

export interface MetadataOptions {
  /** Copies of each bucket. @default 3 when the server is part of a NATS cluster, else 1 */
  replicas?: number;
  log?: Logger;
  /** How long `open` may take to create the buckets and load them, ms. @default 15000 */
  openTimeoutMs?: number;
  /**
   * Announce this copy's writes on the cluster's `metaChanges` subject and apply those of others
   * (see above). Broker nodes do; a CLI or an inspector, whose NATS user may not use the subject, does not.
   * @default false
   */
  shareChanges?: boolean;
}

type Listener<T> = (key: string, entry: Versioned<T> | undefined) => void;

interface Waiter {
  check(): void;
  fail(err: WharfError): void;
}

/** What each bucket holds. */
interface Records {
  queues: QueueMeta;
  partitions: Assignment;
  nodes: NodeRecord;
  manager: ManagerLease;
}

type BucketName = MetadataBucket;

const BUCKETS: readonly BucketName[] = METADATA_BUCKETS;

const KINDS: { [B in BucketName]: RecordKind<Records[B]> } = {
  queues: QUEUE,
  partitions: ASSIGNMENT,
  nodes: NODE,
  manager: LEASE,
};

const DESCRIPTIONS: Record<BucketName, string> = {
  queues: 'Wharf queues and their attributes',
  partitions: 'Wharf partition assignments: replicas, primary, epoch',
  nodes: 'Wharf node registry',
  manager: "Wharf cluster manager's lease",
};

/**
 * Timeout of every JetStream request (creating or finding a bucket, setting up a watch, reads and
 * writes), ms. Short, and retried by the callers: right after a NATS server of a cluster went away
 * a request can go unanswered while the stream or the JetStream meta group elects a leader, and
 * the next try is answered. With the client's default (5 s), a manager lease renewal sent while a
 * bucket had no leader was still waiting seconds after the new leader was there, and longer than
 * the lease it was to renew.
 */
const REQUEST_TIMEOUT_MS = 2_000;

export class Metadata {
  private readonly nc: NatsConnection;
  private readonly js: JetStreamClient;
  private readonly log: Logger;
  private readonly kvs: Record<BucketName, KV>;
  private readonly names: Record<BucketName, string>;
  private readonly buckets: { [B in BucketName]: WatchedBucket<Records[B]> };
  private readonly listeners: { [B in BucketName]: Set<Listener<Records[B]>> } = {
    queues: new Set(),
    partitions: new Set(),
    nodes: new Set(),
    manager: new Set(),
  };
  private readonly waiters = new Set<Waiter>();
  private statusIterator: AsyncIterable<unknown> | undefined;
  private changes: { subject: string; subscription: Subscription } | undefined;
  private closed = false;

  private constructor(
    nc: NatsConnection,
    js: JetStreamClient,
    kvs: Record<BucketName, KV>,
    watchKvs: Record<BucketName, KV>,
    names: Record<BucketName, string>,
    log: Logger,
  ) {
    this.nc = nc;
    this.js = js;
    this.log = log;
    this.kvs = kvs;
    this.names = names;
    const watched = <B extends BucketName>(bucket: B): WatchedBucket<Records[B]> =>
      new WatchedBucket<Records[B]>({
        nc,
        kv: watchKvs[bucket],
        bucket: names[bucket],
        kind: KINDS[bucket],
        log,
        onChange: (key, entry) => this.changed(bucket, key, entry),
      });
    this.buckets = {
      queues: watched('queues'),
      partitions: watched('partitions'),
      nodes: watched('nodes'),
      manager: watched('manager'),
    };
  }

  private allBuckets(): Array<WatchedBucket<unknown>> {
    return BUCKETS.map((b) => this.buckets[b] as WatchedBucket<unknown>);
  }

  /**
   * Creates the cluster's buckets, or binds to them if they exist (several nodes may open at
   * once), and resolves once every bucket's current values are cached.
   * Fails with `unavailable` when NATS or JetStream does not answer in time.
   */
  static async open(nc: NatsConnection, cluster: string, options: MetadataOptions = {}): Promise<Metadata> {
    const name = clusterName(cluster);
    const log = (options.log ?? pino({ level: 'silent' })).child({ component: 'metadata' });
    const replicas = options.replicas ?? (nc.info?.cluster ? 3 : 1);
    const timeoutMs = options.openTimeoutMs ?? 15_000;
    const js = jetstream(nc, { timeout: REQUEST_TIMEOUT_MS });
    const kvm = new Kvm(js);
    const names = buckets(name);
    const deadline = Date.now() + timeoutMs;

    const kvs = {} as Record<BucketName, KV>;
    // The watches' handles are the same, kept apart so that a test can serve a watch from a
    // follower's copy (test/unit/manager-lease-refresh.test.ts).
    const watchKvs = {} as Record<BucketName, KV>;
    const watchKvm = kvm;
    await Promise.all(
      BUCKETS.map(async (bucket) => {
        await ensureBucket(nc, names[bucket], { replicas, description: DESCRIPTIONS[bucket] }, deadline, log);
        // A bound bucket reads from the stream's leader (no direct get from a replica), so a read
        // after a failed CAS sees the value that won.
        kvs[bucket] = await guard(`bind bucket ${names[bucket]}`, () => kvm.open(names[bucket]));
        watchKvs[bucket] = await guard(`bind bucket ${names[bucket]}`, () => watchKvm.open(names[bucket]));
      }),
    );

    const metadata = new Metadata(nc, js, kvs, watchKvs, names, log);
    metadata.followConnection();
    if (options.shareChanges === true) metadata.shareChanges(subjects(name).metaChanges);
    const all = metadata.allBuckets();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), Math.max(deadline - Date.now(), 0));
    });
    try {
      const outcome = await Promise.race([Promise.all(all.map((b) => b.start())), timedOut]);
      if (outcome === 'timeout') {
        const cause = all.map((b) => b.error).find((e) => e !== undefined);
        await metadata.close();
        throw new WharfError(ErrorCode.Unavailable, `metadata: buckets of cluster ${name} not loaded within ${timeoutMs} ms`, {
          cause,
        });
      }
    } finally {
      clearTimeout(timer);
    }
    log.debug({ cluster: name, replicas, queues: metadata.buckets.queues.entries.size }, 'metadata loaded');
    return metadata;
  }

  // ---- reads, from the cache ----

  queue(name: string): Versioned<QueueMeta> | undefined {
    return this.buckets.queues.entries.get(name);
  }

  /** Every queue, by name. */
  queues(): Array<Versioned<QueueMeta>> {
    return sortedValues(this.buckets.queues.entries);
  }

  assignment(queue: string, partition: number): Versioned<Assignment> | undefined {
    return this.buckets.partitions.entries.get(assignmentKey(queue, partition));
  }

  /** Every assignment, or those of one queue, by queue then partition. */
  assignments(queue?: string): Array<Versioned<Assignment>> {
    const all = [...this.buckets.partitions.entries.values()];
    const chosen = queue === undefined ? all : all.filter((a) => a.value.queue === queue);
    return chosen.sort((a, b) =>
      a.value.queue === b.value.queue ? a.value.partition - b.value.partition : a.value.queue < b.value.queue ? -1 : 1,
    );
  }

  node(id: string): Versioned<NodeRecord> | undefined {
    return this.buckets.nodes.entries.get(id);
  }

  /** Every registered node, by id. */
  nodes(): Array<Versioned<NodeRecord>> {
    return sortedValues(this.buckets.nodes.entries);
  }

  lease(): Versioned<ManagerLease> | undefined {
    return this.buckets.manager.entries.get(MANAGER_LEASE_KEY);
  }

  // ---- change listeners: called after the cache changed; each returns its unsubscribe ----

  onQueue(listener: (name: string, entry: Versioned<QueueMeta> | undefined) => void): () => void {
    return this.listen('queues', listener);
  }

  /** `key` is `assignmentKey(queue, partition)`; the entry, when there is one, names both. */
  onAssignment(listener: (key: string, entry: Versioned<Assignment> | undefined) => void): () => void {
    return this.listen('partitions', listener);
  }

  onNode(listener: (id: string, entry: Versioned<NodeRecord> | undefined) => void): () => void {
    return this.listen('nodes', listener);
  }

  onLease(listener: (entry: Versioned<ManagerLease> | undefined) => void): () => void {
    return this.listen('manager', (key, entry) => {
      if (key === MANAGER_LEASE_KEY) listener(entry);
    });
  }

  /**
   * Resolves once `predicate` holds: now, or after a cache change made it true. Rejects with
   * `timeout` when it still does not hold after `timeoutMs`, with `unavailable` on close.
   */
  waitFor(predicate: () => boolean, timeoutMs: number): Promise<void> {
    if (this.closed) return Promise.reject(closedError());
    try {
      if (predicate()) return Promise.resolve();
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    return new Promise<void>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
      };
      const waiter: Waiter = {
        check: () => {
          let holds: boolean;
          try {
            holds = predicate();
          } catch (err) {
            done();
            reject(err instanceof Error ? err : new Error(String(err)));
            return;
          }
          if (holds) {
            done();
            resolve();
          }
        },
        fail: (err) => {
          done();
          reject(err);
        },
      };
      const timer = setTimeout(() => {
        done();
        reject(new WharfError(ErrorCode.Timeout, `metadata: condition not met within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  // ---- writes: compare-and-swap; `revision` 0 means "the key must not exist (or be deleted)" ----

  /**
   * Creates a queue's record unless one exists: then returns the existing record and `created`
   * false (the caller compares attributes).
   */
  async createQueue(meta: QueueMeta): Promise<{ created: boolean; entry: Versioned<QueueMeta> }> {
    // Retried only when the existing record was deleted between the create and the read.
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const written = await this.cas('queues', meta, 0);
      if (written !== undefined) return { created: true, entry: written };
      const existing = await this.read('queues', meta.name);
      if (existing !== undefined) return { created: false, entry: existing };
    }
    throw new WharfError(ErrorCode.Unavailable, `metadata: queue ${meta.name} keeps being created and deleted`);
  }

  /** The new revision, or undefined when the record is no longer at `revision`. */
  async updateQueue(meta: QueueMeta, revision: number): Promise<number | undefined> {
    return (await this.cas('queues', meta, revision))?.revision;
  }

  /** Deletes a queue's record (at `revision` if given). False when it is no longer at `revision`. */
  deleteQueue(name: string, revision?: number): Promise<boolean> {
    return this.remove('queues', name, revision);
  }

  /** The new revision, or undefined when the assignment is no longer at `revision` (0: must not exist). */
  async casAssignment(assignment: Assignment, revision: number): Promise<number | undefined> {
    return (await this.cas('partitions', assignment, revision))?.revision;
  }

  /** Deletes an assignment (at `revision` if given). False when it is no longer at `revision`. */
  deleteAssignment(queue: string, partition: number, revision?: number): Promise<boolean> {
    return this.remove('partitions', assignmentKey(queue, partition), revision);
  }

  /** Registers or updates a node: a plain put, each node owns its own key. Returns the revision. */
  async putNode(record: NodeRecord): Promise<number> {
    const { key, bytes, value } = this.encode('nodes', record);
    const revision = await guard(`put node ${key}`, () => this.kvs.nodes.put(key, bytes));
    this.buckets.nodes.applyPut(key, revision, value);
    this.announce('nodes', key, revision, bytes);
    return revision;
  }

  /** The new revision, or undefined when the lease is no longer at `revision` (0: must not exist). */
  async casLease(lease: ManagerLease, revision: number): Promise<number | undefined> {
    return (await this.cas('manager', lease, revision))?.revision;
  }

  /** Stops the watches. The connection stays open (it is the caller's). Pending waits fail. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    stopIterable(this.statusIterator);
    this.changes?.subscription.unsubscribe();
    for (const waiter of [...this.waiters]) waiter.fail(closedError());
    for (const bucket of this.allBuckets()) bucket.stop();
  }

  // ---- internals ----

  private listen<B extends BucketName>(bucket: B, listener: Listener<Records[B]>): () => void {
    const set = this.listeners[bucket];
    set.add(listener);
    return () => {
      set.delete(listener);
    };
  }

  private changed<B extends BucketName>(bucket: B, key: string, entry: Versioned<Records[B]> | undefined): void {
    for (const listener of [...this.listeners[bucket]]) {
      try {
        listener(key, entry);
      } catch (err) {
        // A listener's bug must not stop the watch or the other listeners.
        this.log.error({ err, bucket: this.names[bucket], key }, 'metadata listener threw');
      }
    }
    for (const waiter of [...this.waiters]) waiter.check();
  }

  private shareChanges(subject: string): void {
    const subscription = this.nc.subscribe(subject, {
      callback: (err, msg) => {
        if (err === null) this.applyChange(msg.data);
        else this.log.warn({ err }, 'metadata change subscription failed');
      },
    });
    this.changes = { subject, subscription };
  }

  /** Publishes a write this copy made (value absent: a delete marker); fire and forget, the watch is the fallback. */
  private announce(bucket: BucketName, key: string, revision: number, value?: Uint8Array): void {
    if (this.changes === undefined || this.closed) return;
    try {
      this.nc.publish(this.changes.subject, encodeMetaChange({ bucket, key, revision, ...(value === undefined ? {} : { value }) }));
    } catch (err) {
      // A closed or draining connection: the other nodes' watches will bring the write.
      this.log.debug({ err, bucket: this.names[bucket], key }, 'metadata change not announced');
    }
  }

  /** Applies another node's announced write, as a watch event: only if newer than the cached key. */
  private applyChange(frame: Uint8Array): void {
    try {
      const { bucket, key, revision, value } = decodeMetaChange(frame);
      const target = this.buckets[bucket] as WatchedBucket<unknown>;
      if (value === undefined) target.applyDelete(key, revision);
      else target.applyPut(key, revision, decodeRecord(KINDS[bucket] as RecordKind<unknown>, key, value));
    } catch (err) {
      // Ignored, cache unchanged, as a malformed watched record is.
      this.log.warn({ err }, 'malformed metadata change ignored');
    }
  }

  /** Re-watches every bucket when the connection comes back: the server may have lost the watches. */
  private followConnection(): void {
    const statuses = this.nc.status();
    this.statusIterator = statuses;
    void (async () => {
      for await (const status of statuses) {
        if (this.closed) break;
        if (status.type === 'reconnect') {
          this.log.info({ server: status.server }, 'NATS reconnected; re-watching metadata');
          for (const bucket of this.allBuckets()) bucket.resync();
        }
      }
    })().catch((err: unknown) => this.log.warn({ err }, 'NATS status listener ended'));
  }

  private encode<B extends BucketName>(bucket: B, record: Records[B]) {
    const kind = KINDS[bucket];
    try {
      return encodeRecord(kind, record);
    } catch (err) {
      // Writing a record no reader would accept is a bug in the caller.
      throw new WharfError(ErrorCode.Internal, `metadata: refusing to write a malformed ${kind.kind}`, { cause: err });
    }
  }

  private async cas<B extends BucketName>(
    bucket: B,
    record: Records[B],
    revision: number,
  ): Promise<Versioned<Records[B]> | undefined> {
    if (!Number.isInteger(revision) || revision < 0) {
      throw new WharfError(ErrorCode.Internal, `metadata: bad revision ${revision}`);
    }
    const { key, bytes, value } = this.encode(bucket, record);
    const kv = this.kvs[bucket];
    let written: number;
    try {
      written = revision === 0 ? await kv.create(key, bytes) : await kv.update(key, bytes, revision);
    } catch (err) {
      if (isCasConflict(err)) {
        await this.refresh(bucket, key);
        return undefined;
      }
      throw unavailable(`write ${this.names[bucket]}/${key}`, err);
    }
    this.buckets[bucket].applyPut(key, written, value);
    this.announce(bucket, key, written, bytes);
    return { value, revision: written };
  }

  /**
   * A delete marker, published by hand rather than with `kv.delete`, which does not return the
   * marker's revision: the cache needs it to refuse an older put arriving late from the watch.
   */
  private async remove(bucket: BucketName, key: string, revision?: number): Promise<boolean> {
    if (revision !== undefined && (!Number.isInteger(revision) || revision <= 0)) {
      throw new WharfError(ErrorCode.Internal, `metadata: bad revision ${revision}`);
    }
    // The key becomes part of a subject: a wildcard or an empty token must not get that far.
    if (!KV_KEY.test(key)) throw new WharfError(ErrorCode.InvalidName, `metadata: invalid key ${JSON.stringify(key)}`);
    const h = headers();
    h.set('KV-Operation', 'DEL');
    if (revision !== undefined) h.set(PubHeaders.ExpectedLastSubjectSequenceHdr, String(revision));
    let marker: number;
    try {
      const ack = await this.js.publish(`$KV.${this.names[bucket]}.${key}`, Empty, { headers: h });
      marker = ack.seq;
    } catch (err) {
      if (isCasConflict(err)) {
        await this.refresh(bucket, key);
        return false;
      }
      throw unavailable(`delete ${this.names[bucket]}/${key}`, err);
    }
    this.buckets[bucket].applyDelete(key, marker);
    this.announce(bucket, key, marker);
    return true;
  }

  /**
   * After a lost compare-and-swap: caches the key as the stream's leader has it, so the writer's
   * next attempt names the revision the leader checks. The watch alone cannot be trusted for that:
   * its (R1, ordered) consumer may sit on a follower whose copy of the stream numbers the same
   * entries differently (seen after nats-server hard kills: a replica one sequence behind the
   * leader), and a writer that retried with the watched revision would lose every swap, forever.
   * A failed read changes nothing: the caller decides again as it would have anyway.
   */
  private async refresh(bucket: BucketName, key: string): Promise<void> {
    const target = this.buckets[bucket] as WatchedBucket<unknown>;
    try {
      // A bound bucket gets from the stream's leader (no direct get from a replica).
      const entry = await this.kvs[bucket].get(key);
      if (entry === null) target.replace(key, 0, undefined);
      else if (entry.operation !== 'PUT') target.replace(key, entry.revision, undefined);
      else target.replace(key, entry.revision, decodeRecord(KINDS[bucket] as RecordKind<unknown>, key, entry.value));
    } catch (err) {
      this.log.debug({ err, bucket: this.names[bucket], key }, 'could not re-read a key after a lost compare-and-swap');
    }
  }

  /** Reads one key from the bucket itself (not the cache), and caches what it found. */
  private async read<B extends BucketName>(bucket: B, key: string): Promise<Versioned<Records[B]> | undefined> {
    const entry = await guard(`read ${this.names[bucket]}/${key}`, () => this.kvs[bucket].get(key));
    const target = this.buckets[bucket];
    if (entry === null) return undefined;
    if (entry.operation !== 'PUT') {
      target.applyDelete(key, entry.revision);
      return undefined;
    }
    const value = decodeRecord(KINDS[bucket], key, entry.value);
    target.applyPut(key, entry.revision, value);
    return target.entries.get(key) ?? { value, revision: entry.revision };
  }

}

async function guard<R>(what: string, op: () => Promise<R>): Promise<R> {
  try {
    return await op();
  } catch (err) {
    throw unavailable(what, err);
  }
}

/**
 * Makes sure a bucket's stream exists, creating it if not. Concurrent creators race: on a NATS
 * cluster, a stream info for a stream another node is creating goes unanswered until it has a
 * leader, so these requests get a short timeout and are retried until the deadline.
 */
export async function ensureBucket(
  nc: NatsConnection,
  name: string,
  config: { replicas: number; description: string },
  deadline: number,
  log: Logger,
): Promise<void> {
  const kvm = new Kvm(jetstream(nc, { timeout: REQUEST_TIMEOUT_MS }));
  let lastError: unknown;
  for (let attempt = 1; attempt === 1 || Date.now() < deadline; attempt += 1) {
    try {
      const kv = await kvm.create(name, {
        history: 1,
        storage: StorageType.File,
        replicas: config.replicas,
        description: config.description,
      });
      const status = await kv.status();
      if (status.replicas !== config.replicas) {
        // An existing bucket keeps its replicas (changing them is an operator's stream update).
        log.warn({ bucket: name, replicas: status.replicas, wanted: config.replicas }, 'metadata bucket has other replicas');
      }
      return;
    } catch (err) {
      lastError = err;
      log.debug({ err, bucket: name, attempt }, 'metadata bucket not there yet');
      await delay(Math.min(50 * attempt, 500));
    }
  }
  throw unavailable(`create bucket ${name} (replicas ${config.replicas})`, lastError);
}

export function isCasConflict(err: unknown): boolean {
  return (
    err instanceof JetStreamApiError &&
    (err.code === JetStreamApiCodes.StreamWrongLastSequence || err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}

function unavailable(what: string, cause: unknown): WharfError {
  if (cause instanceof WharfError) return cause;
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new WharfError(ErrorCode.Unavailable, `metadata: ${what}: ${reason}`, { cause });
}

function closedError(): WharfError {
  return new WharfError(ErrorCode.Unavailable, 'metadata: closed');
}

function sortedValues<T>(map: ReadonlyMap<string, Versioned<T>>): Array<Versioned<T>> {
  return [...map.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, entry]) => entry);
}

/** Ends a NATS status iterator: its `stop` is not in the public type, so it is looked for. */
function stopIterable(iterable: AsyncIterable<unknown> | undefined): void {
  if (iterable !== undefined && 'stop' in iterable && typeof iterable.stop === 'function') {
    (iterable.stop as () => void).call(iterable);
  }
}
