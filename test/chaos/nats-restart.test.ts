/**
 * The nats-server restarted under load (the metadata KV and every client and node connection go
 * with it): writes may stall, never lose. Once as a graceful restart, once as a kill -9.
 */
import test from 'ava';
import { assertSyncTargets, runScenario, scenarioTimeoutMs } from './scenario.ts';

test('nats-server restarted under load: writes stall, nothing is lost', async (t) => {
  t.timeout(scenarioTimeoutMs);
  const result = await runScenario(t, {
    name: 'nats-restart',
    nemesis: async (ctx) => {
      const { nats } = ctx.cluster;
      for (let round = 0; ctx.another(round, 2); round++) {
        if (round % 2 === 0) {
          await ctx.nemesis('nats-restart', 'nats', () => nats.restart());
        } else {
          await ctx.nemesis('nats-kill', 'nats', () => nats.kill('SIGKILL'));
          await ctx.hold(1_000);
          await ctx.nemesis('nats-restart', 'nats', () => nats.restart());
        }
        await ctx.progress(50);
      }
    },
  });
  assertSyncTargets(t, result);
});
