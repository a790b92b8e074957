/**
 * Slow, lossy, stalled and narrow links between a node and its NATS server: the fault proxy
 * (proxy.ts) for delay, jitter, loss and stalls, `tc tbf` on the node's veth for bandwidth.
 */
import { anyPrimary, rounds, type ChaosContext, type Scenario } from '../scenario.ts';

/** The primary's node on even rounds, any node on odd ones. */
const target = async (ctx: ChaosContext, i: number) => (i % 2 === 0 ? anyPrimary(ctx) : ctx.pick(ctx.topology.nodes).id);

export const slowLink: Scenario = {
  name: 'slow-link',
  description: "200 ms delay and 0–300 ms jitter on one node's NATS connection for 10 s (the primary's every other round)",
  run: (ctx) =>
    rounds(ctx, async (i) => {
      await ctx.nemesis.proxy(await target(ctx, i), { delayMs: 200, jitterMs: 300 });
      await ctx.hold(10_000);
    }),
};

export const lossyLink: Scenario = {
  name: 'lossy-link',
  description: "one node's NATS connection is cut with probability 0.02 per chunk (a stream cannot lose bytes: loss means a reset), plus 20 ms delay and 20 ms jitter, for 10 s",
  run: (ctx) =>
    rounds(ctx, async (i) => {
      await ctx.nemesis.proxy(await target(ctx, i), { lossRate: 0.02, delayMs: 20, jitterMs: 20 });
      await ctx.hold(10_000);
    }),
};

export const stalledLink: Scenario = {
  name: 'stalled-link',
  description: "the primary's NATS connection stalls (open, nothing passes, new connections too) for 8 s",
  run: (ctx) =>
    rounds(ctx, async () => {
      await ctx.nemesis.proxy(await anyPrimary(ctx), { stall: true });
      await ctx.hold(8_000);
    }),
};

export const bandwidth: Scenario = {
  name: 'bandwidth',
  description: "the primary's host is limited to 256 kbit/s each way (tc tbf) for 10 s",
  run: (ctx) =>
    rounds(ctx, async () => {
      await ctx.nemesis.bandwidth(await anyPrimary(ctx), '256kbit');
      await ctx.hold(10_000);
    }),
};
