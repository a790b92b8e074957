/**
 * `npm run bench:isolation`: does a flood of one queue hurt another on the same node? Queue B runs
 * at a fixed modest rate (send + receive + delete, one message per SendMessage) and its end-to-end
 * latency (send to receive) is measured alone, then while other clients flood queue A at full
 * speed (batched sends and receive+delete loops), and, when BENCH_A_RATE is set, once more with A
 * limited to that many requests per second (maxRequestsPerSecond, docs/isolation.md). Between the
 * two, B runs while as many busy loops as there are flooding processes spin and nothing else
 * touches Wharf: what CPU contention alone does to B's latency on this machine, the floor under
 * any flooded figure when the flood's clients share the node's cores. Prints B's p50/p99 per phase,
 * each phase's ratio to B alone against the target (≤ 2×), A's throughput, and the load average
 * (the machine may be shared).
 *
 * Environment:
 *   BENCH_RATE             B's messages per second                      (200)
 *   BENCH_SECONDS          measured seconds per phase                   (20)
 *   BENCH_FLOOD_CLIENTS    processes flooding A, each one client         (4)
 *   BENCH_FLOOD_BATCH      messages per SendMessageBatch of the flood    (100)
 *   BENCH_FLOOD_WINDOW     batches in flight per flooding client          (4)
 *   BENCH_PARTITIONS       partitions of each queue                       (1)
 *   BENCH_A_RATE           a third phase with A at this maxRequestsPerSecond (off)
 *   BENCH_CPU_PROF_DIR     the node writes a CPU profile there when it stops (bench/cpu-profile.ts)
 *   BENCH_KEEP=1           keep the temp dir (store and logs)
 *   WHARF_*                passed to the node
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WharfClient } from '../src/client/client.ts';
import { startNatsServer } from './nats.ts';
import { pacedRun } from './pace.ts';
import { fmt, renderTable, summarize, type LatencySummary } from './stats.ts';
import { fixedBody, installSignalHandlers, intFromEnv, nowMs, observed, onCleanup, pollUntil, runBench, sentAt, timestampedBody, trackChild } from './util.ts';
import { CLUSTER, guardFor, startWharfNode, type Guard } from './wharf.ts';

const PROFILER = fileURLToPath(new URL('./cpu-profile-gate.mjs', import.meta.url));
const TARGET_RATIO = 2;
const WARMUP_SECONDS = 3;

const log = (line: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`);

interface Options {
  natsUrl: string;
  rate: number;
  seconds: number;
  floodClients: number;
  floodBatch: number;
  floodWindow: number;
  partitions: number;
}

interface PhaseResult {
  name: string;
  /** What ran beside B. */
  load: Load['kind'];
  b: LatencySummary;
  /** B's SendMessage round trips. */
  bSend: LatencySummary;
  /** A's messages sent and received (and deleted) per second during the phase; 0 without a flood. */
  aSent: number;
  aReceived: number;
  aThrottled: number;
}

