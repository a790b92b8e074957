/**
 * `node --import tsx bench/focus.ts`: one section of the benchmark, produce and receive+delete only,
 * for profiling and before/after comparisons of one path. Nothing is written to bench/results.
 *
 * Environment:
 *   BENCH_FOCUS          r3-sync (default), r3-async, r1, r3-jetstream or r1-jetstream
 *   BENCH_MESSAGES       messages produced, then received and deleted (20,000)
 *   BENCH_PARTITIONS     partitions of the Wharf queue (1)
 *   BENCH_REPEAT         runs of both phases on fresh queues, same nodes (1)
 *   BENCH_RECEIVE_LOOPS  Wharf's concurrent receive loops (8, as bench/run.ts)
 *   BENCH_RECEIVE_BATCH  messages per receive, and JetStream's pull batch (500, as bench/run.ts)
 *   BENCH_LATENCY=1      the end-to-end latency phase instead (5,000 msgs/s for 10 s, as bench/run.ts)
 *   BENCH_LATENCY_RATE   its rate, msgs/s (5,000)
 *   BENCH_LATENCY_POLLERS its long-poll receivers (2, as bench/run.ts)
 *   BENCH_CPU_PROF_DIR   the Wharf nodes and this process (the client) write CPU profiles of the (last)
 *                        receive+delete phase there (bench/cpu-profile.ts, bench/profiler.ts);
 *                        summarise them with `node --import tsx bench/profile-summary.ts <dir>`
 *   BENCH_PROFILE_PHASE  the phase those profiles cover: receive (default) or produce
 *   BENCH_KEEP=1         keep the temp dir (stores and logs)
 *   WHARF_*              passed to the Wharf nodes
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WharfClient } from '../src/client/client.ts';
import { startNatsCluster } from '../test/helpers/nats-cluster.ts';
import { runJetStreamThroughput } from './jetstream.ts';
import { startNatsServer } from './nats.ts';
import { phaseTimeoutMs } from './pace.ts';
import { formatCores } from './stats.ts';
import { coresOf, type CpuTime, cpuTimeMeter, installSignalHandlers, intFromEnv, onCleanup, runCleanups } from './util.ts';
import { cpuProfiler } from './profiler.ts';
import {
  CLUSTER,
  endToEndLatency,
  REPLICATED_CLUSTER,
  REPLICATED_NODES,
  guardFor,
  produceMessages,
  receiveAndDelete,
  startWharfNode,
  waitUsable,
  type WharfNodeProcess,
} from './wharf.ts';

const SECTIONS = ['r3-sync', 'r3-async', 'r1', 'r3-jetstream', 'r1-jetstream'] as const;
type Section = (typeof SECTIONS)[number];

const PROFILER = fileURLToPath(new URL('./cpu-profile-gate.mjs', import.meta.url));
const RECEIVE_LOOPS = intFromEnv('BENCH_RECEIVE_LOOPS', 8);
const RECEIVE_BATCH = intFromEnv('BENCH_RECEIVE_BATCH', 500);
const PROFILED_PHASE = process.env['BENCH_PROFILE_PHASE'] === 'produce' ? 'produce' : 'receive';
const PUBLISH_WINDOW = 512;

const log = (line: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`);

function sectionFromEnv(): Section {
  const raw = process.env['BENCH_FOCUS'] ?? 'r3-sync';
  const section = SECTIONS.find((s) => s === raw);
  if (section === undefined) throw new Error(`BENCH_FOCUS must be one of ${SECTIONS.join(', ')}, got ${JSON.stringify(raw)}`);
  return section;
}

/** How long the processes are watched at rest before a phase. */
const IDLE_MS = 3000;

/**
 * CPU the processes use at rest, ms per second: heartbeats, ticks, followers' long polls. A phase
 * that runs longer on a busy machine pays more of it without doing more per message.
 */
async function idleRate(pids: Record<string, number>): Promise<Record<string, number>> {
  const stop = await cpuTimeMeter(pids);
  await new Promise((r) => setTimeout(r, IDLE_MS));
  const { wallMs, ms } = await stop();
  return Object.fromEntries(Object.entries(ms).map(([k, v]) => [k, (v * 1000) / wallMs]));
}

