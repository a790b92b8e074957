/**
 * RocksDB writes on a thread of their own. The binding writes a batch synchronously: on the event
 * loop, every write (and its WAL fsync) would stop the node's other work for its whole duration, a
 * third of a busy primary's time. The write thread shares the open database (the binding hands its
 * handle to another thread), takes the batches in the order they were asked for, and commits
 * together every batch that queued up while the one before was on disk: one WAL write and one
 * fsync for all of them (group commit), each batch still atomic and in order.
 *
 * Batches cross the thread boundary as one packed buffer, transferred, not copied: per operation
 * a type byte, the key's and the value's lengths (uint32) and their bytes.
 */
import { Worker } from 'node:worker_threads';
import { ErrorCode, WharfError } from '../errors.ts';
import type { WriteOp } from './store.ts';

export interface WriteRequest {
  id: number;
  sync: boolean;
  ops: Uint8Array;
}

/** The ids of the batches one group commit wrote, and why it failed if it did. */
export interface WriteReply {
  ids: number[];
  error?: string;
}

const PUT = 1;
const DEL = 2;
const HEADER = 9;

/** Packs `ops` into one transferable buffer. */
export function packOps(ops: readonly WriteOp[]): Uint8Array {
  let size = 0;
  for (const op of ops) size += HEADER + Buffer.byteLength(op.key) + (op.type === 'put' ? op.value.byteLength : 0);
  const out = Buffer.from(new ArrayBuffer(size));
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

/** Calls `put` or `del` for each packed operation, in order, with views into `packed` (no copies). */
export function unpackOps(packed: Uint8Array, put: (key: Uint8Array, value: Uint8Array) => void, del: (key: Uint8Array) => void): void {
  const view = Buffer.from(packed.buffer, packed.byteOffset, packed.byteLength);
  let at = 0;
  while (at < view.byteLength) {
    const type = view[at];
    const keyLength = view.readUInt32LE(at + 1);
    const valueLength = view.readUInt32LE(at + 5);
    const key = view.subarray(at + HEADER, at + HEADER + keyLength);
    at += HEADER + keyLength;
    if (type === PUT) {
      put(key, view.subarray(at, at + valueLength));
      at += valueLength;
    } else if (type === DEL) {
      del(key);
    } else {
      throw new Error(`bad operation type ${String(type)} in a packed batch`);
    }
  }
}

/**
 * The worker's module is TypeScript, loaded through tsx like the rest of Wharf; a worker does not
 * inherit the main thread's module hooks, so it registers them itself before importing it.
 */
const BOOT = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(new URL('./write-thread.worker.ts', import.meta.url).href)}); })`;

export class WriteThread {
  private readonly worker: Worker;
  private readonly waiting = new Map<number, { resolve: () => void; reject: (err: Error) => void }>();
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
    const worker = new Worker(BOOT, { eval: true, workerData: { handle } });
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
    const packed = packOps(ops);
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
