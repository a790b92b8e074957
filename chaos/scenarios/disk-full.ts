/** A full disk on one node: its data dir is a 256 MiB tmpfs, filled up while it serves. */
import { rounds, type Scenario } from '../scenario.ts';

export const diskFull: Scenario = {
  name: 'disk-full',
  description: "n3's data dir (a 256 MiB tmpfs) is filled until writes fail with ENOSPC, for 10 s, then freed (n3 restarted if it exited)",
  topology: { smallDisk: { node: 'n3', diskMb: 256 } },
  run: (ctx) =>
    rounds(ctx, async () => {
      await ctx.nemesis.fillDisk('n3');
      await ctx.hold(10_000);
      await ctx.nemesis.freeDisk('n3');
    }),
};
