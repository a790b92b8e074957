/**
 * The queue catalog on disk: load at start, record creations, changes and deletions, and remove a
 * deleted queue's data.
 *
 * Keys (keys.ts): q/<queue>, x/<queue>; deletes every s/, m/, l/, d/ key of a deleted queue.
 */
import type { CatalogEntry } from '../../actors/node/node.machine.ts';
import { queueName, type QueueName } from '../names.ts';
import { keys, LAYOUT_VERSION } from '../storage/keys.ts';
import { decodeNumber, decodeQueue, encodeNumber, encodeQueue } from '../storage/records.ts';
import type { Store } from '../storage/store.ts';
import { ErrorCode, WharfError } from '../errors.ts';

const CHUNK = 10_000;

export function catalogStore(store: Store) {
  /** Deletes every key of `ranges`, a chunk per write, then the deletion mark. */
  async function dropQueueData(queue: QueueName): Promise<void> {
    for (const range of keys.queueRanges(queue)) {
      for (;;) {
        const batch = await store.scanKeys(range, CHUNK);
        if (batch.length === 0) break;
        await store.write(batch.map((key) => ({ type: 'del' as const, key })), false);
      }
    }
    await store.write([{ type: 'del', key: keys.deleting(queue) }], true);
  }

  return {
    /** Checks the layout version (writing it into a new store), finishes interrupted deletions, reads the catalog. */
    async load(): Promise<CatalogEntry[]> {
      const [layout] = await store.getMany([keys.layout]);
      if (layout === undefined) {
        await store.write([{ type: 'put', key: keys.layout, value: encodeNumber(LAYOUT_VERSION) }], true);
      } else if (decodeNumber(layout) !== LAYOUT_VERSION) {
        throw new WharfError(
          ErrorCode.StorageFailure,
          `the store has key layout ${decodeNumber(layout)}; this Wharf reads layout ${LAYOUT_VERSION}`,
        );
      }
      for (const key of await store.scanKeys(keys.allDeleting, Number.MAX_SAFE_INTEGER)) {
        await dropQueueData(keys.queueOf(key));
      }
      const rows = await store.scan(keys.queues, Number.MAX_SAFE_INTEGER);
      return rows.map(([key, value]) => ({ name: queueName(keys.queueOf(key)), ...decodeQueue(value) }));
    },

    async put(entry: CatalogEntry): Promise<void> {
      const { name, ...record } = entry;
      await store.write([{ type: 'put', key: keys.queue(name as QueueName), value: encodeQueue(record) }], true);
    },

    /** Removes the queue from the catalog and marks its data for deletion, in one durable write. */
    async markDeleted(entry: CatalogEntry): Promise<void> {
      const name = entry.name as QueueName;
      await store.write(
        [
          { type: 'del', key: keys.queue(name) },
          { type: 'put', key: keys.deleting(name), value: encodeNumber(entry.incarnation) },
        ],
        true,
      );
    },

    dropQueueData,
  };
}

export type CatalogStore = ReturnType<typeof catalogStore>;
