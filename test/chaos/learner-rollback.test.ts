/**
 * Amnesia: a follower whose log lost its last entries (rolled back while it was down, as after a
 * power loss that took unsynced writes) rejoins as a learner and is never elected while behind.
 *
 * The follower is killed and rolled back, then the primary is killed too: one up-to-date replica is
 * left. When the follower comes back, the only replica holding every committed entry is the third
 * one, so it must become primary; electing the amnesiac follower would lose acknowledged messages,
 * which the checker would report.
 *
 * Needs replicas and the node's log rollback hook (cluster.ts rollbackLog): runs with
 * WHARF_CHAOS_REPLICATED=1.
 */
import test from 'ava';
import { assertSyncTargets, QUEUE, replicated, runScenario, scenarioTimeoutMs } from './scenario.ts';

const ENTRIES_LOST = 20;

if (replicated) {
  test('a follower that lost its last log entries rejoins as a learner and is not elected while behind', async (t) => {
    t.timeout(scenarioTimeoutMs);
    const elected: string[] = [];
    const result = await runScenario(t, {
      name: 'learner-rollback',
      nemesis: async (ctx) => {
        const { cluster } = ctx;
        for (let round = 0; ctx.another(round, 1); round++) {
          const primary = await ctx.primary();
          const [follower, survivor] = cluster.nodes.map((n) => n.id).filter((id) => id !== primary);
          if (follower === undefined || survivor === undefined) throw new Error('needs three nodes');
          await ctx.nemesis('kill', follower, () => cluster.node(follower).kill());
          await ctx.progress(30, 20_000);
          await ctx.nemesis('rollback', follower, () => cluster.rollbackLog(follower, QUEUE, 0, ENTRIES_LOST));
          await ctx.nemesis('kill', primary, () => cluster.node(primary).kill());
          await ctx.nemesis('start', follower, () => cluster.node(follower).start());
          const next = await ctx.primary({ not: primary });
          elected.push(next);
          t.is(next, survivor, `round ${round}: the replica with every committed entry is elected, not the amnesiac ${follower}`);
          await ctx.progress(30);
          await ctx.nemesis('start', primary, () => cluster.node(primary).start());
          await ctx.progress(50);
        }
      },
    });
    t.log(`elected after each rollback: ${elected.join(', ')}`);
    assertSyncTargets(t, result);
  });
} else {
  test.todo('learner after log rollback: needs replication (WHARF_CHAOS_REPLICATED=1) and the node rollback hook');
}
