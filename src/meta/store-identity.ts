/**
 * Store identity: every RocksDB store gets a random id when it is created, and the metadata records
 * which store each voting replica lives in (NodeRecord.store, Assignment.stores). A node restarted
 * under its old id on a wiped or replaced disk has a new store id, which is how its loss is seen
 * from outside the store — the amnesia mark each replica keeps (actors/replica/log.ts) is lost with
 * the store it lives in.
 */
import { randomUUID } from 'node:crypto';
import { keys } from '../storage/keys.ts';
import { decodeNumber, encodeNumber } from '../storage/records.ts';
import type { Store } from '../storage/store.ts';
import type { Assignment } from './records.ts';

/**
 * The store's id: read, or created (fsynced) the first time this store is opened. Each open also
 * raises the store's generation, which the node's record then carries; a store whose generation is
 * below the one its node last registered under the same id is an older copy of it (a restore from
 * a backup), which has lost what the newer one held: it gets a new id, like an empty store.
 */
export async function storeIdentity(
  store: Store,
  registered?: { store?: string; storeGeneration?: number },
): Promise<{ id: string; generation: number }> {
  const [storedId, storedGeneration] = await store.getMany([keys.storeId, keys.storeGeneration]);
  let id = storedId !== undefined && storedId.length > 0 ? new TextDecoder().decode(storedId) : undefined;
  const generation = storedGeneration === undefined ? 0 : decodeNumber(storedGeneration);
  const last = registered?.store === id ? (registered?.storeGeneration ?? 0) : 0;
  if (id === undefined || generation < last) id = randomUUID();
  const next = Math.max(generation, last) + 1;
  await store.write(
    [
      { type: 'put', key: keys.storeId, value: new TextEncoder().encode(id) },
      { type: 'put', key: keys.storeGeneration, value: encodeNumber(next) },
    ],
    true,
  );
  return { id, generation: next };
}

/** Whether `node`'s voting replica was recorded in a store other than `store` (unknown: no). */
export function storeReplaced(a: Pick<Assignment, 'stores'>, node: string, store: string | undefined): boolean {
  const recorded = a.stores?.[node];
  return recorded !== undefined && store !== undefined && recorded !== store;
}

/**
 * The assignment as a replica in store `store` on `self` must act on it: a voting replica whose
 * recorded store is another one lost its copy, so it acts as a learner — copies the log, neither
 * counts for commit nor leads — until the manager records this store for it. This holds from the
 * node's first moment, before any manager has noticed the new store.
 */
export function asSeenByStore(a: Assignment, self: string, store: string): Assignment {
  if (!a.replicas.includes(self) || !storeReplaced(a, self, store)) return a;
  return { ...a, replicas: a.replicas.filter((n) => n !== self), learners: [...a.learners, self] };
}
