/**
 * What a scenario is: a name, the topology it needs, and a fault schedule run against a live
 * workload until its time is up. The runner (runner.ts) does everything around it: the cluster,
 * the queue, the workload, heal, the final drain, the replica dumps and the checker.
 */
import type { WharfClient } from '../src/client/client.ts';
import type { History } from '../test/chaos/history.ts';
import type { Nemesis } from './nemesis.ts';
import type { Topology, TopologyOptions } from './topology.ts';

export interface ChaosContext {
  readonly topology: Topology;
  readonly nemesis: Nemesis;
  readonly history: History;
  readonly queue: string;
  readonly admin: WharfClient;
  /** Seeded: the same seed makes the same choices. */
  readonly random: () => number;
  /** Whether the fault phase has time left (a scenario does at least one round regardless). */
  more(): boolean;
  /** Keeps a fault in place for `ms`: part of the schedule, not a wait for an event. */
  hold(ms: number): Promise<void>;
  /** Waits (bounded) until `count` more sends are acknowledged: the load gets through between faults. */
  progress(count: number, timeoutMs?: number): Promise<void>;
  /** The current primary of a partition of the queue (waits, bounded, for one that runs). */
  primary(partition?: number, not?: string): Promise<string>;
  pick<T>(xs: readonly T[]): T;
  log(message: string): void;
}

export interface Scenario {
  readonly name: string;
  readonly description: string;
  /** Whether the short tier (CI) runs it. */
  readonly short?: boolean;
  readonly topology?: Pick<TopologyOptions, 'smallDisk' | 'fakeTime' | 'env'>;
  /** @default 2 */
  readonly partitions?: number;
  run(ctx: ChaosContext): Promise<void>;
}

/**
 * The shape of most schedules: a fault (`round`, given its number), everything healed, the NATS
 * cluster whole again and some load through, again while time is left (at least once).
 */
export async function rounds(ctx: ChaosContext, round: (i: number) => Promise<void>): Promise<void> {
  let i = 0;
  do {
    await round(i++);
    await ctx.nemesis.healAll();
    await ctx.topology.waitForNatsCluster();
    await ctx.progress(50);
  } while (ctx.more());
}

/** The primary of a random partition of the queue. */
export const anyPrimary = (ctx: ChaosContext): Promise<string> => ctx.primary(ctx.pick([0, 1]));
