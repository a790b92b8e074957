/**
 * Clock jumps on a broker process: every node runs under libfaketime, whose offset file the nemesis
 * rewrites (the wall clock jumps; the monotonic clock, which timers use, does not).
 */
import { anyPrimary, rounds, type Scenario } from '../scenario.ts';

export const clockJump: Scenario = {
  name: 'clock-jump',
  description: "the primary's wall clock jumps 30 s ahead for 8 s and back; then a follower's jumps 30 s behind for 8 s and back",
  topology: { fakeTime: true },
  run: (ctx) =>
    rounds(ctx, async () => {
      const p = await anyPrimary(ctx);
      await ctx.nemesis.clockJump(p, 30);
      await ctx.hold(8_000);
      await ctx.nemesis.clockJump(p, -30);
      await ctx.progress(50);
      const follower = ctx.pick(ctx.topology.nodes.filter((n) => n.id !== p)).id;
      await ctx.nemesis.clockJump(follower, -30);
      await ctx.hold(8_000);
      await ctx.nemesis.clockJump(follower, 30);
    }),
};
