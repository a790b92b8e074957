/**
 * The deployment's metadata service (deployment-records.ts): the clusters' reports, the queue →
 * cluster(s) routes and the external manager's lease, each bucket cached in memory and kept fresh
 * by a KV watch, as the cluster's own Metadata does. Every write that decides something (a route,
 * the lease) is a compare-and-swap on the revision the writer read; a cluster's report is a plain
 * put, each cluster writing its own key.
 */
import { jetstream } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { pino, type Logger } from 'pino';
import { ErrorCode, WharfError } from '../errors.ts';
import { clusterName } from '../names.ts';
import { CLUSTER, deploymentBuckets, EXTERNAL_LEASE, ROUTE, type ClusterRecord, type QueueRoute } from './deployment-records.ts';
import { ensureBucket, isCasConflict } from './metadata.ts';
import { MANAGER_LEASE_KEY, type ManagerLease } from './records.ts';
import { decodeRecord, encodeRecord, type RecordKind } from './schemas.ts';
import { WatchedBucket, type Versioned } from './watched-bucket.ts';

export interface DeploymentMetadataOptions {
  /** Copies of each bucket. @default 3 when the server is part of a NATS cluster, else 1 */
  replicas?: number;
  log?: Logger;
  /** How long `open` may take, ms. @default 15000 */
  openTimeoutMs?: number;
}

/** One bucket: its KV handle, its cached copy, and compare-and-swap writes that keep the copy current. */
class Table<T> {
  readonly cache: WatchedBucket<T>;
  private readonly listeners = new Set<(key: string, entry: Versioned<T> | undefined) => void>();

  private readonly kv: KV;
  readonly name: string;
  private readonly kind: RecordKind<T>;

  constructor(kv: KV, name: string, kind: RecordKind<T>, nc: NatsConnection, log: Logger) {
    this.kv = kv;
    this.name = name;
    this.kind = kind;
    this.cache = new WatchedBucket<T>({
      nc,
      kv,
      bucket: name,
      kind,
      log,
      onChange: (key, entry) => {
        for (const l of [...this.listeners]) l(key, entry);
      },
    });
  }

  listen(listener: (key: string, entry: Versioned<T> | undefined) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  values(): Array<Versioned<T>> {
    return [...this.cache.entries.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, e]) => e);
  }

  /** The new revision, or undefined when the key is no longer at `revision` (0: must not exist). */
  async cas(record: T, revision: number): Promise<number | undefined> {
    const { key, bytes, value } = encodeRecord(this.kind, record);
    let written: number;
    try {
      written = revision === 0 ? await this.kv.create(key, bytes) : await this.kv.update(key, bytes, revision);
    } catch (err) {
      if (!isCasConflict(err)) throw unavailable(`write ${this.name}/${key}`, err);
      await this.refresh(key);
      return undefined;
    }
    this.cache.applyPut(key, written, value);
    return written;
  }

  async put(record: T): Promise<number> {
    const { key, bytes, value } = encodeRecord(this.kind, record);
    const revision = await this.kv.put(key, bytes).catch((err: unknown) => Promise.reject(unavailable(`put ${this.name}/${key}`, err)));
    this.cache.applyPut(key, revision, value);
    return revision;
  }

  /** Deletes `key` if it is still at `revision`. False when it is not. */
  async remove(key: string, revision: number): Promise<boolean> {
    try {
      await this.kv.delete(key, { previousSeq: revision });
    } catch (err) {
      if (!isCasConflict(err)) throw unavailable(`delete ${this.name}/${key}`, err);
      await this.refresh(key);
      return false;
    }
    // kv.delete does not return the marker's revision: the watch brings it; meanwhile the key is gone here.
    this.cache.applyDelete(key, revision + 1);
    return true;
  }

  /** After a lost compare-and-swap: the key as the stream's leader has it (see Metadata.refresh). */
  private async refresh(key: string): Promise<void> {
    const entry = await this.kv.get(key).catch(() => undefined);
    if (entry === undefined) return;
    if (entry === null) this.cache.replace(key, 0, undefined);
    else if (entry.operation !== 'PUT') this.cache.replace(key, entry.revision, undefined);
    else this.cache.replace(key, entry.revision, decodeRecord(this.kind, key, entry.value));
  }
}

export class DeploymentMetadata {
  readonly deployment: string;
  private readonly clustersTable: Table<ClusterRecord>;
  private readonly routesTable: Table<QueueRoute>;
  private readonly leaseTable: Table<ManagerLease>;

