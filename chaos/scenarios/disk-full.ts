/**
 * A full disk on one node: its data dir is a 256 MiB tmpfs, filled up while it serves. RocksDB
 * preallocates its write-ahead log, so a running node with small writes may go on for a while on
 * the space it already holds; the node is then killed and started on the full disk (a crash and a
 * restart of the service, as a supervisor would), which needs new files, and only after the disk
 * is freed does it start.
 */
import { rounds, type Scenario } from '../scenario.ts';

export const diskFull: Scenario = {
  name: 'disk-full',
  description:
    "n3's data dir (a 256 MiB tmpfs) is filled until writes fail with ENOSPC; 10 s later n3 is killed and started on the full disk; 5 s later the disk is freed and n3 started",
  topology: { smallDisk: { node: 'n3', diskMb: 256 } },
  run: (ctx) =>
    rounds(ctx, async () => {
      await ctx.nemesis.fillDisk('n3');
      await ctx.hold(10_000);
      await ctx.nemesis.kill('n3');
      const started = await ctx.nemesis.start('n3').then(
        () => 'started',
        (err: unknown) => `did not start: ${(err as Error).message.split('\n').slice(0, 3).join(' ')}`,
      );
      ctx.log(`n3 on a full disk ${started}`);
      await ctx.hold(5_000);
      await ctx.nemesis.freeDisk('n3');
    }),
};