/** B at `rate` msgs/s: every message sent alone, received by a long-poll loop and deleted at once. */
async function measureB(options: Options, queue: string, guard: Guard): Promise<{ e2e: number[]; send: number[] }> {
  const producer = await WharfClient.connect({ servers: options.natsUrl, cluster: CLUSTER });
  const consumer = await WharfClient.connect({ servers: options.natsUrl, cluster: CLUSTER });
  const e2e: number[] = [];
  const send: number[] = [];
  let measureFrom = Number.POSITIVE_INFINITY;
  let received = 0;
  let stopped = false;
  let failure: unknown;
  try {
    const poll = async () => {
      while (!stopped) {
        const messages = await consumer.receive(queue, { maxMessages: 10, waitTimeSeconds: 1 });
        const t = nowMs();
        for (const m of messages) {
          const at = sentAt(m.body);
          if (at !== undefined && at >= measureFrom) e2e.push(t - at);
        }
        received += messages.length;
        if (messages.length > 0) {
          observed(consumer.deleteMessageBatch(queue, messages.map((m, i) => ({ id: String(i), receiptHandle: m.receiptHandle })))).catch(
            (err: unknown) => (failure ??= err),
          );
        }
      }
    };
    const pollers = observed(Promise.all([poll(), poll()]));
    const run = await pacedRun({ rate: options.rate, seconds: options.seconds, warmupSeconds: WARMUP_SECONDS }, (t) => (measureFrom = t), () => {
      const t0 = nowMs();
      producer.sendMessage(queue, timestampedBody()).then(
        () => {
          if (t0 >= measureFrom) send.push(nowMs() - t0);
        },
        (err: unknown) => (failure ??= err),
      );
    });
    await guard(pollUntil(async () => (received >= run.sent ? true : undefined), 120_000, `B: all ${run.sent} messages received`, 5), 125_000, 'B drain');
    stopped = true;
    await pollers;
    if (failure !== undefined) throw failure;
    return { e2e, send };
  } finally {
    stopped = true;
    await producer.close();
    await consumer.close();
  }
}

interface FloodCounts {
  sent: number;
  received: number;
  throttled: number;
  /** Messages this process received more than once, and deletes refused: both should be 0. */
  redelivered: number;
  failedDeletes: number;
  ms: number;
}

/**
 * The flood of A, in its own process (`isolation.ts flood <natsUrl> <queue> <batch> <window>`) so
 * the flooding clients' CPU does not delay B's clients in this one: batched sends and a
 * receive+delete loop until SIGTERM, then its counts as JSON on stdout.
 */
async function floodWorker(natsUrl: string, queue: string, batch: number, window: number): Promise<void> {
  const client = await WharfClient.connect({ servers: natsUrl, cluster: CLUSTER, maxAttempts: 1 });
  const body = fixedBody();
  const entries = Array.from({ length: batch }, (_, i) => ({ id: String(i), body }));
  let running = true;
  const counts: FloodCounts = { sent: 0, received: 0, throttled: 0, redelivered: 0, failedDeletes: 0, ms: 0 };
  const seen = new Set<string>();
  const t0 = performance.now();
  const pause = () => new Promise((r) => setTimeout(r, 20));
  const sender = async () => {
    while (running) {
      try {
        // Awaited before the sum: `counts.sent += await …` would read the count before the wait and lose the other senders' updates.
        const reply = await client.sendMessageBatch(queue, entries);
        counts.sent += reply.successful.length;
      } catch {
        counts.throttled++;
        await pause();
      }
    }
  };
  const receiver = async () => {
    while (running) {
      try {
        const messages = await client.receive(queue, { maxMessages: 500, waitTimeSeconds: 1 });
        counts.received += messages.length;
        for (const m of messages) {
          if (seen.has(m.messageId)) counts.redelivered++;
          seen.add(m.messageId);
        }
        if (messages.length > 0) {
          const reply = await client.deleteMessageBatch(queue, messages.map((m, i) => ({ id: String(i), receiptHandle: m.receiptHandle })));
          counts.failedDeletes += reply.failed.length;
        }
      } catch {
        counts.throttled++;
        await pause();
      }
    }
  };
  const loops = [...Array.from({ length: window }, sender), receiver()];
  await new Promise<void>((resolve) => process.once('SIGTERM', () => resolve()));
  running = false;
  counts.ms = performance.now() - t0;
  await Promise.allSettled(loops);
  await client.close();
  process.stdout.write(`${JSON.stringify(counts)}\n`);
}