  private constructor(deployment: string, clusters: Table<ClusterRecord>, routes: Table<QueueRoute>, lease: Table<ManagerLease>) {
    this.deployment = deployment;
    this.clustersTable = clusters;
    this.routesTable = routes;
    this.leaseTable = lease;
  }

  /** Creates the deployment's buckets or binds to them, and resolves once their values are cached. */
  static async open(nc: NatsConnection, deployment: string, options: DeploymentMetadataOptions = {}): Promise<DeploymentMetadata> {
    const name = clusterName(deployment);
    const log = (options.log ?? pino({ level: 'silent' })).child({ component: 'deployment-metadata' });
    const replicas = options.replicas ?? (nc.info?.cluster ? 3 : 1);
    const timeoutMs = options.openTimeoutMs ?? 15_000;
    const deadline = Date.now() + timeoutMs;
    const names = deploymentBuckets(name);
    const kvm = new Kvm(jetstream(nc));
    const table = async <T>(bucket: string, kind: RecordKind<T>, description: string) => {
      await ensureBucket(nc, bucket, { replicas, description }, deadline, log);
      const kv = await kvm.open(bucket).catch((err: unknown) => Promise.reject(unavailable(`bind bucket ${bucket}`, err)));
      return new Table<T>(kv, bucket, kind, nc, log);
    };
    const metadata = new DeploymentMetadata(
      name,
      await table(names.clusters, CLUSTER, 'Wharf deployment: clusters and their reported health'),
      await table(names.routes, ROUTE, 'Wharf deployment: queue to cluster(s) routes'),
      await table(names.manager, EXTERNAL_LEASE, "Wharf deployment: the external cluster manager's lease"),
    );
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), Math.max(deadline - Date.now(), 0));
    });
    const tables = metadata.tables();
    try {
      const outcome = await Promise.race([Promise.all(tables.map((t) => t.cache.start())), timedOut]);
      if (outcome === 'timeout') {
        await metadata.close();
        throw new WharfError(ErrorCode.Unavailable, `deployment metadata of ${name} not loaded within ${timeoutMs} ms`);
      }
    } finally {
      clearTimeout(timer);
    }
    return metadata;
  }

  private tables(): Array<Table<unknown>> {
    return [this.clustersTable, this.routesTable, this.leaseTable] as Array<Table<unknown>>;
  }

  clusters(): Array<Versioned<ClusterRecord>> {
    return this.clustersTable.values();
  }

  cluster(name: string): Versioned<ClusterRecord> | undefined {
    return this.clustersTable.cache.entries.get(name);
  }

  routes(): Array<Versioned<QueueRoute>> {
    return this.routesTable.values();
  }

  route(queue: string): Versioned<QueueRoute> | undefined {
    return this.routesTable.cache.entries.get(queue);
  }

  lease(): Versioned<ManagerLease> | undefined {
    return this.leaseTable.cache.entries.get(MANAGER_LEASE_KEY);
  }

  onCluster(listener: (name: string, entry: Versioned<ClusterRecord> | undefined) => void): () => void {
    return this.clustersTable.listen(listener);
  }

  onRoute(listener: (queue: string, entry: Versioned<QueueRoute> | undefined) => void): () => void {
    return this.routesTable.listen(listener);
  }

  onLease(listener: (entry: Versioned<ManagerLease> | undefined) => void): () => void {
    return this.leaseTable.listen((key, entry) => {
      if (key === MANAGER_LEASE_KEY) listener(entry);
    });
  }

  /** A cluster's report of itself: a plain put (each cluster owns its key). */
  putCluster(record: ClusterRecord): Promise<number> {
    return this.clustersTable.put(record);
  }

  casRoute(route: QueueRoute, revision: number): Promise<number | undefined> {
    return this.routesTable.cas(route, revision);
  }

  deleteRoute(queue: string, revision: number): Promise<boolean> {
    return this.routesTable.remove(queue, revision);
  }

  casLease(lease: ManagerLease, revision: number): Promise<number | undefined> {
    return this.leaseTable.cas(lease, revision);
  }

  /** Stops the watches; the connection stays open (it is the caller's). */
  async close(): Promise<void> {
    for (const t of this.tables()) t.cache.stop();
  }
}

function unavailable(what: string, cause: unknown): WharfError {
  if (cause instanceof WharfError) return cause;
  return new WharfError(ErrorCode.Unavailable, `deployment metadata: ${what}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
}
