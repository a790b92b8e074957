/**
 * Operations under load: a rolling restart of every node (as Docker Swarm updates a service: one
 * task at a time, SIGTERM, wait until it is healthy, next) and the backup and restore of a node's
 * data dir.
 */
import { join } from 'node:path';
import { eventually } from '../../test/helpers/eventually.ts';
import { rounds, type ChaosContext, type Scenario } from '../scenario.ts';

/** The store the node registered at its last start (a node registers before it logs `node ready`). */
async function registeredStore(ctx: ChaosContext, node: string): Promise<{ store: string; generation: number }> {
  return eventually(
    async () => {
      const r = await ctx.topology.nodeRecord(node);
      return r?.store === undefined ? undefined : { store: r.store, generation: r.storeGeneration ?? 0 };
    },
    { timeoutMs: 10_000, intervalMs: 100, message: `${node}'s registered store` },
  );
}

export const rollingRestart: Scenario = {
  name: 'rolling-restart',
  description: 'every node in turn: SIGTERM (graceful stop, primaries handed over), started again, and the next only once every replica is back in sync',
  short: true,
  async run(ctx) {
    do {
      for (const node of ctx.topology.nodes) {
        await ctx.nemesis.terminate(node.id);
        await ctx.nemesis.start(node.id);
        await ctx.topology.waitForHealthy(ctx.queue);
        await ctx.progress(20);
      }
    } while (ctx.more());
  },
};

export const backupRestore: Scenario = {
  name: 'backup-restore',
  description:
    "a node is stopped, its data dir copied and the node started again; after more load it is stopped, its data dir wiped and replaced by the copy, and started: the restored (older) store gets a new identity and its replicas catch up as learners before they vote",
  run: (ctx) =>
    rounds(ctx, async (i) => {
      const node = ctx.topology.nodes[i % 3];
      if (node === undefined) throw new Error('no node');
      const copy = join(ctx.topology.options.dir, `backup-${node.id}-${i}`);
      await ctx.nemesis.terminate(node.id);
      await ctx.nemesis.backup(node.id, copy);
      await ctx.nemesis.start(node.id);
      const before = await registeredStore(ctx, node.id);
      await ctx.progress(200);
      await ctx.nemesis.terminate(node.id);
      await ctx.nemesis.restore(node.id, copy);
      await ctx.nemesis.start(node.id);
      // The copy is older than the store the node last registered: it must come back as a new store.
      const after = await registeredStore(ctx, node.id);
      if (after.store === before.store) throw new Error(`${node.id}: the restored copy kept its identity ${after.store}`);
      ctx.log(`${node.id}: store ${before.store} (generation ${before.generation}) restored from a copy, registered as new store ${after.store}`);
      await ctx.topology.waitForHealthy(ctx.queue);
    }),
};
