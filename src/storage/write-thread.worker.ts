/**
 * The write thread (write-thread.ts): commits the batches the main thread sends, in order, each
 * group that queued up together in one RocksDB write.
 */
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { RocksLevel } from '@nxtedition/rocksdb';
import { unpackOps, type WriteReply, type WriteRequest } from './write-thread.ts';

const port = parentPort;
if (port === null) throw new Error('write-thread.worker.ts runs as a worker thread');

const { handle } = workerData as { handle: bigint };
// The database the main thread opened: this instance only wraps it (closing stays the main thread's).
const db = new RocksLevel(handle, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
await db.open({ createIfMissing: false });

port.on('message', (first: WriteRequest) => {
  const group = [first];
  // Everything that queued up while the last write was on disk goes in this one.
  for (let next = receiveMessageOnPort(port); next !== undefined; next = receiveMessageOnPort(port)) group.push(next.message as WriteRequest);
  const reply: WriteReply = { ids: group.map((r) => r.id) };
  const failed = (err: unknown) => {
    reply.error = err instanceof Error ? err.message : String(err);
    port.postMessage(reply);
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
    batch.write({ sync: group.some((r) => r.sync) }).then(() => port.postMessage(reply), failed);
  } catch (err) {
    failed(err);
  }
});
port.postMessage('ready');
