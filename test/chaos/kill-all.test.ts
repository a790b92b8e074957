/**
 * kill -9 of every node at once, then all restarted: everything acknowledged is still there, every
 * acknowledged delete stays deleted, and the replicas agree afterwards.
 */
import test from 'ava';
import { assertSyncTargets, runScenario, scenarioTimeoutMs } from './scenario.ts';

test('kill -9 of every node, all restarted: everything acknowledged is there', async (t) => {
  t.timeout(scenarioTimeoutMs);
  const result = await runScenario(t, {
    name: 'kill-all',
    nemesis: async (ctx) => {
      for (let round = 0; ctx.another(round, 2); round++) {
        const all = ctx.cluster.nodes;
        await ctx.nemesis('kill', all.map((n) => n.id).join(','), () => Promise.all(all.map((n) => n.kill())));
        await ctx.hold(1_000);
        await ctx.nemesis('start', all.map((n) => n.id).join(','), () => Promise.all(all.map((n) => n.start())));
        await ctx.progress(50);
      }
    },
  });
  assertSyncTargets(t, result);
});
