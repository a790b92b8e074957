/**
 * One KV bucket mirrored in memory and kept fresh by a watch.
 *
 * The watch delivers the last value of every key, then every change. It is re-created whenever it
 * could have missed something: when its iterator ends, and when the NATS connection comes back
 * (a restarted nats-server forgets the watch's ephemeral consumer, and the client would only notice
 * after its idle heartbeats went missing, a minute later). A re-created watch starts from the last
 * values again; keys that vanished from the bucket without a delete marker in the meantime (a purge
 * by an operator) are dropped at the end of that snapshot.
 *
 * Every change is applied by revision: an event for a key is applied only if its revision is higher
 * than the one cached, deletes included (their revision is kept as a tombstone). So a late watch
 * event never undoes a newer local write, and a local write never undoes a newer watch event.
 */
import type { KV, KvWatchEntry } from '@nats-io/kv';
import type { NatsConnection, QueuedIterator } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { setTimeout as delay } from 'node:timers/promises';
import { decodeRecord, type RecordKind } from './schemas.ts';

/** A cached value and the KV revision it was written at (the revision a CAS must name). */
export interface Versioned<T> {
  readonly value: T;
  readonly revision: number;
}

export interface WatchedBucketOptions<T> {
  nc: NatsConnection;
  kv: KV;
  bucket: string;
  kind: RecordKind<T>;
  log: Logger;
  /** Called after the cache changed: a new value, or `undefined` when the key went away. */
  onChange(key: string, entry: Versioned<T> | undefined): void;
}

const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 5_000;

export class WatchedBucket<T> {
  readonly entries = new Map<string, Versioned<T>>();
  /** Revision of the delete of keys that are gone: an older put must not bring them back. */
  private readonly tombstones = new Map<string, number>();
  private readonly stopping = new AbortController();
  private iterator: QueuedIterator<KvWatchEntry> | undefined;
  private loop: Promise<void> | undefined;
  private loadedOnce = false;
  private readonly loaded: Promise<void>;
  private resolveLoaded!: () => void;
  private lastError: unknown;
  /** Set by resync(): the watch is ending on purpose, so the next one starts without a pause. */
  private resyncRequested = false;

  private readonly options: WatchedBucketOptions<T>;

  constructor(options: WatchedBucketOptions<T>) {
    this.options = options;
    this.loaded = new Promise((resolve) => {
      this.resolveLoaded = resolve;
    });
  }

  /** Starts watching; resolves once the bucket's current values are all in the cache. */
  start(): Promise<void> {
    this.loop ??= this.run();
    return this.loaded;
  }

  /** The error of the last failed attempt to watch, for a caller that gave up waiting. */
  get error(): unknown {
    return this.lastError;
  }

  /** Drops the current watch and starts a new one from the bucket's last values. */
  resync(): void {
    this.resyncRequested = true;
    this.iterator?.stop();
  }

  /**
   * Stops watching at once: the cache no longer changes. A request the loop is waiting on (with
   * the server down, up to its timeout) is left to finish on its own rather than waited for.
   */
  stop(): void {
    this.stopping.abort();
    this.iterator?.stop();
  }

  /** Applies a value written at `revision`. Returns whether the cache changed. */
  applyPut(key: string, revision: number, value: T): boolean {
    if (revision <= this.revisionOf(key)) return false;
    const entry: Versioned<T> = Object.freeze({ value, revision });
    this.tombstones.delete(key);
    this.entries.set(key, entry);
    this.options.onChange(key, entry);
    return true;
  }

  /** Applies a delete (or purge) marker written at `revision`. Returns whether the cache changed. */
  applyDelete(key: string, revision: number): boolean {
    if (revision <= this.revisionOf(key)) return false;
    const had = this.entries.delete(key);
    this.tombstones.set(key, revision);
    if (had) this.options.onChange(key, undefined);
    return had;
  }

  /**
   * Sets a key to what the stream's leader holds (`value` undefined: absent, or deleted at
   * `revision`), even below the cached revision: the leader's numbering is the one a
   * compare-and-swap is checked against, and a watch served from a follower whose copy diverged
   * may have cached a revision the leader never had. Returns whether the cache changed.
   */
  replace(key: string, revision: number, value: T | undefined): boolean {
    const cached = this.entries.get(key);
    if (value === undefined) {
      if (cached === undefined && this.tombstones.get(key) === revision) return false;
      this.entries.delete(key);
      this.tombstones.set(key, revision);
      if (cached !== undefined) this.options.onChange(key, undefined);
      return cached !== undefined;
    }
    if (cached !== undefined && cached.revision === revision) return false;
    const entry: Versioned<T> = Object.freeze({ value, revision });
    this.tombstones.delete(key);
    this.entries.set(key, entry);
    this.options.onChange(key, entry);
    return true;
  }