/**
 * CPU time per message over a phase, in µs: the total of every process measured (the bench with its
 * client, the nodes or servers, nats-server) and each one's; then the same beyond what the processes
 * use at rest (`idle`, ms per second) over the phase's wall time. Steadier than throughput on a busy
 * machine, which slows every process down without making it do more.
 */
function perMessage(time: CpuTime, messages: number, idle?: Record<string, number>): string {
  const us = (ms: number) => ((ms * 1000) / messages).toFixed(1);
  const line = (ms: Record<string, number>) => {
    const total = Object.values(ms).reduce((a, b) => a + b, 0);
    return `${us(total)} µs (${Object.entries(ms).map(([k, v]) => `${k} ${us(v)}`).join(', ')})`;
  };
  if (idle === undefined) return `CPU per message ${line(time.ms)}`;
  const beyond = Object.fromEntries(Object.entries(time.ms).map(([k, v]) => [k, v - ((idle[k] ?? 0) * time.wallMs) / 1000]));
  return `CPU per message ${line(time.ms)}; beyond idle ${line(beyond)}`;
}

async function runWharfSection(section: 'r3-sync' | 'r3-async' | 'r1', natsUrl: string, natsPid: number, dir: string): Promise<void> {
  const messages = intFromEnv('BENCH_MESSAGES', 20_000);
  const partitions = intFromEnv('BENCH_PARTITIONS', 1);
  const repeat = intFromEnv('BENCH_REPEAT', 1);
  const replicated = section !== 'r1';
  const cluster = replicated ? REPLICATED_CLUSTER : CLUSTER;
  const ids: readonly string[] = replicated ? REPLICATED_NODES : ['bench-1'];
  const profDir = process.env['BENCH_CPU_PROF_DIR'];
  const env: Record<string, string> = {};
  if (profDir) {
    await mkdir(profDir, { recursive: true });
    env['BENCH_CPU_PROF_DIR'] = resolve(profDir);
    env['NODE_OPTIONS'] = `${process.env['NODE_OPTIONS'] ?? ''} --import=tsx --import=${PROFILER}`.trim();
  }
  // The bench's own process too: the client's share of the phase.
  const clientProfile = profDir ? cpuProfiler(resolve(profDir), 'client') : undefined;
  const nodes: WharfNodeProcess[] = await Promise.all(
    ids.map((nodeId) =>
      startWharfNode({ natsUrl, cluster, nodeId, dataDir: join(dir, nodeId), logFile: join(dir, `wharf-${nodeId}.log`), env }),
    ),
  );
  const guard = guardFor(nodes);
  const pids = { ...Object.fromEntries(nodes.map((n) => [n.nodeId, n.pid])), nats: natsPid };
  const client = await WharfClient.connect({ servers: natsUrl, cluster });
  try {
    for (let run = 1; run <= repeat; run++) {
      const queue = `focus-${run}`;
      const attributes = replicated
        ? { partitions, replicationFactor: 3, replication: section === 'r3-sync' ? ('sync' as const) : ('async' as const) }
        : { partitions, replicationFactor: 1 };
      await client.createQueue(queue, attributes);
      if (replicated) await waitUsable({ natsUrl, usableTimeoutMs: 60_000, log }, queue, guard);
      if (process.env['BENCH_LATENCY'] === '1') {
        const rate = intFromEnv('BENCH_LATENCY_RATE', 5000);
        const options = { natsUrl, latency: { rate, seconds: 10, warmupSeconds: 1, pollers: intFromEnv('BENCH_LATENCY_POLLERS', 2) } };
        const latency = await guard(endToEndLatency(options, cluster, queue), 180_000, 'latency');
        log(`${section} run ${run}: e2e p50 ${latency.p50} ms, p99 ${latency.p99} ms at ${rate.toLocaleString('en-US')} msgs/s (drained ${latency.drainMs} ms after the last send)`);
        await client.deleteQueue(queue);
        continue;
      }
      const markProfiles = () => {
        for (const n of nodes) process.kill(n.pid, 'SIGUSR2');
        clientProfile?.mark();
      };
      const profile = (phase: 'produce' | 'receive') => profDir !== undefined && PROFILED_PHASE === phase;
      if (profile('produce')) markProfiles();
      let meter = await cpuTimeMeter(pids);
      const produce = await guard(produceMessages(client, queue, messages), phaseTimeoutMs(messages), 'produce');
      const produceCpu = await meter();
      if (profile('produce')) markProfiles();
      log(`${section} run ${run}: produce ${produce.perSecond.toLocaleString('en-US')} msgs/s; CPU ${formatCores(coresOf(produceCpu))}; ${perMessage(produceCpu, messages)}`);
      const { counts } = await client.getQueueAttributes(queue);
      if (counts.approximateNumberOfMessages < messages) throw new Error(`after the produce the queue holds ${JSON.stringify(counts)}`);
      const idle = await idleRate(pids);
      if (profile('receive')) markProfiles();
      meter = await cpuTimeMeter(pids);
      const receive = await guard(
        receiveAndDelete(client, queue, messages, { receiveLoops: RECEIVE_LOOPS, receiveBatch: RECEIVE_BATCH }),
        phaseTimeoutMs(messages),
        'receive+delete',
      );
      const cpu = await meter();
      if (profile('receive')) markProfiles();
      log(`${section} run ${run}: receive+delete ${receive.perSecond.toLocaleString('en-US')} msgs/s; CPU ${formatCores(coresOf(cpu))}; ${perMessage(cpu, messages, idle)}`);
      await client.deleteQueue(queue);
    }
  } finally {
    await client.close();
    // A graceful stop: a profile still running is written on exit.
    await Promise.all(nodes.map((n) => n.stop()));
  }
}

