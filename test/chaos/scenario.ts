/**
 * One fault scenario, start to verdict: a cluster (cluster.ts), a queue, the workload recorded in a
 * history file, the scenario's faults (the nemesis), heal, a final drain, the replicas' stores read
 * back, the checker, one summary line, and the assertions every sync-mode scenario shares.
 *
 * Knobs (environment):
 *
 *   WHARF_CHAOS_REPLICATED=0  every scenario runs on one node (faults then test durability and
 *                             recovery, not failover) and the scenarios that need replicas
 *                             (learner rollback, async loss window) are skipped. By default the
 *                             cluster has 3 nodes and every scenario runs.
 *   WHARF_CHAOS_NODES         node count, overriding the above.
 *   WHARF_CHAOS_SECONDS       the longer tier: each scenario repeats its faults for at least this
 *                             long (the CI tier does a fixed few rounds).
 *   WHARF_CHAOS_SEED          seed of the workload's random choices (printed with every summary).
 *   WHARF_CHAOS_NODE_ENV      JSON object of extra node environment, e.g. shorter failure detection.
 *
 * Histories and summary lines are kept under test-artifacts/chaos/.
 */
import { appendFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import type { ExecutionContext } from 'ava';
import { eventually } from '../helpers/eventually.ts';
import { startWharfCluster, type WharfCluster } from '../helpers/cluster.ts';
import { check, summaryLine, type Report, type ReplicaDump } from './checker.ts';
import { History, HistoryWriter, readHistory, type NemesisF } from './history.ts';
import { drain, seededRandom, startWorkload, type Workload } from './workload.ts';

const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/chaos/', import.meta.url));

const env = (name: string): string | undefined => {
  const v = process.env[name];
  return v === undefined || v === '' ? undefined : v;
};

export const replicated = env('WHARF_CHAOS_REPLICATED') !== '0';
export const chaosNodes = Number(env('WHARF_CHAOS_NODES') ?? (replicated ? 3 : 1));
export const chaosSeconds = Number(env('WHARF_CHAOS_SECONDS') ?? 0);
/** A scenario's own time limit: the CI tier's rounds, plus twice the longer tier's fault time. */
export const scenarioTimeoutMs = 180_000 + chaosSeconds * 2_000;
const seed = Number(env('WHARF_CHAOS_SEED') ?? Math.floor(Math.random() * 2 ** 31));
const nodeEnv = JSON.parse(env('WHARF_CHAOS_NODE_ENV') ?? '{}') as Record<string, string>;

export const QUEUE = 'chaos';

export interface ScenarioContext {
  readonly t: ExecutionContext;
  readonly cluster: WharfCluster;
  readonly history: History;
  readonly workload: Workload;
  /** Waits (bounded) until `count` more sends are acknowledged: the load runs between faults. */
  progress(count: number, timeoutMs?: number): Promise<void>;
  /** Keeps a fault in place for `ms`: the fault's duration, part of the schedule, not a wait for an event. */
  hold(ms: number): Promise<void>;
  /** Runs a fault and records it in the history. */
  nemesis<T>(f: NemesisF, target: string, run: () => Promise<T> | T): Promise<T>;
  /** True while the scenario should do another round: at least `min`, then until WHARF_CHAOS_SECONDS. */
  another(round: number, min: number): boolean;
  /** The partition the faults chase (its primary is "the primary"). */
  primary(options?: { not?: string }): Promise<string>;
}

export interface ScenarioOptions {
  name: string;
  nodes?: number;
  /** @default 2 */
  partitions?: number;
  /** @default 'sync' */
  replication?: 'sync' | 'async';
  env?: Record<string, string>;
  nemesis: (ctx: ScenarioContext) => Promise<void>;
}

export interface ScenarioResult {
  report: Report;
  line: string;
  history: string;
}

export async function runScenario(t: ExecutionContext, options: ScenarioOptions): Promise<ScenarioResult> {
  const started = Date.now();
  const nodes = options.nodes ?? chaosNodes;
  const cluster = await startWharfCluster(t, { nodes, env: { ...nodeEnv, ...options.env } });
  const admin = await cluster.connect({ timeoutMs: 3_000 });
  await eventually(
    () =>
      admin.createQueue(QUEUE, {
        partitions: options.partitions ?? 2,
        visibilityTimeout: 5,
        replication: options.replication ?? 'sync',
        replicationFactor: Math.min(nodes, 3),
      }),
    { timeoutMs: 30_000, intervalMs: 200, message: `queue ${QUEUE} created` },
  );

  await mkdir(ARTIFACTS, { recursive: true });
  const file = join(ARTIFACTS, `${options.name}-${new Date(started).toISOString().replace(/[:.]/g, '-')}.jsonl`);
  const history = new History(new HistoryWriter(file));
  t.teardown(() => history.close());
  const workload = await startWorkload({
    queue: QUEUE,
    history,
    connect: () => cluster.connect({ timeoutMs: 3_000 }),
    random: seededRandom(seed),
  });
  t.teardown(() => workload.stop());

  const progress = async (count: number, timeoutMs = 30_000) => {
    const target = history.acked.size + count;
    await eventually(() => history.acked.size >= target, { timeoutMs, intervalMs: 50, message: `${count} more acknowledged sends` });
  };
  const ctx: ScenarioContext = {
    t,
    cluster,
    history,
    workload,
    progress,
    hold: (ms) => delay(ms),
    nemesis: (f, target, run) => history.nemesis(f, target, async () => run()),
    another: (round, min) => round < min || (Date.now() - started) / 1000 < chaosSeconds,
    primary: ({ not } = {}) => cluster.waitForPrimary(QUEUE, 0, not === undefined ? {} : { not }),
  };

  await progress(100);
  const phases: string[] = [];
  let mark = started;
  const phase = (name: string) => {
    phases.push(`${name} ${Math.round((Date.now() - mark) / 100) / 10} s`);
    mark = Date.now();
  };
  phase('setup');
  const faultsFrom = history.now();
  await options.nemesis(ctx);
  await heal(ctx);
  await progress(50);
  const faultsTo = history.now();
  await workload.stop();
  phase('faults');

  // Divergence is read twice: with the queue full (a replica missing a live message would lose it
  // on failover) and after the drain (a replica still holding a deleted one would resurrect it).
  const replicas: ReplicaDump[] = nodes > 1 ? await readReplicas(t, cluster, history, 'before-drain') : [];
  if (nodes > 1) await Promise.all(cluster.nodes.map((n) => n.start()));
  phase('dump');

  const drained = await drain({ queue: QUEUE, history, client: await cluster.connect({ timeoutMs: 3_000 }) });
  if (!drained.complete) t.log(`drain incomplete: ${drained.missing.length} acknowledged values unaccounted for, e.g. ${drained.missing.slice(0, 10).join(' ')}`);
  phase('drain');
  if (nodes > 1) replicas.push(...(await readReplicas(t, cluster, history, 'after-drain')));
  history.close();

  const report = check(await readHistory(file), { replicas, measureFrom: faultsFrom, measureTo: faultsTo });
  phase('verify');
  const copies = `snapshots copied ${cluster.logged('snapshot copied')}, divergent tails truncated ${cluster.logged('truncating a divergent log tail')}`;
  const line = `${summaryLine(options.name, report)} [nodes ${nodes}, seed ${seed}, ${phases.join(', ')}, ${copies}, history ${file}]`;
  t.log(line);
  await appendFile(join(ARTIFACTS, 'summary.log'), `${new Date().toISOString()} ${line}\n`);
  return { report, line, history: file };
}

/** Waits (bounded) for the replicas to report the same log, stops every node and reads their stores. */
async function readReplicas(t: ExecutionContext, cluster: WharfCluster, history: History, label: string): Promise<ReplicaDump[]> {
  await cluster.waitForReplicasInSync(QUEUE).catch((err: unknown) => t.log(`${label}: replicas not reported in sync: ${(err as Error).message}`));
  await Promise.all(cluster.nodes.map((n) => n.shutdown()));
  const dumps = await cluster.dumpReplicas(QUEUE);
  t.log(`${label}: messages per replica: ${dumps.map((d) => `${d.node}/${d.partition} ${d.values.length}`).join(', ')}`);
  const at = history.now();
  return dumps.map((d) => ({ ...d, partition: `${label}:${d.partition}`, at }));
}

/** Resumes paused nodes and starts stopped ones, recorded as one `heal`. */
async function heal(ctx: ScenarioContext): Promise<void> {
  const { cluster } = ctx;
  const down = cluster.nodes.filter((n) => n.paused || !n.running);
  if (down.length === 0) return;
  await ctx.nemesis('heal', down.map((n) => n.id).join(','), () =>
    Promise.all(down.map((n) => (n.paused ? n.cont() : n.start()))),
  );
}

/** The sync-mode targets every scenario asserts: nothing lost, no double delivery, no divergence. */
export function assertSyncTargets(t: ExecutionContext, { report }: ScenarioResult): void {
  t.is(report.lost.count, 0, `lost: ${report.lost.values.slice(0, 20).join(' ')}`);
  t.deepEqual(report.duplicates.underLiveLease.slice(0, 5), [], 'double deliveries under a live lease');
  t.deepEqual(report.divergence.slice(0, 10), [], 'replicas diverge');
  t.deepEqual(report.storedAfterDelete.slice(0, 10), [], 'replicas still store deleted messages');
  t.deepEqual(report.resurrected.slice(0, 5), [], 'deliveries after an acknowledged delete');
  t.deepEqual(report.unexpected.slice(0, 10), [], 'unexpected values');
  t.deepEqual(report.failedButDelivered.slice(0, 10), [], 'definitely failed sends delivered');
  t.true(report.valid, report.problems.join('; '));
}
