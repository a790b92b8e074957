/**
 * The Store: the few operations Wharf needs from a key-value engine, and its RocksDB implementation.
 * Every multi-key change is one atomic batch; with `sync` the batch is on disk (WAL fsynced) when the
 * returned promise resolves. Batches are written in the order asked for, off the event loop
 * (write-thread.ts): a read sees a write once the write's promise has resolved.
 */
import { RocksLevel, type Iterator } from '@nxtedition/rocksdb';
import { ErrorCode, WharfError } from '../errors.ts';
import type { Range } from './keys.ts';
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

export async function openRocksStore(dir: string): Promise<Store> {
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
  let writer: WriteThread;
  try {
    writer = await WriteThread.start(db.handle);
  } catch (err) {
    await db.close();
    throw err;
  }
  return {
    getMany: (keys) => db.getMany(keys),
    async write(ops, sync) {
      if (ops.length > 0) await writer.write(ops, sync);
    },
    scan: (range, limit) => collect(db.iterator({ ...range, limit }), limit),
    async scanKeys(range, limit) {
      return (await collect(db.iterator({ ...range, limit, values: false }), limit)).map(([k]) => k);
    },
    // Each iterator takes its snapshot when it is created, synchronously: nothing runs in between.
    view: (ranges) => chainedView(ranges.map((range) => db.iterator({ ...range }))),
    async close() {
      await writer.close();
      await db.close();
    },
  };
}
