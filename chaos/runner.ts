/**
 * One scenario, start to verdict: the multi-host topology (topology.ts), a sync queue with 3
 * replicas, the recorded workload of test/chaos (workload.ts, history.ts), the scenario's faults
 * for `seconds`, heal, a final stretch of load, replica dumps (with the queue full, then after the
 * final drain), and the checker (test/chaos/checker.ts). The topology is always torn down, also
 * when something fails, and the work dir (data, logs, history) is removed after a valid run.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { check, type Report, type ReplicaDump } from '../test/chaos/checker.ts';
import { History, HistoryWriter, readHistory, type HistoryOp } from '../test/chaos/history.ts';
import { drain, seededRandom, startWorkload, type Workload } from '../test/chaos/workload.ts';
import { eventually } from '../test/helpers/eventually.ts';
import { Nemesis } from './nemesis.ts';
import type { ChaosContext, Scenario } from './scenario.ts';
import { Topology } from './topology.ts';

export const QUEUE = 'chaos';

export interface RunOptions {
  seed: number;
  /** Length of the fault phase. */
  seconds: number;
  /** Lines of progress (stderr in the CLI, t.log in the test). */
  log?: (line: string) => void;
  /** Keep the work dir even when the run is valid. */
  keep?: boolean;
}

export interface RunResult {
  scenario: string;
  seed: number;
  seconds: number;
  startedAt: string;
  durationSeconds: number;
  report: Report;
  /** The faults as the history recorded them: what, on what, when (seconds from the start). */
  faults: Array<{ f: string; target: string | null; at: number; outcome: string }>;
  phases: Record<string, number>;
  logCounts: Record<string, number>;
  workDir: string;
  kept: boolean;
}

const COUNTED_LOGS = ['snapshot copied', 'truncating a divergent log tail', 'stepped down', 'promoting to primary', 'request failed'];

export async function runScenario(scenario: Scenario, options: RunOptions): Promise<RunResult> {
  const log = options.log ?? (() => undefined);
  const started = Date.now();
  const startedAt = new Date(started).toISOString();
  const workDir = join(tmpdir(), `wharf-chaos-${startedAt.replace(/[:.]/g, '-')}-${scenario.name}`);
  await mkdir(workDir, { recursive: true });
  const random = seededRandom(options.seed);
  const phases: Record<string, number> = {};
  let mark = Date.now();
  const phase = (name: string) => {
    phases[name] = Math.round((Date.now() - mark) / 100) / 10;
    mark = Date.now();
    log(`${scenario.name}: ${name} done (${phases[name]} s)`);
  };

  const topology = await Topology.start({ dir: workDir, cluster: `chaos${randomBytes(3).toString('hex')}`, random, ...scenario.topology });
  let history: History | undefined;
  let workload: Workload | undefined;
  let valid = false;
  try {
    const admin = await topology.client();
    await eventually(
      () => admin.createQueue(QUEUE, { partitions: scenario.partitions ?? 2, visibilityTimeout: 5, replication: 'sync', replicationFactor: 3 }),
      { timeoutMs: 60_000, intervalMs: 250, message: `queue ${QUEUE} created` },
    );
    const historyFile = join(workDir, 'history.jsonl');
    history = new History(new HistoryWriter(historyFile));
    const h = history;
    workload = await startWorkload({ queue: QUEUE, history: h, connect: () => topology.client(), random });
    const progress = async (count: number, timeoutMs = 60_000) => {
      const target = h.acked.size + count;
      await eventually(() => h.acked.size >= target, { timeoutMs, intervalMs: 50, message: `${count} more acknowledged sends` });
    };
    await progress(100);
    phase('setup');

    const nemesis = new Nemesis(topology, h);
    const faultsUntil = Date.now() + options.seconds * 1000;
    const ctx: ChaosContext = {
      topology,
      nemesis,
      history: h,
      queue: QUEUE,
      admin,
      random,
      more: () => Date.now() < faultsUntil,
      hold: (ms) => delay(ms),
      progress,
      primary: (partition = 0, not) => topology.waitForPrimary(QUEUE, partition, not === undefined ? {} : { not }),
      pick: <T>(xs: readonly T[]): T => {
        const x = xs[Math.floor(random() * xs.length)];
        if (x === undefined) throw new Error('pick from an empty list');
        return x;
      },
      log: (m) => log(`${scenario.name}: ${m}`),
    };
    const faultsFrom = h.now();
    try {
      await scenario.run(ctx);
    } finally {
      await nemesis.healAll();
    }
    await progress(50);
    const faultsTo = h.now();
    await workload.stop();
    phase('faults');

    // Divergence is read twice: with the queue full (a replica missing a live message would lose it
    // on failover) and after the drain (a replica still holding a deleted one would resurrect it).
    const replicas: ReplicaDump[] = await dumpReplicas(topology, h, 'before-drain', log);
    await Promise.all(topology.nodes.map((n) => n.process.start()));
    phase('dump');
    const drained = await drain({ queue: QUEUE, history: h, client: await topology.client(), timeoutMs: 120_000 });
    if (!drained.complete) log(`${scenario.name}: drain incomplete: ${drained.missing.length} acknowledged values unaccounted for, e.g. ${drained.missing.slice(0, 10).join(' ')}`);
    phase('drain');
    replicas.push(...(await dumpReplicas(topology, h, 'after-drain', log)));
    h.close();

    const ops = await readHistory(historyFile);
    const report = check(ops, { replicas, measureFrom: faultsFrom, measureTo: faultsTo });
    phase('verify');
    valid = report.valid;
    const logCounts = Object.fromEntries(COUNTED_LOGS.map((m) => [m, topology.logged(m)]));
    return {
      scenario: scenario.name,
      seed: options.seed,
      seconds: options.seconds,
      startedAt,
      durationSeconds: Math.round((Date.now() - started) / 100) / 10,
      report,
      faults: faultsOf(ops),
      phases,
      logCounts,
      workDir,
      kept: !valid || options.keep === true,
    };
  } finally {
    // After a failure the workload may still run: it must stop before its history is closed.
    await workload?.stop();
    history?.close();
    await topology.close();
    if (valid && options.keep !== true) await rm(workDir, { recursive: true, force: true });
  }
}

/** Waits (bounded) for the replicas to agree, stops every node gracefully and reads their stores. */
async function dumpReplicas(topology: Topology, history: History, label: string, log: (line: string) => void): Promise<ReplicaDump[]> {
  await topology.waitForReplicasInSync(QUEUE).catch((err: unknown) => log(`${label}: replicas not reported in sync: ${(err as Error).message}`));
  await Promise.all(topology.nodes.map((n) => n.process.stop()));
  const dumps = await topology.dumpReplicas(QUEUE);
  log(`${label}: messages per replica: ${dumps.map((d) => `${d.node}/${d.partition} ${d.values.length}`).join(', ')}`);
  const at = history.now();
  return dumps.map((d) => ({ ...d, partition: `${label}:${d.partition}`, at }));
}

function faultsOf(ops: readonly HistoryOp[]): RunResult['faults'] {
  const start = ops.reduce((m, o) => Math.min(m, o.time), Infinity);
  const done = new Map<number, HistoryOp>();
  for (const o of ops) if (o.process === 'nemesis' && o.type !== 'invoke') done.set(o.op, o);
  return ops
    .filter((o) => o.process === 'nemesis' && o.type === 'invoke')
    .map((o) => ({ f: o.f, target: typeof o.value === 'string' ? o.value : null, at: Math.round(o.time - start) / 1000, outcome: done.get(o.op)?.type ?? 'pending' }));
}
