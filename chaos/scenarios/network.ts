/**
 * Network partitions, made with iptables inside the hosts' namespaces (packets dropped both ways,
 * so connections stall until pings notice, as on a real network). Node nK talks to NATS server sK.
 */
import { anyPrimary, rounds, type Scenario } from '../scenario.ts';

export const partitionNode: Scenario = {
  name: 'partition-node',
  description: "the primary's node is cut off the network (from its NATS server and everything else) for 8 s, then healed; repeated",
  short: true,
  run: (ctx) =>
    rounds(ctx, async () => {
      await ctx.nemesis.isolate(await anyPrimary(ctx));
      await ctx.hold(8_000);
    }),
};

export const partitionPrimary: Scenario = {
  name: 'partition-primary',
  description:
    "the primary's NATS server is cut from the other NATS servers for 10 s: clients connected to that server still reach the primary, the cluster manager and the followers (on the other servers) do not",
  run: (ctx) =>
    rounds(ctx, async () => {
      const mine = ctx.topology.node(await anyPrimary(ctx)).server;
      await ctx.nemesis.partition([mine], ctx.topology.servers.map((s) => s.name).filter((s) => s !== mine));
      await ctx.hold(10_000);
    }),
};

export const splitMinority: Scenario = {
  name: 'split-minority',
  description: 'majority/minority split: one NATS server and its node on one side, the other two of each on the other, for 10 s; the minority side changes every round',
  run: (ctx) =>
    rounds(ctx, async (i) => {
      const node = ctx.topology.nodes[(i + Math.floor(ctx.random() * 3)) % 3];
      if (node === undefined) throw new Error('no node');
      const majority = ctx.topology.nodes.filter((n) => n !== node).flatMap((n) => [n.server, n.id]);
      await ctx.nemesis.partition([node.server, node.id], majority);
      await ctx.hold(10_000);
    }),
};
