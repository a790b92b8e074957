/**
 * SIGSTOP of the primary past its lease, then SIGCONT. With replicas a new primary is elected while
 * the old one is frozen; when it wakes it must neither acknowledge nor deliver under its stale
 * epoch: the checker sees that as a lost send or a double delivery under a live lease. On one node
 * the queue freezes with it, and every lease it gave out must still hold when it wakes.
 */
import test from 'ava';
import { assertSyncTargets, chaosNodes, runScenario, scenarioTimeoutMs } from './scenario.ts';

test('SIGSTOP of the primary past its lease, then SIGCONT: no acknowledgement or delivery under a stale epoch', async (t) => {
  t.timeout(scenarioTimeoutMs);
  const result = await runScenario(t, {
    name: 'pause-primary',
    nemesis: async (ctx) => {
      for (let round = 0; ctx.another(round, 2); round++) {
        const primary = await ctx.primary();
        await ctx.nemesis('stop', primary, () => ctx.cluster.node(primary).stop());
        if (chaosNodes > 1) {
          // Frozen until the others have elected a new primary and it has taken load.
          await ctx.primary({ not: primary });
          await ctx.progress(20, 20_000);
        } else {
          // Longer than the visibility timeout (5 s): leases given out before the pause expire during it.
          await ctx.hold(6_000);
        }
        await ctx.nemesis('cont', primary, () => ctx.cluster.node(primary).cont());
        await ctx.progress(50);
      }
    },
  });
  assertSyncTargets(t, result);
  if (chaosNodes > 1) t.true(result.report.unavailability.send.seconds < 10, 'failover under 10 s');
});
