/**
 * Store identity (src/meta/store-identity.ts) on a real RocksDB store: an id created with the
 * store and kept across opens, a generation raised by every open, and a new id for a store found
 * older than the one its node last registered (a restored copy), as for an empty one.
 */
import { cp } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import { storeIdentity } from '../../src/meta/store-identity.ts';
import { openRocksStore } from '../../src/storage/store.ts';
import { tempDir } from '../helpers/temp-dir.ts';

async function open(dir: string, registered?: { store?: string; storeGeneration?: number }) {
  const store = await openRocksStore(dir);
  try {
    return await storeIdentity(store, registered);
  } finally {
    await store.close();
  }
}

test('a store keeps its id across opens, and each open raises its generation', async (t) => {
  const dir = await tempDir(t);
  const first = await open(dir);
  t.regex(first.id, /^[0-9a-f-]{36}$/);
  t.is(first.generation, 1);
  const second = await open(dir, { store: first.id, storeGeneration: 1 });
  t.deepEqual(second, { id: first.id, generation: 2 });
  const other = await open(await tempDir(t));
  t.not(other.id, first.id, 'another store, another id');
});

test('a copy older than what its node last registered gets a new id; a crash before registering does not', async (t) => {
  const dir = await tempDir(t);
  const backup = join(await tempDir(t), 'backup');
  const first = await open(dir);
  await cp(dir, backup, { recursive: true });
  const later = await open(dir, { store: first.id, storeGeneration: 1 });
  const restored = await open(backup, { store: later.id, storeGeneration: later.generation });
  t.not(restored.id, first.id, 'the restored copy is a new store');
  t.is(restored.generation, later.generation + 1);
  // Opened again after a crash that came before its registration: the store is ahead, which is fine.
  const ahead = await open(dir, { store: first.id, storeGeneration: 1 });
  t.deepEqual(ahead, { id: first.id, generation: 3 });
  // Registered under another store (the node moved to a new disk before): this store keeps its id.
  t.is((await open(dir, { store: 'another', storeGeneration: 99 })).id, first.id);
});