/** Starts the flooding processes; `stop()` ends them and sums their counts. */
function flood(options: Options, queue: string): { stop(): Promise<FloodCounts> } {
  const self = fileURLToPath(import.meta.url);
  const children = Array.from({ length: options.floodClients }, () => {
    const child = spawn(process.execPath, ['--import', 'tsx', self, 'flood', options.natsUrl, queue, String(options.floodBatch), String(options.floodWindow)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    trackChild(child);
    let out = '';
    child.stdout?.setEncoding('utf8').on('data', (c: string) => (out += c));
    const done = new Promise<FloodCounts>((resolve, reject) => {
      child.once('exit', (code) => {
        try {
          resolve(JSON.parse(out) as FloodCounts);
        } catch {
          reject(new Error(`flood process exited (code ${code}) without its counts: ${out.slice(0, 200)}`));
        }
      });
    });
    done.catch(() => undefined);
    return { child, done };
  });
  return {
    async stop() {
      for (const { child } of children) child.kill('SIGTERM');
      const all = await Promise.all(children.map((c) => c.done));
      const sum = (k: Exclude<keyof FloodCounts, 'ms'>) => all.reduce((n, c) => n + c[k], 0);
      return {
        sent: sum('sent'),
        received: sum('received'),
        throttled: sum('throttled'),
        redelivered: sum('redelivered'),
        failedDeletes: sum('failedDeletes'),
        ms: Math.max(...all.map((c) => c.ms)),
      };
    },
  };
}

/**
 * Busy loops in processes of their own, as many as the flooding processes: the machine as loaded,
 * without their traffic. Killed, not asked: a busy loop never reaches its event loop.
 */
function spin(count: number): { stop(): Promise<undefined> } {
  const children = Array.from({ length: count }, () => {
    const child = spawn(process.execPath, ['-e', 'for (;;);'], { stdio: 'ignore' });
    trackChild(child);
    return { child, exited: new Promise<void>((resolve) => child.once('exit', () => resolve())) };
  });
  return {
    async stop() {
      for (const { child } of children) child.kill('SIGKILL');
      await Promise.all(children.map((c) => c.exited));
      return undefined;
    },
  };
}

/** What runs beside B in a phase: nothing, busy loops, or the flood of queue A. */
type Load = { kind: 'none' } | { kind: 'spin' } | { kind: 'flood'; queue: string };

async function phase(options: Options, name: string, queueB: string, load: Load, guard: Guard): Promise<PhaseResult> {
  const beside = load.kind === 'flood' ? `, A flooded by ${options.floodClients} clients` : load.kind === 'spin' ? `, ${options.floodClients} busy loops` : '';
  log(`isolation: phase "${name}": B at ${options.rate} msgs/s for ${WARMUP_SECONDS}+${options.seconds} s${beside}`);
  const flooding = load.kind === 'flood' ? flood(options, load.queue) : load.kind === 'spin' ? spin(options.floodClients) : undefined;
  try {
    const b = await measureB(options, queueB, guard);
    const a = await flooding?.stop();
    if (a !== undefined) log(`isolation: A sent ${a.sent}, received ${a.received} (${a.redelivered} more than once), ${a.failedDeletes} deletes refused, ${a.throttled} requests refused`);
    const perSecond = (n: number) => (a === undefined ? 0 : Math.round((n * 1000) / a.ms));
    return { name, load: load.kind, b: summarize(b.e2e), bSend: summarize(b.send), aSent: perSecond(a?.sent ?? 0), aReceived: perSecond(a?.received ?? 0), aThrottled: a?.throttled ?? 0 };
  } catch (err) {
    await flooding?.stop().catch(() => undefined);
    throw err;
  }
}

async function main(): Promise<void> {
  installSignalHandlers();
  const dir = await mkdtemp(join(tmpdir(), 'wharf-bench-isolation-'));
  if (process.env['BENCH_KEEP'] !== '1') onCleanup('remove the temp dir', () => rm(dir, { recursive: true, force: true }));
  else log(`isolation: keeping ${dir}`);
  const nats = await startNatsServer(join(dir, 'nats'));
  onCleanup('stop nats-server', () => nats.stop());
  const options: Options = {
    natsUrl: nats.url,
    rate: intFromEnv('BENCH_RATE', 200),
    seconds: intFromEnv('BENCH_SECONDS', 20),
    floodClients: intFromEnv('BENCH_FLOOD_CLIENTS', 4),
    floodBatch: intFromEnv('BENCH_FLOOD_BATCH', 100),
    floodWindow: intFromEnv('BENCH_FLOOD_WINDOW', 4),
    partitions: intFromEnv('BENCH_PARTITIONS', 1),
  };
  const limitA = process.env['BENCH_A_RATE'] ? intFromEnv('BENCH_A_RATE', 1) : undefined;
  const env: Record<string, string> = {};
  const profDir = process.env['BENCH_CPU_PROF_DIR'];
  if (profDir) {
    await mkdir(profDir, { recursive: true });
    env['BENCH_CPU_PROF_DIR'] = resolve(profDir);
    env['NODE_OPTIONS'] = `${process.env['NODE_OPTIONS'] ?? ''} --import=tsx --import=${PROFILER}`.trim();
  }
  const node = await startWharfNode({ natsUrl: nats.url, cluster: CLUSTER, nodeId: 'bench-1', dataDir: join(dir, 'node'), logFile: join(dir, 'wharf.log'), env });
  const guard = guardFor([node]);
  const admin = await WharfClient.connect({ servers: nats.url, cluster: CLUSTER });
  try {
    const attributes = { partitions: options.partitions, replicationFactor: 1 };
    await admin.createQueue('iso-b', attributes);
    await admin.createQueue('iso-a', attributes);
    const load0 = loadavg();
    const phases = [
      await phase(options, 'B alone', 'iso-b', { kind: 'none' }, guard),
      await phase(options, 'machine busy, no flood', 'iso-b', { kind: 'spin' }, guard),
      await phase(options, 'A flooded', 'iso-b', { kind: 'flood', queue: 'iso-a' }, guard),
    ];
    if (limitA !== undefined) {
      await admin.purgeQueue('iso-a');
      await admin.setQueueAttributes('iso-a', { maxRequestsPerSecond: limitA });
      phases.push(await phase(options, `A flooded, limited to ${limitA} req/s`, 'iso-b', { kind: 'flood', queue: 'iso-a' }, guard));
    }
    const load1 = loadavg();
    const rows = phases.map((p) => [
      p.name,
      fmt(p.b.p50, 'ms'),
      fmt(p.b.p99, 'ms'),
      fmt(p.bSend.p99, 'ms'),
      String(p.b.count),
      p.aSent === 0 ? '-' : p.aSent.toLocaleString('en-US'),
      p.aReceived === 0 ? '-' : p.aReceived.toLocaleString('en-US'),
      p.aThrottled === 0 ? '-' : String(p.aThrottled),
    ]);
    const out = [
      `Isolation: queue B at ${options.rate} msgs/s (1 KiB, send + receive + delete), ${options.seconds} s measured per phase; ${options.partitions} partition(s) per queue, one node`,
      renderTable(['phase', 'B e2e p50', 'B e2e p99', 'B send p99', 'B samples', 'A sent/s', 'A recv/s', 'A throttled'], rows),
      ...phases.slice(1).map((p) => {
        const r = p.b.p99 / (phases[0] as PhaseResult).b.p99;
        const verdict = p.load === 'spin' ? `no Wharf traffic: what CPU contention alone costs on this machine` : `target <= ${TARGET_RATIO}x: ${r <= TARGET_RATIO ? 'met' : 'NOT met'}`;
        return `${p.name}: B p99 ${fmt(p.b.p99, 'ms')} vs ${fmt((phases[0] as PhaseResult).b.p99, 'ms')} alone = ${r.toFixed(2)}x (${verdict})`;
      }),
      `load average before ${load0.map((l) => l.toFixed(2)).join(' ')}, after ${load1.map((l) => l.toFixed(2)).join(' ')} (2 cores, shared)`,
    ];
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    await admin.close();
  }
}

const [mode, natsUrl, queue, batch, window] = process.argv.slice(2);
await runBench(() => (mode === 'flood' && natsUrl && queue ? floodWorker(natsUrl, queue, Number(batch), Number(window)) : main()));
