/**
 * A cluster of three independent hosts (WHARF_CLUSTER_MODEL=hosts), one shard per host: kill -9 of
 * a host during continuous sends and receives, repeated, each round a host that writes a shard.
 * The surviving hosts take its shard over (a fence, then the safe host by the takeover order); when
 * it comes back it catches up and takes its shard back. The history checker's sync-mode verdict:
 * nothing acknowledged lost, no double delivery under a live lease, every message received.
 */
import test from 'ava';
import { assertSyncTargets, chaosNodes, runScenario, scenarioTimeoutMs } from './scenario.ts';

test('hosts cluster: kill -9 of a host, repeated: nothing acknowledged lost, no double delivery', async (t) => {
  if (chaosNodes < 3) {
    t.pass('needs three hosts (WHARF_CHAOS_NODES >= 3)');
    return;
  }
  t.timeout(scenarioTimeoutMs);
  const result = await runScenario(t, {
    name: 'hosts-kill',
    partitions: 3,
    env: { WHARF_CLUSTER_MODEL: 'hosts' },
    nemesis: async (ctx) => {
      // The model is in effect: every host runs a shard keeper, none a cluster manager.
      t.is(ctx.cluster.logged('shard keeper started (cluster model hosts)'), 3);
      t.is(ctx.cluster.logged('cluster manager started'), 0);
      for (let round = 0; ctx.another(round, 3); round++) {
        // Shard 0's writer: its home at first, whoever took it over later.
        const host = await ctx.primary();
        await ctx.nemesis('kill', host, () => ctx.cluster.node(host).kill());
        // The other hosts keep serving their shards and take the dead host's over.
        await ctx.progress(20, 20_000);
        await ctx.cluster.waitForPrimary('chaos', 0, { not: host });
        await ctx.nemesis('start', host, () => ctx.cluster.node(host).start());
        await ctx.progress(50);
      }
    },
  });
  assertSyncTargets(t, result);
});
