// The part of @nxtedition/rocksdb (an abstract-level store without its own typings) that Wharf uses.
declare module '@nxtedition/rocksdb' {
  interface RangeOptions {
    gte?: string;
    lt?: string;
    limit?: number;
    keys?: boolean;
    values?: boolean;
    keyEncoding?: 'utf8' | 'buffer';
    valueEncoding?: 'utf8' | 'buffer';
  }
  export interface Iterator {
    nextv(size: number): Promise<Array<[string, Uint8Array]>>;
    close(): Promise<void>;
  }
  interface ChainedBatch {
    put(key: string | Uint8Array, value: Uint8Array): ChainedBatch;
    del(key: string | Uint8Array): ChainedBatch;
    write(options?: { sync?: boolean }): Promise<void>;
    readonly length: number;
  }
  export class RocksLevel {
    /** A location opens a database; a handle (another instance's `handle`) wraps one already open. */
    constructor(locationOrHandle: string | bigint, options?: { keyEncoding?: 'utf8' | 'buffer'; valueEncoding?: 'buffer' });
    /** The open database, for another thread's instance. */
    readonly handle: bigint;
    open(options?: {
      createIfMissing?: boolean;
      errorIfExists?: boolean;
      compaction?: 'level' | 'universal';
      memtableMemoryBudget?: number;
      /** Bytes of block cache (8 MiB by default). */
      cacheSize?: number;
      /** Keep the tables' index and filter blocks in the block cache, bounded by it. */
      cacheIndexAndFilterBlocks?: boolean;
    }): Promise<void>;
    close(): Promise<void>;
    readonly status: string;
    getMany(keys: string[]): Promise<Array<Uint8Array | undefined>>;
    batch(): ChainedBatch;
    iterator(options?: RangeOptions): Iterator;
    getProperty(property: string): string;
  }
}
