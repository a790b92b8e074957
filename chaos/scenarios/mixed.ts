/** Every kind of fault, one at a time in a seeded random order, healed between: the long tier's run. */
import { anyPrimary, rounds, type ChaosContext, type Scenario } from '../scenario.ts';

const FAULTS: ReadonlyArray<(ctx: ChaosContext) => Promise<void>> = [
  async (ctx) => {
    const p = await anyPrimary(ctx);
    await ctx.nemesis.kill(p);
    await ctx.primary(0, p).catch(() => undefined);
  },
  async (ctx) => {
    const p = await anyPrimary(ctx);
    await ctx.nemesis.pause(p);
    await ctx.hold(6_000);
  },
  async (ctx) => {
    await ctx.nemesis.isolate(await anyPrimary(ctx));
    await ctx.hold(8_000);
  },
  async (ctx) => {
    const mine = ctx.topology.node(await anyPrimary(ctx)).server;
    await ctx.nemesis.partition([mine], ctx.topology.servers.map((s) => s.name).filter((s) => s !== mine));
    await ctx.hold(10_000);
  },
  async (ctx) => {
    await ctx.nemesis.proxy(ctx.pick(ctx.topology.nodes).id, { delayMs: 200, jitterMs: 300 });
    await ctx.hold(10_000);
  },
  async (ctx) => {
    await ctx.nemesis.proxy(ctx.pick(ctx.topology.nodes).id, { lossRate: 0.02 });
    await ctx.hold(10_000);
  },
  async (ctx) => {
    await ctx.nemesis.proxy(await anyPrimary(ctx), { stall: true });
    await ctx.hold(8_000);
  },
  async (ctx) => {
    await ctx.nemesis.bandwidth(await anyPrimary(ctx), '256kbit');
    await ctx.hold(10_000);
  },
  async (ctx) => {
    await ctx.nemesis.fillDisk('n3');
    await ctx.hold(10_000);
  },
  async (ctx) => {
    await ctx.nemesis.restartNats(ctx.pick(ctx.topology.servers).name, ctx.pick(['graceful', 'kill'] as const));
  },
  async (ctx) => {
    await ctx.nemesis.clockJump(await anyPrimary(ctx), ctx.pick([30, -30]));
    await ctx.hold(8_000);
  },
  async (ctx) => {
    const node = ctx.pick(ctx.topology.nodes).id;
    await ctx.nemesis.terminate(node);
    await ctx.nemesis.start(node);
  },
];

export const mixed: Scenario = {
  name: 'mixed',
  description: 'a seeded random sequence of every fault above (kill, pause, isolation, partition, slow, lossy and stalled links, bandwidth, full disk, NATS restart, clock jump, graceful restart), each healed before the next',
  topology: { smallDisk: { node: 'n3', diskMb: 256 }, fakeTime: true },
  run: (ctx) => rounds(ctx, () => ctx.pick(FAULTS)(ctx)),
};
