/** Faults of a broker process: kill -9 and SIGSTOP/SIGCONT, each round chasing the current primary. */
import { rounds, type Scenario } from '../scenario.ts';

export const killPrimary: Scenario = {
  name: 'kill-primary',
  description: 'kill -9 of the primary, restarted once a new primary serves; repeated',
  short: true,
  run: (ctx) =>
    rounds(ctx, async () => {
      const partition = ctx.pick([0, 1]);
      const p = await ctx.primary(partition);
      await ctx.nemesis.kill(p);
      await ctx.primary(partition, p);
    }),
};

export const pausePrimary: Scenario = {
  name: 'pause-primary',
  description: 'SIGSTOP of the primary until another primary is recorded (at most 60 s), then SIGCONT; repeated',
  run: (ctx) =>
    rounds(ctx, async () => {
      const partition = ctx.pick([0, 1]);
      const p = await ctx.primary(partition);
      await ctx.nemesis.pause(p);
      await ctx.primary(partition, p).catch(() => undefined);
      await ctx.hold(1_000);
    }),
};
