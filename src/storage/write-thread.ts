/**
 * RocksDB writes on a thread of their own. The binding writes a batch synchronously: on the event
 * loop, every write (and its WAL fsync) would stop the node's other work for its whole duration, a
 * third of a busy primary's time. The write thread shares the open database (the binding hands its
 * handle to another thread), takes the batches in the order they were asked for, and commits
 * together every batch that queued up while the one before was on disk: one WAL write and one
 * fsync for all of them (group commit), each batch still atomic and in order.
 *
 * Batches cross the thread boundary as one packed buffer (packed-batch.mjs), transferred, not
 * copied, and transferred back for reuse.
 */
import { Worker } from 'node:worker_threads';
import { ErrorCode, WharfError } from '../errors.ts';
import { DEL, HEADER, PUT } from './packed-batch.mjs';
import type { WriteOp } from './store.ts';

export interface WriteRequest {
  id: number;
  sync: boolean;
  ops: Uint8Array;
}

/** The ids of the batches one group commit wrote, and why it failed if it did; their buffers come back for reuse. */
export interface WriteReply {
  ids: number[];
  buffers: ArrayBuffer[];
  error?: string;
}

/** Packs `ops` into one transferable buffer, taken from `pool` when it has one large enough. */
export function packOps(ops: readonly WriteOp[], pool?: BufferPool): Uint8Array {
  let size = 0;
  for (const op of ops) size += HEADER + Buffer.byteLength(op.key) + (op.type === 'put' ? op.value.byteLength : 0);
  const out = Buffer.from(pool?.take(size) ?? new ArrayBuffer(size), 0, size);
  let at = 0;
  for (const op of ops) {
    const value = op.type === 'put' ? op.value : undefined;
    out[at] = value === undefined ? DEL : PUT;
    const keyLength = out.write(op.key, at + HEADER);
    out.writeUInt32LE(keyLength, at + 1);
    out.writeUInt32LE(value?.byteLength ?? 0, at + 5);
    at += HEADER + keyLength;
    if (value !== undefined) {
      out.set(value, at);
      at += value.byteLength;
    }
  }
  return out;
}

/**
 * Packing buffers, reused: a new buffer for every batch, freed on the other thread, leaves the
 * allocator's per-thread arenas fragmented (a node's RSS grew by a quarter under a steady fill).
 * Sizes are rounded up to powers of two from 64 KiB; a few of each size are kept, none above 16 MiB.
 */
export class BufferPool {
  private readonly free = new Map<number, ArrayBuffer[]>();

  take(size: number): ArrayBuffer {
    const rounded = Math.max(MIN_POOLED, 2 ** Math.ceil(Math.log2(Math.max(size, 1))));
    return this.free.get(rounded)?.pop() ?? new ArrayBuffer(rounded);
  }

  give(buffer: ArrayBuffer): void {
    const size = buffer.byteLength;
    if (size < MIN_POOLED || size > MAX_POOLED || (size & (size - 1)) !== 0) return;
    const list = this.free.get(size) ?? [];
    if (list.length < KEPT_PER_SIZE) list.push(buffer);
    this.free.set(size, list);
  }
}

const MIN_POOLED = 64 * 1024;
const MAX_POOLED = 16 * 1024 * 1024;
const KEPT_PER_SIZE = 4;

/**
 * The worker's code is plain JavaScript (type-checked): a worker does not inherit the main
 * thread's tsx hooks, and loading tsx in it would cost the node about 35 MB.
 */
const WORKER = new URL('./write-thread.worker.mjs', import.meta.url);

export class WriteThread {
  private readonly worker: Worker;
  private readonly waiting = new Map<number, { resolve: () => void; reject: (err: Error) => void }>();
  private readonly pool = new BufferPool();
  private nextId = 1;
  private failure: Error | undefined;
  private drained: (() => void) | undefined;

  private constructor(worker: Worker) {
    this.worker = worker;
    worker.on('message', (reply: WriteReply) => this.settle(reply));
    worker.on('error', (err) => this.fail(err));
    worker.on('exit', (code) => this.fail(new Error(`the write thread exited (code ${code})`)));
    // Idle, the thread must not keep the process alive; a write under way must.
    worker.unref();
  }

  /** Starts a write thread on the open database `handle`; resolves once it can write. */
  static start(handle: bigint): Promise<WriteThread> {
    const worker = new Worker(WORKER, { workerData: { handle } });
    return new Promise((resolve, reject) => {
      const failed = (err: unknown) => reject(new WharfError(ErrorCode.StorageFailure, `the write thread did not start: ${String(err)}`, { cause: err }));
      worker.once('error', failed);
      worker.once('message', (ready: unknown) => {
        worker.off('error', failed);
        if (ready === 'ready') resolve(new WriteThread(worker));
        else failed(ready);
      });
    });
  }

  write(ops: readonly WriteOp[], sync: boolean): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const id = this.nextId++;
    const packed = packOps(ops, this.pool);
    return new Promise((resolve, reject) => {
      if (this.waiting.size === 0) this.worker.ref();
      this.waiting.set(id, { resolve, reject });
      const request: WriteRequest = { id, sync, ops: packed };
      this.worker.postMessage(request, [packed.buffer as ArrayBuffer]);
    });
  }

  /** Waits for the writes under way, then stops the thread (the database stays open). */
  async close(): Promise<void> {
    if (this.waiting.size > 0) await new Promise<void>((resolve) => (this.drained = resolve));
    this.failure ??= new WharfError(ErrorCode.StorageFailure, 'the store is closed');
    this.worker.removeAllListeners('exit');
    await this.worker.terminate();
  }

  private settle(reply: WriteReply): void {
    for (const buffer of reply.buffers) this.pool.give(buffer);
    const error = reply.error === undefined ? undefined : new WharfError(ErrorCode.StorageFailure, `write failed: ${reply.error}`);
    for (const id of reply.ids) {
      const waiter = this.waiting.get(id);
      this.waiting.delete(id);
      if (error === undefined) waiter?.resolve();
      else waiter?.reject(error);
    }
    this.afterSettle();
  }

  private fail(err: unknown): void {
    this.failure ??= new WharfError(ErrorCode.StorageFailure, `the write thread failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    for (const waiter of this.waiting.values()) waiter.reject(this.failure);
    this.waiting.clear();
    this.afterSettle();
  }

  private afterSettle(): void {
    if (this.waiting.size > 0) return;
    this.worker.unref();
    this.drained?.();
    this.drained = undefined;
  }
}