async function runJetStreamSection(section: 'r3-jetstream' | 'r1-jetstream', natsUrl: string, natsPid: number, dir: string): Promise<void> {
  const messages = intFromEnv('BENCH_MESSAGES', 20_000);
  const common = { messages, publishWindow: PUBLISH_WINDOW, fetchBatch: RECEIVE_BATCH, log };
  const report = (r: Awaited<ReturnType<typeof runJetStreamThroughput>>, idle: Record<string, number>) =>
    log(`${section}: receive+ack CPU ${formatCores(r.receive.cpu)}; ${perMessage(r.receive.cpuTime, messages, idle)}`);
  if (section === 'r1-jetstream') {
    const idle = await idleRate({ nats: natsPid });
    report(await runJetStreamThroughput({ ...common, servers: natsUrl, pids: { nats: natsPid }, replicas: 1, label: 'jetstream' }), idle);
    return;
  }
  const cluster = await startNatsCluster({ dir: join(dir, 'nats-cluster'), name: 'bench' });
  onCleanup('stop the nats cluster', () => cluster.stop());
  try {
    const pids = Object.fromEntries(cluster.servers.map((s) => [s.name, s.pid]));
    const idle = await idleRate(pids);
    report(await runJetStreamThroughput({ ...common, servers: cluster.urls, pids, replicas: 3, label: 'jetstream R3' }), idle);
  } finally {
    await cluster.stop();
  }
}

async function main(): Promise<void> {
  installSignalHandlers();
  const section = sectionFromEnv();
  log(`load average ${(loadavg()[0] ?? 0).toFixed(2)}`);
  const tmp = await mkdtemp(join(tmpdir(), 'wharf-focus-'));
  onCleanup('remove the temp dir', async () => {
    if (process.env['BENCH_KEEP'] === '1') log(`kept ${tmp}`);
    else await rm(tmp, { recursive: true, force: true });
  });
  try {
    const nats = await startNatsServer(join(tmp, 'nats'));
    onCleanup('stop nats-server', () => nats.stop());
    if (section === 'r3-jetstream' || section === 'r1-jetstream') await runJetStreamSection(section, nats.url, nats.pid, tmp);
    else await runWharfSection(section, nats.url, nats.pid, tmp);
  } finally {
    await runCleanups();
  }
}

await main().catch(async (err: unknown) => {
  process.stderr.write(`focus: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
  await runCleanups();
});
process.exit(process.exitCode ?? 0);
