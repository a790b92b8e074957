/**
 * The replicated comparison (issue 3): Wharf with three nodes and replication factor 3, in sync and
 * in async mode, against NATS JetStream R3 (a work-queue stream with three replicas on a cluster of
 * three nats-servers, test/helpers/nats-cluster.ts), in the same run on the same machine.
 *
 * The two sides run one after the other, never together: the cluster is stopped before the Wharf
 * nodes start, so neither pays for the other's idle processes beyond the benchmark's own
 * nats-server. Neither side fails the run: a failure (or a build without replicated queues) is
 * reported in its column, and the single-node comparison still stands.
 */
import { join } from 'node:path';
import { startNatsCluster } from '../test/helpers/nats-cluster.ts';
import { runJetStream, type JetStreamResults } from './jetstream.ts';
import type { LatencyOptions } from './pace.ts';
import { fmt, formatCores, ratio, renderTable, renderTargets, type LatencySummary, type Target, type Throughput } from './stats.ts';
import { onCleanup, type CpuUse } from './util.ts';
import { runWharfReplicated, type ReplicatedRun, type ReplicationMode } from './wharf.ts';

const MODES: readonly ReplicationMode[] = ['sync', 'async'];

export interface ReplicatedOptions {
  /** Parent of the cluster's and the nodes' directories. */
  dir: string;
  /** The benchmark's nats-server, which the Wharf nodes use. */
  natsUrl: string;
  natsPid: number;
  messages: number;
  publishWindow: number;
  fetchBatch: number;
  receiveLoops: number;
  receiveBatch: number;
  latency: LatencyOptions & { pollers: number };
  partitions: number;
  /** Bound of the wait for a new Wharf queue to take requests. */
  usableTimeoutMs: number;
  log: (line: string) => void;
}

export interface ReplicatedResults {
  jetstream: JetStreamResults | { error: string };
  wharf: ReplicatedRun[];
}

export async function runReplicated(options: ReplicatedOptions): Promise<ReplicatedResults> {
  const jetstream = await runJetStreamR3(options).catch((err: unknown) => {
    const error = err instanceof Error ? err.message : String(err);
    options.log(`jetstream R3: failed: ${error}`);
    return { error };
  });
  const wharf = await runWharfReplicated({
    natsUrl: options.natsUrl,
    natsPid: options.natsPid,
    dataDir: join(options.dir, 'wharf'),
    logDir: options.dir,
    messages: options.messages,
    receiveLoops: options.receiveLoops,
    receiveBatch: options.receiveBatch,
    latency: options.latency,
    partitions: options.partitions,
    modes: MODES,
    usableTimeoutMs: options.usableTimeoutMs,
    log: options.log,
  });
  return { jetstream, wharf };
}

async function runJetStreamR3(options: ReplicatedOptions): Promise<JetStreamResults> {
  const cluster = await startNatsCluster({ dir: join(options.dir, 'nats-cluster'), name: 'bench' });
  onCleanup('stop the nats cluster', () => cluster.stop());
  try {
    options.log(`nats cluster ${cluster.name}: ${cluster.servers.map((s) => `${s.name} ${s.url} (pid ${s.pid})`).join(', ')}`);
    return await runJetStream({
      servers: cluster.urls,
      pids: Object.fromEntries(cluster.servers.map((s) => [s.name, s.pid])),
      replicas: 3,
      label: 'jetstream R3',
      ingestReference: false,
      messages: options.messages,
      publishWindow: options.publishWindow,
      fetchBatch: options.fetchBatch,
      latency: options.latency,
      log: options.log,
    });
  } finally {
    await cluster.stop();
  }
}

// ---- the report ------------------------------------------------------------------------------------

export interface ReplicatedReportInfo {
  messages: number;
  messageBytes: number;
  rate: number;
  quick: boolean;
  natsVersion: string;
  /** Load average when the report is written: other work during the run shows here, not in the start figure. */
  loadNow: number;
  /** Wharf's long-poll receivers in the latency phase. */
  latencyPollers: number;
}

export interface ReplicatedRatios {
  produce: number | undefined;
  receiveDelete: number | undefined;
  e2eP50: number | undefined;
  e2eP99: number | undefined;
}

export interface ReplicatedReport {
  lines: string[];
  targets: Target[];
  /** Wharf R3 per mode against JetStream R3. */
  ratios: Partial<Record<ReplicationMode, ReplicatedRatios>>;
}

/** What both sides report per phase. */
interface Figures {
  produce: Throughput & { cpu: CpuUse };
  receive: Throughput & { cpu: CpuUse };
  latency: LatencySummary & { cpu: CpuUse; drainMs: number };
}

/** The phases a run finished: all of them, those before a failure, or none. */
function finished(run: ReplicatedRun | undefined): Partial<Figures> {
  return run === undefined || run.status === 'skipped' ? {} : run.results;
}

