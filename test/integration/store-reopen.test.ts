/**
 * A store on a full disk (a small tmpfs, so root only): RocksDB fails the WAL write and then refuses
 * every write until the database is reopened, even once there is room again. The store reopens
 * itself: once the disk has room, writes are taken again without restarting anything, and what was
 * written before is still there.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { ErrorCode, WharfError } from '../../src/errors.ts';
import { openRocksStore, type StoreOptions } from '../../src/storage/store.ts';
import { eventually } from '../helpers/eventually.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const root = process.getuid?.() === 0;
const DISK_MB = 24;

/** Writes zeros to `path` until the disk is full. */
function fill(path: string): void {
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(256 * 1024);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
}

(root ? test : test.skip)('a store whose writes failed on a full disk takes writes again once there is room, keeping its data', async (t) => {
  const dir = await tempDir(t, 'wharf-full-disk-');
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${DISK_MB}m`, 'tmpfs', dir]);
  t.teardown(() => execFileSync('umount', ['-l', dir]));

  const events: Array<Parameters<NonNullable<StoreOptions['onReopen']>>[0]> = [];
  const store = await openRocksStore(join(dir, 'db'), { onReopen: (e) => events.push(e) });
  t.teardown(() => store.close());
  const value = new Uint8Array(64 * 1024).fill(7);
  for (let i = 0; i < 10; i++) await store.write([{ type: 'put', key: `before/${i}`, value }], true);

  const filler = join(dir, 'filler');
  fill(filler);
  let failure: unknown;
  for (let i = 0; i < 1000 && failure === undefined; i++) {
    await store.write([{ type: 'put', key: `full/${i}`, value }], true).catch((err: unknown) => (failure = err));
  }
  t.true(failure instanceof WharfError && failure.code === ErrorCode.StorageFailure, `a write on the full disk fails with storage_failure: ${String(failure)}`);
  const refused = await store.write([{ type: 'put', key: 'while-full', value }], true).then(
    () => false,
    () => true,
  );
  t.true(refused, 'and so does the next one while the disk is full');

  t.log(`the failed write: ${String(failure)}`);
  rmSync(filler);
  await eventually(
    async () => {
      await store.write([{ type: 'put', key: 'after', value }], true);
      return true;
    },
    { timeoutMs: 60_000, message: 'a write succeeds once the disk has room' },
  );
  t.deepEqual(
    events.map((e) => e.phase),
    ['reopening', 'reopened'],
  );
  const read = await store.getMany(['before/0', 'before/9', 'after']);
  t.true(read.every((v) => v?.byteLength === value.byteLength), 'what was written before and after is there');
});
