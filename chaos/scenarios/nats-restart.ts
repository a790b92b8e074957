/** NATS server restarts: one server of the three at a time, gracefully and with kill -9 in turn. */
import { rounds, type Scenario } from '../scenario.ts';

export const natsRestart: Scenario = {
  name: 'nats-restart',
  description: 'one NATS server restarted on its JetStream store (SIGTERM, then kill -9 the next round), the cluster re-forms; repeated over the servers',
  run: (ctx) =>
    rounds(ctx, async (i) => {
      const server = ctx.topology.servers[i % 3];
      if (server === undefined) throw new Error('no server');
      await ctx.nemesis.restartNats(server.name, i % 2 === 0 ? 'graceful' : 'kill');
    }),
};