export function reportReplicated(results: ReplicatedResults, info: ReplicatedReportInfo): ReplicatedReport {
  const j: Partial<Figures> = 'error' in results.jetstream ? {} : results.jetstream;
  const runs = MODES.map((mode) => ({ mode, run: results.wharf.find((r) => r.mode === mode) }));
  const columns = runs.map(({ run }) => finished(run));
  const rate = info.rate.toLocaleString('en-US');
  const figures: Array<{ name: string; kind: 'count' | 'ms'; of: (f: Partial<Figures>) => number | undefined }> = [
    { name: 'produce msgs/s', kind: 'count', of: (f) => f.produce?.perSecond },
    { name: 'receive+delete msgs/s', kind: 'count', of: (f) => f.receive?.perSecond },
    { name: `e2e p50 ms @ ${rate}/s`, kind: 'ms', of: (f) => f.latency?.p50 },
    { name: `e2e p99 ms @ ${rate}/s`, kind: 'ms', of: (f) => f.latency?.p99 },
  ];
  const rows = figures.map(({ name, kind, of }) => {
    const js = of(j);
    const wharf = columns.map(of);
    return [name, ...wharf.map((v) => fmt(v, kind)), fmt(js, kind), ...wharf.map((v) => fmt(ratio(v, js), 'ratio'))];
  });

  const ratios: ReplicatedReport['ratios'] = {};
  runs.forEach(({ mode }, i) => {
    const f = columns[i] ?? {};
    ratios[mode] = {
      produce: ratio(f.produce?.perSecond, j.produce?.perSecond),
      receiveDelete: ratio(f.receive?.perSecond, j.receive?.perSecond),
      e2eP50: ratio(f.latency?.p50, j.latency?.p50),
      e2eP99: ratio(f.latency?.p99, j.latency?.p99),
    };
  });

  const targets: Target[] = [
    { name: 'R3 sync produce throughput', ratio: ratios.sync?.produce },
    { name: 'R3 sync receive+delete throughput', ratio: ratios.sync?.receiveDelete },
  ].map(({ name, ratio: r }) => ({
    name,
    goal: '≥ 1× JetStream R3',
    measured: fmt(r, 'ratio'),
    pass: r === undefined ? undefined : r >= 1,
  }));

  const out: string[] = [];
  out.push('');
  out.push(
    `Replication factor 3: Wharf, three nodes on one nats-server, vs NATS JetStream R3, three clustered nats-servers ` +
      `(${info.natsVersion}), ${info.messageBytes}-byte messages, ${info.messages.toLocaleString('en-US')} messages per ` +
      `throughput phase${info.quick ? ' [BENCH_QUICK]' : ''}`,
  );
  out.push(`load average at the end of the run ${info.loadNow.toFixed(2)}`);
  out.push('');
  const modeHeaders = MODES.map((m) => `Wharf R3 ${m}`);
  out.push(renderTable(['', ...modeHeaders, 'JetStream R3', ...MODES.map((m) => `${m}/JetStream`)], rows));
  out.push('');
  for (const { mode, run } of runs) {
    if (run === undefined) out.push(`Wharf R3 ${mode}: not run.`);
    else if (run.status === 'skipped') out.push(`Wharf R3 ${mode}: skipped: ${run.reason}`);
    else if (run.status === 'failed') out.push(`Wharf R3 ${mode}: FAILED: ${run.error}`);
  }
  if ('error' in results.jetstream) out.push(`JetStream R3: FAILED: ${results.jetstream.error}`);
  const drains = [...modeHeaders.map((h, i) => ({ h, f: columns[i] })), { h: 'JetStream R3', f: j }].flatMap(({ h, f }) =>
    f?.latency === undefined ? [] : [`${h} ${fmt(f.latency.drainMs, 'count')} ms`],
  );
  if (drains.length > 0) {
    out.push(
      `Latency consumers, all received after the last send: ${drains.join(', ')} ` +
        '(hundreds of ms or more: the consumer fell behind the rate, and the percentiles measure that backlog).',
    );
  }

  const cpu = (f: Partial<Figures>, phase: keyof Figures) => {
    const use = f[phase]?.cpu;
    return use === undefined ? '' : formatCores(use);
  };
  out.push('');
  out.push('CPU use in cores (CPU time / wall time) per phase:');
  out.push(
    renderTable(
      ['', ...modeHeaders, 'JetStream R3'],
      (['produce', 'receive', 'latency'] as const).map((phase) => [
        phase === 'receive' ? 'receive+delete' : phase === 'latency' ? 'e2e latency' : phase,
        ...columns.map((f) => cpu(f, phase)),
        cpu(j, phase),
      ]),
    ),
  );
  out.push('');
  out.push(
    'Durability: JetStream R3 acknowledges a publish once a majority of its three servers stored it, without an fsync ' +
      '(its file store syncs every 2 minutes by default); Wharf R3 sync acknowledges once a majority of the partition\'s ' +
      'replicas persisted it, async once the primary did (each node fsyncs before it counts a write as persisted, unless ' +
      'WHARF_SYNC_WRITES=false).',
  );
  out.push(
    'Setup: the same clients as above: JetStream async publish (bounded window) and pull consumer with acks, ' +
      `connected to all three servers; Wharf SDK through the one nats-server to whichever node answers, ${info.latencyPollers} ` +
      'long-poll receivers (maxMessages 100) in the latency phase: a replicated receive waits for its lease to replicate.',
  );
  out.push('');
  out.push('Targets (replication factor 3):');
  out.push(renderTargets(targets));
  out.push('');
  return { lines: out, targets, ratios };
}