  private revisionOf(key: string): number {
    return this.entries.get(key)?.revision ?? this.tombstones.get(key) ?? 0;
  }

  private async run(): Promise<void> {
    const { log, bucket, nc } = this.options;
    let failures = 0;
    while (!this.stopping.signal.aborted && !nc.isClosed()) {
      try {
        this.resyncRequested = false;
        const loaded = await this.watchOnce();
        if (this.stopping.signal.aborted) break;
        // A watch that ended by itself (its consumer gave up) is retried like a failure, so a
        // watch that keeps ending at once cannot spin.
        if (this.resyncRequested) failures = 0;
        else {
          failures = loaded ? 1 : failures + 1;
          log.warn({ bucket, failures }, 'metadata watch ended; watching again');
        }
      } catch (err) {
        // Closing abandons the requests in flight; their errors say nothing.
        if (this.stopping.signal.aborted) break;
        failures += 1;
        this.lastError = err;
        log.warn({ err, bucket, failures }, 'metadata watch failed; retrying');
      }
      if (this.stopping.signal.aborted || nc.isClosed()) break;
      if (failures > 0) {
        const wait = Math.min(RETRY_MIN_MS * 2 ** (failures - 1), RETRY_MAX_MS);
        await delay(wait, undefined, { signal: this.stopping.signal }).catch(() => undefined);
      }
    }
  }

  /** One watch, from the bucket's last values until its iterator ends. Returns whether it loaded them all. */
  private async watchOnce(): Promise<boolean> {
    const { kv } = this.options;
    // Where the bucket stood before the watch: the snapshot is complete once it reached that
    // revision, and a cached key at or below it that the snapshot did not name is gone.
    const status = await kv.status();
    const lastRevision = status.streamInfo.state.last_seq;
    const iterator = await kv.watch();
    // Stopped, or the connection came back while the watch was being set up: its consumer may
    // have been made on the server that went away, so start over.
    if (this.stopping.signal.aborted || this.resyncRequested) {
      iterator.stop();
      return false;
    }
    this.iterator = iterator;
    const seen = new Set<string>();
    let loading = true;
    const finishLoading = () => {
      loading = false;
      this.dropUnseen(seen, lastRevision);
      seen.clear();
      this.lastError = undefined;
      if (!this.loadedOnce) {
        this.loadedOnce = true;
        this.resolveLoaded();
      }
    };
    if (status.values === 0) finishLoading();
    try {
      for await (const entry of iterator) {
        if (this.stopping.signal.aborted) break;
        if (loading) seen.add(entry.key);
        this.applyEntry(entry);
        // Any of the three means the snapshot is through; the first is exact, the library's own
        // markers cover a bucket trimmed between the status and the watch.
        if (loading && (entry.revision >= lastRevision || entry.isUpdate || entry.delta === 0)) finishLoading();
      }
    } finally {
      iterator.stop();
      if (this.iterator === iterator) this.iterator = undefined;
    }
    return !loading;
  }

  private applyEntry(entry: KvWatchEntry): void {
    const { kind, log, bucket } = this.options;
    if (entry.operation !== 'PUT') {
      this.applyDelete(entry.key, entry.revision);
      return;
    }
    let value: T;
    try {
      value = decodeRecord(kind, entry.key, entry.value);
    } catch (err) {
      // Ignored, cache unchanged: one bad record (a bug elsewhere, an operator's typo) must not
      // take the node down or hide the rest of the catalog.
      log.error({ err, bucket, key: entry.key, revision: entry.revision }, 'malformed metadata record ignored');
      return;
    }
    this.applyPut(entry.key, entry.revision, value);
  }

  private dropUnseen(seen: ReadonlySet<string>, lastRevision: number): void {
    for (const [key, entry] of [...this.entries]) {
      if (!seen.has(key) && entry.revision <= lastRevision) {
        this.entries.delete(key);
        this.tombstones.set(key, lastRevision);
        this.options.onChange(key, undefined);
      }
    }
  }
}
