/**
 * The Store: the few operations Wharf needs from a key-value engine, and its RocksDB implementation.
 * Every multi-key change is one atomic batch; with `sync` the batch is on disk (WAL fsynced) when the
 * returned promise resolves.
 */
import { Worker } from 'node:worker_threads';
import { RocksLevel, type Iterator } from '@nxtedition/rocksdb';
import { ErrorCode, WharfError } from '../errors.ts';
import type { Range } from './keys.ts';

/** What the writer thread (write-worker.mjs) is sent and answers. */
interface WriteRequest {
  id: number;
  keys: string[];
  /** null deletes the key. */
  values: Array<Uint8Array | null>;
  sync: boolean;
}
interface WriteResponse {
  id: number;
  error?: string;
}

export type WriteOp = { type: 'put'; key: string; value: Uint8Array } | { type: 'del'; key: string };

export interface Store {
  getMany(keys: string[]): Promise<Array<Uint8Array | undefined>>;
  write(ops: readonly WriteOp[], sync: boolean): Promise<void>;
  /** Up to `limit` entries of `range`, in key order. */
  scan(range: Range, limit: number): Promise<Array<[string, Uint8Array]>>;
  /** Up to `limit` keys of `range`, in key order. */
  scanKeys(range: Range, limit: number): Promise<string[]>;
  close(): Promise<void>;
}

/** Reads an iterator in pages: nextv allocates for the size it is asked for. */
async function collect(it: Iterator, limit: number): Promise<Array<[string, Uint8Array]>> {
  const out: Array<[string, Uint8Array]> = [];
  try {
    while (out.length < limit) {
      const page = await it.nextv(Math.min(PAGE, limit - out.length));
      if (page.length === 0) break;
      for (const row of page) out.push(row);
    }
    return out;
  } finally {
    await it.close();
  }
}

const PAGE = 1000;
/** RocksDB memtables (16 MiB each, a few at a time): bounds the store's write memory. */
const MEMTABLE_BUDGET = 64 * 1024 * 1024;

/**
 * Opens the RocksDB store in `dir`. Writes go through a writer thread sharing the database (see
 * write-worker.mjs); reads stay on the calling thread, where the binding runs them in the libuv pool.
 */
export async function openRocksStore(dir: string): Promise<Store> {
  const db = new RocksLevel(dir, { keyEncoding: 'utf8', valueEncoding: 'buffer' });
  try {
    await db.open({ createIfMissing: true, compaction: 'level', memtableMemoryBudget: MEMTABLE_BUDGET });
  } catch (err) {
    throw new WharfError(ErrorCode.StorageFailure, `cannot open the store at ${dir}: ${(err as Error).message}`, { cause: err });
  }
  const writer = new WriterThread(db.handle);
  return {
    getMany: (keys) => db.getMany(keys),
    async write(ops, sync) {
      if (ops.length === 0) return;
      const keys: string[] = new Array<string>(ops.length);
      const values: Array<Uint8Array | null> = new Array<Uint8Array | null>(ops.length);
      for (let i = 0; i < ops.length; i++) {
        const op = ops[i] as WriteOp;
        keys[i] = op.key;
        values[i] = op.type === 'put' ? op.value : null;
      }
      await writer.write(keys, values, sync);
    },
    scan: (range, limit) => collect(db.iterator({ ...range, limit }), limit),
    async scanKeys(range, limit) {
      return (await collect(db.iterator({ ...range, limit, values: false }), limit)).map(([k]) => k);
    },
    async close() {
      await writer.close();
      await db.close();
    },
  };
}

/** The main thread's side of the writer thread: one promise per batch, answered in order. */
class WriterThread {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: () => void; reject: (err: Error) => void }>();
  private failure: Error | undefined;

  constructor(handle: bigint) {
    this.worker = new Worker(new URL('./write-worker.mjs', import.meta.url), { workerData: { handle } });
    this.worker.on('message', ({ id, error }: WriteResponse) => {
      const w = this.waiting.get(id);
      this.waiting.delete(id);
      if (!w) return;
      if (error === undefined) w.resolve();
      else w.reject(new WharfError(ErrorCode.StorageFailure, `write failed: ${error}`));
    });
    this.worker.on('error', (err) => this.fail(err));
    this.worker.on('exit', (code) => this.fail(new Error(`the writer thread exited (${code})`)));
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const w of this.waiting.values()) w.reject(new WharfError(ErrorCode.StorageFailure, err.message, { cause: err }));
    this.waiting.clear();
  }

  write(keys: string[], values: Array<Uint8Array | null>, sync: boolean): Promise<void> {
    if (this.failure) return Promise.reject(new WharfError(ErrorCode.StorageFailure, this.failure.message));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker.postMessage({ id, keys, values, sync } satisfies WriteRequest);
    });
  }

  /** Waits for the writes under way, then stops the thread. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.waiting.keys()].map((id) => new Promise<void>((resolve) => {
      const w = this.waiting.get(id);
      if (!w) return resolve();
      this.waiting.set(id, { resolve: () => (w.resolve(), resolve()), reject: (e) => (w.reject(e), resolve()) });
    })));
    this.worker.removeAllListeners('exit');
    await this.worker.terminate();
  }
}
