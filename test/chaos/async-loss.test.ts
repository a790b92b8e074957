/**
 * Async replication: a send is acknowledged after the primary's local write and replicated next, so
 * a kill -9 of the primary can lose what its followers had not copied yet. The loss and its window
 * (from the oldest lost acknowledgement to the kill that lost it) are measured and reported, not
 * asserted zero; what must still hold: nothing unexpected, no failed send delivered.
 *
 * Needs replicas: skipped with WHARF_CHAOS_REPLICATED=0.
 */
import test from 'ava';
import { readHistory, type HistoryOp } from './history.ts';
import { replicated, runScenario, scenarioTimeoutMs } from './scenario.ts';

/** The longest time between a lost value's acknowledgement and the next kill, seconds. */
function lossWindow(ops: readonly HistoryOp[], lost: ReadonlySet<string>): number {
  const kills = ops.filter((o) => o.process === 'nemesis' && o.f === 'kill' && o.type === 'invoke').map((o) => o.time);
  let window = 0;
  for (const o of ops) {
    if (o.type !== 'ok' || o.f !== 'send' || !lost.has(o.value)) continue;
    const kill = kills.find((k) => k >= o.time);
    if (kill !== undefined) window = Math.max(window, kill - o.time);
  }
  return Math.round(window) / 1000;
}

if (replicated) {
  test('async mode: the loss window of a primary kill is measured and reported', async (t) => {
    t.timeout(scenarioTimeoutMs);
    const result = await runScenario(t, {
      name: 'async-loss',
      replication: 'async',
      nemesis: async (ctx) => {
        for (let round = 0; ctx.another(round, 3); round++) {
          const primary = await ctx.primary();
          await ctx.nemesis('kill', primary, () => ctx.cluster.node(primary).kill());
          await ctx.progress(20, 20_000);
          await ctx.nemesis('start', primary, () => ctx.cluster.node(primary).start());
          await ctx.progress(50);
        }
      },
    });
    const window = lossWindow(await readHistory(result.history), new Set(result.report.lost.values));
    t.log(`async-loss: lost ${result.report.lost.count} of ${result.report.acknowledged} acknowledged, loss window ${window} s`);
    t.deepEqual(result.report.unexpected, [], 'unexpected values');
    t.deepEqual(result.report.failedButDelivered, [], 'definitely failed sends delivered');
  });
} else {
  test.todo('async loss window: needs replication (skipped: WHARF_CHAOS_REPLICATED=0)');
}
