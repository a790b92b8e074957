// @ts-check
/**
 * The store's writer thread: applies write batches to the RocksDB database the main thread opened
 * (shared through its native handle), so the copy into the write batch, the WAL write and the fsync
 * do not hold the event loop that serves requests. One batch at a time, in the order received.
 *
 * Plain JavaScript: a worker thread does not inherit the TypeScript loader of the main thread.
 * Message in: { id, keys: string[], values: (Uint8Array | null)[], sync } (null deletes the key).
 * Message out: { id } or { id, error }.
 */
import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';

const require = createRequire(import.meta.url);
const binding = require('@nxtedition/rocksdb/binding.js');
const db = binding.db_init(workerData.handle);
const NO_OPTIONS = {};

parentPort?.on('message', ({ id, keys, values, sync }) => {
  const batch = binding.batch_init();
  try {
    for (let i = 0; i < keys.length; i++) {
      const key = Buffer.from(keys[i]);
      if (values[i]) binding.batch_put(batch, key, values[i], NO_OPTIONS);
      else binding.batch_del(batch, key, NO_OPTIONS);
    }
    binding.batch_write(db, batch, { sync });
    parentPort?.postMessage({ id });
  } catch (err) {
    parentPort?.postMessage({ id, error: err instanceof Error ? err.message : String(err) });
  } finally {
    binding.batch_clear(batch);
  }
});
