/**
 * The Store: the few operations Wharf needs from a key-value engine, and its RocksDB implementation.
 * Every multi-key change is one atomic batch; with `sync` the batch is on disk (WAL fsynced) when the
 * returned promise resolves. Batches are written in the order asked for, off the event loop
 * (write-thread.ts): a read sees a write once the write's promise has resolved.
 */
import { RocksLevel, type Iterator } from '@nxtedition/rocksdb';
import { ErrorCode, WharfError } from '../errors.ts';
import { keys, type Range } from './keys.ts';
import { WriteThread } from './write-thread.ts';

export type WriteOp = { type: 'put'; key: string; value: Uint8Array } | { type: 'del'; key: string };

export interface Store {
  getMany(keys: string[]): Promise<Array<Uint8Array | undefined>>;
  write(ops: readonly WriteOp[], sync: boolean): Promise<void>;
  /** Up to `limit` entries of `range`, in key order. */
  scan(range: Range, limit: number): Promise<Array<[string, Uint8Array]>>;
  /** Up to `limit` keys of `range`, in key order. */
  scanKeys(range: Range, limit: number): Promise<string[]>;
  /**
   * A point-in-time view of `ranges`, opened at once: every range reads the store as it was at this
   * call, whatever is written afterwards. Close it when done (it pins old versions of those keys).
   */
  view(ranges: readonly Range[]): StoreView;
  close(): Promise<void>;
}

export interface StoreView {
  /** The next entries, ranges in the given order, up to `limit` entries or about `maxBytes` of values; [] at the end. */
  next(limit: number, maxBytes: number): Promise<Array<[string, Uint8Array]>>;
  close(): Promise<void>;
}

/** Reads iterators one after the other; they were all created together, so they share one point in time. */
function chainedView(iterators: Iterator[]): StoreView {
  let i = 0;
  return {
    async next(limit, maxBytes) {
      const out: Array<[string, Uint8Array]> = [];
      let bytes = 0;
      while (i < iterators.length && out.length < limit && bytes < maxBytes) {
        const page = await (iterators[i] as Iterator).nextv(Math.min(PAGE, limit - out.length));
        if (page.length === 0) {
          i++;
          continue;
        }
        for (const row of page) {
          out.push(row);
          bytes += row[1].byteLength;
        }
      }
      return out;
    },
    async close() {
      await Promise.all(iterators.map((it) => it.close()));
    },
  };
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
 * The block cache, which also holds the tables' index and filter blocks: left outside it, those
 * grow with the data (about 100 MB of index for 10 GiB of messages) and a deep backlog would
 * take the node's memory with it.
 */
const BLOCK_CACHE = 32 * 1024 * 1024;

/** The open engine: the database and the thread that writes to it. */
interface Engine {
  db: RocksLevel;
  writer: WriteThread;
}

async function openEngine(dir: string): Promise<Engine> {
  const db = new RocksLevel(dir, { keyEncoding: 'utf8', valueEncoding: 'buffer' });
  try {
    await db.open({
      createIfMissing: true,
      compaction: 'level',
      memtableMemoryBudget: MEMTABLE_BUDGET,
      cacheSize: BLOCK_CACHE,
      cacheIndexAndFilterBlocks: true,
    });
  } catch (err) {
    throw new WharfError(ErrorCode.StorageFailure, `cannot open the store at ${dir}: ${(err as Error).message}`, { cause: err });
  }
  try {
    return { db, writer: await WriteThread.start(db.handle) };
  } catch (err) {
    await db.close();
    throw err;
  }
}

/**
 * A failed write RocksDB does not come back from by itself: after an I/O error on the WAL (a full
 * disk) it refuses every later write with the same error until the database is reopened, even once
 * there is room again ("Background Error Handling" in RocksDB's wiki).
 */
const STICKY_WRITE_ERROR = /IO error|No space left on device/i;

/** Between two attempts to reopen the store after such an error: from the first to the last. */
const REOPEN_FIRST_MS = 500;
const REOPEN_MAX_MS = 10_000;

export interface StoreOptions {
  /** Told when the store starts reopening after a write error, and when it takes writes again. */
  onReopen?: (event: { phase: 'reopening'; cause: string } | { phase: 'reopened'; attempts: number }) => void;
}

export async function openRocksStore(dir: string, options: StoreOptions = {}): Promise<Store> {
  let engine = await openEngine(dir);
  let closed = false;
  /** Under way while the store reopens: reads and writes are refused meanwhile. */
  let reopening: Promise<void> | undefined;
  const refusal = () => new WharfError(ErrorCode.StorageFailure, 'the store is being reopened after a write error');

  const reopen = async (cause: string): Promise<void> => {
    options.onReopen?.({ phase: 'reopening', cause });
    // The failed group has been answered; later ones fail the same way. Both handles go.
    await engine.writer.close().catch(() => undefined);
    await engine.db.close().catch(() => undefined);
    for (let attempt = 1, waitMs = REOPEN_FIRST_MS; ; attempt++, waitMs = Math.min(waitMs * 2, REOPEN_MAX_MS)) {
      if (closed) return;
      try {
        const next = await openEngine(dir);
        try {
          // Reopened is not enough: the disk may still be full. A synced write says it takes writes.
          await next.writer.write([{ type: 'put', key: keys.probe, value: new Uint8Array(0) }, { type: 'del', key: keys.probe }], true);
        } catch (err) {
          await next.writer.close().catch(() => undefined);
          await next.db.close().catch(() => undefined);
          throw err;
        }
        engine = next;
        options.onReopen?.({ phase: 'reopened', attempts: attempt });
        return;
      } catch {
        await new Promise((r) => setTimeout(r, waitMs));
      }
    }
  };

  const guarded = <T>(read: (db: RocksLevel) => T): T => {
    if (reopening !== undefined) throw refusal();
    return read(engine.db);
  };

  return {
    getMany: async (keys) => guarded((db) => db.getMany(keys)),
    async write(ops, sync) {
      if (ops.length === 0) return;
      if (reopening !== undefined) throw refusal();
      try {
        await engine.writer.write(ops, sync);
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        if (!closed && reopening === undefined && STICKY_WRITE_ERROR.test(message)) {
          reopening = reopen(message).finally(() => (reopening = undefined));
        }
        throw err;
      }
    },
    scan: async (range, limit) => guarded((db) => collect(db.iterator({ ...range, limit }), limit)),
    async scanKeys(range, limit) {
      return (await guarded((db) => collect(db.iterator({ ...range, limit, values: false }), limit))).map(([k]) => k);
    },
    // Each iterator takes its snapshot when it is created, synchronously: nothing runs in between.
    view: (ranges) => guarded((db) => chainedView(ranges.map((range) => db.iterator({ ...range })))),
    async close() {
      closed = true;
      await reopening;
      await engine.writer.close().catch(() => undefined);
      await engine.db.close();
    },
  };
}
