/**
 * Operations under load: a rolling restart of every node (as Docker Swarm updates a service: one
 * task at a time, SIGTERM, wait until it is healthy, next) and the backup and restore of a node's
 * data dir.
 */
import { join } from 'node:path';
import { rounds, type Scenario } from '../scenario.ts';

export const rollingRestart: Scenario = {
  name: 'rolling-restart',
  description: 'every node in turn: SIGTERM (graceful stop, primaries handed over), started again, and the next only once every replica is back in sync',
  short: true,
  async run(ctx) {
    do {
      for (const node of ctx.topology.nodes) {
        await ctx.nemesis.terminate(node.id);
        await ctx.nemesis.start(node.id);
        await ctx.topology.waitForReplicasInSync(ctx.queue);
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
      await ctx.progress(200);
      await ctx.nemesis.terminate(node.id);
      await ctx.nemesis.restore(node.id, copy);
      await ctx.nemesis.start(node.id);
      await ctx.topology.waitForReplicasInSync(ctx.queue);
    }),
};
