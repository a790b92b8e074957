// @ts-check
/**
 * The write thread (write-thread.ts): commits the batches the main thread sends, in order, each
 * group that queued up together in one RocksDB write.
 */
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { RocksLevel } from '@nxtedition/rocksdb';
import { unpackOps } from './packed-batch.mjs';

/** @typedef {{ id: number; sync: boolean; ops: Uint8Array }} WriteRequest */

const port = parentPort;
if (port === null) throw new Error('write-thread.worker.mjs runs as a worker thread');

const { handle } = /** @type {{ handle: bigint }} */ (workerData);
// The database the main thread opened: this instance only wraps it (closing stays the main thread's).
const db = new RocksLevel(handle, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
await db.open({ createIfMissing: false });

port.on('message', (/** @type {WriteRequest} */ first) => {
  const group = [first];
  // Everything that queued up while the last write was on disk goes in this one.
  for (let next = receiveMessageOnPort(port); next !== undefined; next = receiveMessageOnPort(port)) {
    group.push(/** @type {WriteRequest} */ (next.message));
  }
  /** @type {{ ids: number[]; buffers: ArrayBuffer[]; error?: string }} */
  const reply = { ids: group.map((r) => r.id), buffers: group.map((r) => /** @type {ArrayBuffer} */ (r.ops.buffer)) };
  // The write has copied the batches: their buffers go back for reuse.
  const answer = () => port.postMessage(reply, reply.buffers);
  /** @param {unknown} err */
  const failed = (err) => {
    reply.error = err instanceof Error ? err.message : String(err);
    answer();
  };
  try {
    const batch = db.batch();
    for (const request of group) {
      unpackOps(
        request.ops,
        (key, value) => batch.put(key, value),
        (key) => batch.del(key),
      );
    }
    // The binding writes at this call (its promise only settles on the next tick): groups stay in order.
    batch.write({ sync: group.some((r) => r.sync) }).then(answer, failed);
  } catch (err) {
    failed(err);
  }
});
port.postMessage('ready');
