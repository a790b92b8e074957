/**
 * `npm run bench`, 1 KiB messages, everything in one run on one machine:
 *   - R1: Wharf single-node against NATS JetStream (one replica) on the same nats-server;
 *   - stream mode produce and group consume: a stream on one node, read by a group of two
 *     consumers and by a second group (bench/stream.ts);
 *   - R3: Wharf with three nodes and replication factor 3 (sync and async) on that nats-server,
 *     against JetStream R3 on a cluster of three nats-servers (bench/replicated.ts);
 *   - in child processes of their own, their tables printed as they are: the SQS-compatible endpoint
 *     through the AWS SDK against the native API (bench/sqs.ts, BENCH_SQS_MESSAGES 20,000, 5,000
 *     quick), the two back-end models (bench/hosts.ts) and a queue split over two clusters against
 *     one (bench/split.ts, BENCH_SPLIT_MESSAGES 20,000, 5,000 quick).
 * Prints both comparisons with their ratios and the project's targets, and writes the figures to
 * bench/results/<timestamp>.json and, for a full run, latest.json.
 *
 * Environment:
 *   BENCH_QUICK=1            smoke run: 20k messages (10k for R3), 3 s latency, 50k backlog
 *   BENCH_PARTITIONS         partitions of every Wharf queue, R1 and R3 (1)
 *   BENCH_MESSAGES           messages per throughput phase            (200,000)
 *   BENCH_R3_MESSAGES        the same for the R3 comparison           (BENCH_MESSAGES)
 *   BENCH_LATENCY_SECONDS    measured seconds of the latency phase    (10)
 *   BENCH_RATE               messages/s of the latency phase          (5,000)
 *   BENCH_BACKLOG            messages of the Wharf backlog phase      (1,000,000)
 *   BENCH_LATENCY_POLLERS    concurrent Wharf long-poll receivers     (2)
 *   BENCH_R3_LATENCY_POLLERS the same for the R3 comparison           (8)
 *   BENCH_DELAYED            delayed messages scheduled and released   (1,000,000)
 *   BENCH_DELAY_SPREAD       seconds over which they come due          (120)
 *   BENCH_DELAY_FIRST        the first of their delays, s              (60)
 *   BENCH_ORDER_RATE         messages/s of the time-window ordering runs (2,000)
 *   BENCH_FIFO_MESSAGES      messages per FIFO run (1, 10, 1,000 groups) (50,000; 5,000 quick)
 *   BENCH_FIFO_ONLY=1        the FIFO section alone (results in bench/results/<timestamp>-fifo.json)
 *   BENCH_STREAM_PARTITIONS  partitions of the stream-mode section    (4)
 *   BENCH_KEEP=1             keep the temp dir (stores and logs)
 *   WHARF_*                  passed to the Wharf node (e.g. WHARF_SYNC_WRITES=false)
 *
 * One section alone (produce and receive+delete), with CPU profiles of the nodes: bench/focus.ts.
 * Delays and time-window ordering alone: bench/delays.ts.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { reportFifo, runFifo, type FifoOptions } from './fifo.ts';
import { runJetStream, type JetStreamResults } from './jetstream.ts';
import { startNatsServer } from './nats.ts';
import { reportReplicated, runReplicated } from './replicated.ts';
import { delayOptionsFromEnv, reportDelays, runDelays } from './delays.ts';
import { fmt, formatCores, ratio, renderTable, renderTargets, type Target } from './stats.ts';
import { installSignalHandlers, intFromEnv, measureFsync, onCleanup, runCleanups } from './util.ts';
import { runWharf, type WharfResults } from './wharf.ts';
import { reportStream, runStream } from './stream.ts';

const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

interface BenchConfig {
  quick: boolean;
  messages: number;
  /** Messages per throughput phase of the R3 comparison (both sides). */
  replicatedMessages: number;
  messageBytes: number;
  latencySeconds: number;
  latencyWarmupSeconds: number;
  rate: number;
  backlog: number;
  smallQueue: number;
  singlePairs: number;
  jetstreamPublishWindow: number;
  jetstreamFetchBatch: number;
  wharfReceiveLoops: number;
  wharfReceiveBatch: number;
  wharfLatencyPollers: number;
  wharfR3LatencyPollers: number;
  wharfPartitions: number;
  streamPartitions: number;
  /** Bound of the wait until a new replicated queue takes a send and gives it back. */
  wharfUsableTimeoutMs: number;
  keepTempDir: boolean;
  wharfEnv: Record<string, string>;
  fifoMessages: number;
  fifoGroups: readonly number[];
  fifoOnly: boolean;
}

function readConfig(): BenchConfig {
  const quick = process.env['BENCH_QUICK'] === '1' || process.env['BENCH_QUICK'] === 'true';
  const messages = intFromEnv('BENCH_MESSAGES', quick ? 20_000 : 200_000);
  const wharfEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (k.startsWith('WHARF_') && v !== undefined) wharfEnv[k] = v;
  return {
    quick,
    messages,
    replicatedMessages: intFromEnv('BENCH_R3_MESSAGES', quick ? 10_000 : messages),
    messageBytes: 1024,
    latencySeconds: intFromEnv('BENCH_LATENCY_SECONDS', quick ? 3 : 10),
    latencyWarmupSeconds: quick ? 0.5 : 1,
    rate: intFromEnv('BENCH_RATE', 5_000),
    backlog: intFromEnv('BENCH_BACKLOG', quick ? 50_000 : 1_000_000),
    smallQueue: 5_000,
    singlePairs: quick ? 500 : 2_000,
    jetstreamPublishWindow: 512,
    jetstreamFetchBatch: 500,
    wharfReceiveLoops: 8,
    wharfReceiveBatch: 500,
    wharfLatencyPollers: intFromEnv('BENCH_LATENCY_POLLERS', 2),
    // A replicated receive waits for its lease to replicate: more receives in flight carry the rate.
    wharfR3LatencyPollers: intFromEnv('BENCH_R3_LATENCY_POLLERS', 8),
    wharfPartitions: intFromEnv('BENCH_PARTITIONS', 1),
    streamPartitions: intFromEnv('BENCH_STREAM_PARTITIONS', 4),
    wharfUsableTimeoutMs: quick ? 20_000 : 60_000,
    keepTempDir: process.env['BENCH_KEEP'] === '1',
    wharfEnv,
    fifoMessages: intFromEnv('BENCH_FIFO_MESSAGES', quick ? 5_000 : 50_000),
    fifoGroups: [1, 10, 1000],
    fifoOnly: process.env['BENCH_FIFO_ONLY'] === '1',
  };
}

const currentLoad = () => loadavg()[0] ?? 0;
const busy = (load: number) => load > cpus().length * 0.5;
let loadStart = 0;

const log = (line: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`);

async function packageVersion(name: string): Promise<string> {
  try {
    const text = await readFile(join(REPO_ROOT, 'node_modules', name, 'package.json'), 'utf8');
    const version = (JSON.parse(text) as { version?: unknown }).version;
    return typeof version === 'string' ? version : 'unknown';
  } catch {
    return 'unknown';
  }
}

function targets(w: WharfResults, j: JetStreamResults, backlog: number): Target[] {
  const produceRatio = ratio(w.produce.perSecond, j.produce.perSecond);
  const receiveRatio = ratio(w.receive.perSecond, j.receive.perSecond);
  const backlogRatio = ratio(w.backlog.receiveBacklog.p99, w.backlog.receiveSmall.p99);
  const backlogLabel = backlog.toLocaleString('en-US');
  return [
    {
      name: 'produce throughput',
      goal: '≥ 2× JetStream',
      measured: fmt(produceRatio, 'ratio'),
      pass: produceRatio === undefined ? undefined : produceRatio >= 2,
    },
    {
      name: 'receive+delete throughput',
      goal: '≥ 1× JetStream',
      measured: fmt(receiveRatio, 'ratio'),
      pass: receiveRatio === undefined ? undefined : receiveRatio >= 1,
    },
    {
      name: 'end-to-end p99',
      goal: '≤ JetStream',
      measured: `${fmt(w.latency.p99, 'ms')} ms vs ${fmt(j.latency.p99, 'ms')} ms`,
      pass: Number.isFinite(w.latency.p99) && Number.isFinite(j.latency.p99) ? w.latency.p99 <= j.latency.p99 : undefined,
    },
    {
      name: `RSS with ${backlogLabel} backlog`,
      goal: '< 512 MB',
      measured: `${w.backlog.rssMb} MB`,
      pass: w.backlog.rssMb < 512,
    },
    {
      name: `receive p99 with ${backlogLabel} backlog`,
      goal: '≤ 1.2× small queue',
      measured: `${fmt(w.backlog.receiveBacklog.p99, 'ms')} ms vs ${fmt(w.backlog.receiveSmall.p99, 'ms')} ms (${fmt(backlogRatio, 'ratio')})`,
      pass: backlogRatio === undefined ? undefined : backlogRatio <= 1.2,
    },
  ];
}

function report(
  config: BenchConfig,
  w: WharfResults,
  j: JetStreamResults,
  natsVersion: string,
  fsync: { p50: number; p99: number },
): Target[] {
  const backlogLabel = config.backlog.toLocaleString('en-US');
  const row = (name: string, wv: number | undefined, jv: number | undefined, kind: 'count' | 'ms' | 'mb') => [
    name,
    fmt(wv, kind),
    fmt(jv, kind),
    fmt(ratio(wv, jv), 'ratio'),
  ];
  const rows = [
    row('produce msgs/s', w.produce.perSecond, j.produce.perSecond, 'count'),
    row('receive+delete msgs/s', w.receive.perSecond, j.receive.perSecond, 'count'),
    row(`e2e p50 ms @ ${config.rate.toLocaleString('en-US')}/s`, w.latency.p50, j.latency.p50, 'ms'),
    row(`e2e p99 ms @ ${config.rate.toLocaleString('en-US')}/s`, w.latency.p99, j.latency.p99, 'ms'),
    row(`RSS MB with ${backlogLabel} backlog`, w.backlog.rssMb, undefined, 'mb'),
    row(`RSS MB after restart on the backlog`, 'memory' in w.backlog.restart ? w.backlog.restart.memory.rssMb : undefined, undefined, 'mb'),
    row(`receive p99 ms, ${config.smallQueue.toLocaleString('en-US')}-message queue`, w.backlog.receiveSmall.p99, undefined, 'ms'),
    row(`receive p99 ms, ${backlogLabel} backlog`, w.backlog.receiveBacklog.p99, undefined, 'ms'),
  ];
  const out: string[] = [];
  out.push('');
  out.push(
    `Wharf single node vs NATS JetStream (nats-server ${natsVersion}), ${config.messageBytes}-byte messages, ` +
      `${config.messages.toLocaleString('en-US')} messages per throughput phase${config.quick ? ' [BENCH_QUICK]' : ''}`,
  );
  out.push(`machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`);
  out.push(`load average before the run ${loadStart.toFixed(2)}${busy(loadStart) ? ': the machine was busy, figures are noisy' : ''}`);
  out.push('');
  out.push(renderTable(['', 'Wharf', 'JetStream', 'Wharf/JetStream'], rows));
  out.push('');
  out.push(
    `Latency consumers: Wharf ${w.latency.receives.toLocaleString('en-US')} receives of ${w.latency.meanBatch} messages on average, ` +
      `all received ${w.latency.drainMs} ms after the last send; JetStream all received ${j.latency.drainMs} ms after the last send ` +
      '(hundreds of ms or more: the consumer fell behind the rate).',
  );
  if ('error' in w.backlog.restart) out.push(`Wharf restart on the backlog failed: ${w.backlog.restart.error}`);
  else {
    out.push(
      `Wharf restart on the ${backlogLabel} backlog: ready after ${fmt(w.backlog.restart.readyMs, 'count')} ms, ` +
        `first receive after ${fmt(w.backlog.restart.firstReceiveMs, 'count')} ms. RSS before the backlog ${w.backlog.memoryBefore.rssMb} MB.`,
    );
  }
  out.push('');
  out.push('CPU use in cores (CPU time / wall time) per phase:');
  out.push(
    renderTable(
      ['', 'Wharf', 'JetStream'],
      [
        ['produce', formatCores(w.produce.cpu), formatCores(j.produce.cpu)],
        ['receive+delete', formatCores(w.receive.cpu), formatCores(j.receive.cpu)],
        ['e2e latency', formatCores(w.latency.cpu), formatCores(j.latency.cpu)],
        ['backlog fill', formatCores(w.backlog.fill.cpu), ''],
      ],
    ),
  );
  out.push('');
  if (j.ingestNoAck !== undefined && 'perSecond' in j.ingestNoAck) {
    out.push(
      `Reference: JetStream stores ${fmt(j.ingestNoAck.perSecond, 'count')} msgs/s when fed core publishes without per-message acks ` +
        "(the server's ceiling; the produce row uses acked js.publish, bound by the client's CPU: see the bench column above).",
    );
  }
  const fsyncText = `An fdatasync on this machine takes ${fsync.p50} ms (p50), ${fsync.p99} ms (p99).`;
  if (config.wharfEnv['WHARF_SYNC_WRITES'] === 'false') {
    out.push(
      'Durability: Wharf ran with WHARF_SYNC_WRITES=false: it acknowledges writes without an fsync, as JetStream\'s file ' +
        `store does by default (it syncs every 2 minutes). ${fsyncText}`,
    );
  } else {
    out.push(
      'Durability: Wharf fsyncs its WAL before acknowledging a write (WHARF_SYNC_WRITES=true, the default); JetStream\'s ' +
        'file store syncs to disk every 2 minutes by default (sync_interval), so the comparison favours JetStream on ' +
        `durability. ${fsyncText}`,
    );
  }
  out.push(
    `Setup: JetStream publish window ${config.jetstreamPublishWindow}, pull consumer (consume()) batches of ` +
      `${config.jetstreamFetchBatch}, max_ack_pending 20,000, acks not awaited (flushed at the end); Wharf SDK send batching, ${config.wharfReceiveLoops} receive loops × ` +
      `${config.wharfReceiveBatch} with pipelined batch deletes (awaited); latency: ${config.latencySeconds} s measured after ` +
      `${config.latencyWarmupSeconds} s warm-up, Wharf ${config.wharfLatencyPollers} long-poll receivers (maxMessages 100, wait 1 s).`,
  );
  out.push('');
  const list = targets(w, j, config.backlog);
  out.push('Targets:');
  out.push(renderTargets(list));
  out.push('');
  process.stdout.write(`${out.join('\n')}\n`);
  return list;
}

async function writeResults(name: string, data: unknown, latest: boolean): Promise<string> {
  await mkdir(RESULTS_DIR, { recursive: true });
  const text = `${JSON.stringify(data, null, 2)}\n`;
  const file = join(RESULTS_DIR, name);
  await writeFile(file, text);
  if (latest) await writeFile(join(RESULTS_DIR, 'latest.json'), text);
  return file;
}

async function main(): Promise<void> {
  installSignalHandlers();
  const config = readConfig();
  loadStart = currentLoad();
  if (busy(loadStart)) log(`warning: load average ${loadStart.toFixed(2)} on ${cpus().length} CPUs: other work will skew the figures`);
  const startedAt = new Date();
  const stamp = startedAt.toISOString().replace(/:/g, '-');
  const results: Record<string, unknown> = {
    startedAt: startedAt.toISOString(),
    config,
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
      natsClient: {
        transportNode: await packageVersion('@nats-io/transport-node'),
        jetstream: await packageVersion('@nats-io/jetstream'),
      },
    },
  };

  const tmp = await mkdtemp(join(tmpdir(), 'wharf-bench-'));
  onCleanup('remove the temp dir', async () => {
    if (config.keepTempDir) log(`kept ${tmp}`);
    else await rm(tmp, { recursive: true, force: true });
  });
  log(`temp dir ${tmp}`);

  try {
    const fsync = await measureFsync(tmp);
    results['fsync'] = fsync;
    log(`fdatasync of 4 KiB in ${tmp}: p50 ${fsync.p50} ms, p99 ${fsync.p99} ms (${fsync.count} samples)`);

    const nats = await startNatsServer(join(tmp, 'nats'));
    onCleanup('stop nats-server', () => nats.stop());
    log(`nats-server ${nats.version} at ${nats.url} (pid ${nats.pid})`);
    results['natsServer'] = nats.version;

    const fifoOptions: FifoOptions = {
      natsUrl: nats.url,
      natsPid: nats.pid,
      dataDir: join(tmp, 'wharf'),
      logDir: tmp,
      messages: config.fifoMessages,
      groups: config.fifoGroups,
      receiveLoops: config.wharfReceiveLoops,
      receiveBatch: config.wharfReceiveBatch,
      partitions: config.wharfPartitions,
      log,
    };
    if (config.fifoOnly) {
      const fifo = await runFifo(fifoOptions);
      results['fifo'] = fifo;
      process.stdout.write(`${reportFifo(fifo, fifoOptions).join('\n')}\n`);
      results['finishedAt'] = new Date().toISOString();
      log(`results written to ${await writeResults(`${stamp}-fifo.json`, results, false)}`);
      return;
    }

    const latency = { rate: config.rate, seconds: config.latencySeconds, warmupSeconds: config.latencyWarmupSeconds };
    const jetstream = await runJetStream({
      servers: nats.url,
      pids: { nats: nats.pid },
      replicas: 1,
      label: 'jetstream',
      ingestReference: true,
      messages: config.messages,
      publishWindow: config.jetstreamPublishWindow,
      fetchBatch: config.jetstreamFetchBatch,
      latency,
      log,
    });
    results['jetstream'] = jetstream;

    const wharf = await runWharf({
      natsUrl: nats.url,
      natsPid: nats.pid,
      dataDir: join(tmp, 'wharf'),
      logDir: tmp,
      messages: config.messages,
      receiveLoops: config.wharfReceiveLoops,
      receiveBatch: config.wharfReceiveBatch,
      latency: { ...latency, pollers: config.wharfLatencyPollers },
      backlog: config.backlog,
      smallQueue: config.smallQueue,
      singlePairs: config.singlePairs,
      partitions: config.wharfPartitions,
      log,
    });
    results['wharf'] = wharf;

    const stream = await runStream({
      natsUrl: nats.url,
      dataDir: join(tmp, 'wharf'),
      logDir: tmp,
      messages: config.messages,
      partitions: config.streamPartitions,
      log,
    });
    results['stream'] = stream;

    const replicated = await runReplicated({
      dir: join(tmp, 'r3'),
      natsUrl: nats.url,
      natsPid: nats.pid,
      messages: config.replicatedMessages,
      publishWindow: config.jetstreamPublishWindow,
      fetchBatch: config.jetstreamFetchBatch,
      receiveLoops: config.wharfReceiveLoops,
      receiveBatch: config.wharfReceiveBatch,
      latency: { ...latency, pollers: config.wharfR3LatencyPollers },
      partitions: config.wharfPartitions,
      usableTimeoutMs: config.wharfUsableTimeoutMs,
      log,
    });
    results['r3'] = replicated;

    const delayOptions = delayOptionsFromEnv(config.quick, nats.url, join(tmp, 'delays'), log);
    const delays = await runDelays(delayOptions);
    results['delays'] = delays;
    const fifo = await runFifo(fifoOptions);
    results['fifo'] = fifo;

    const list = report(config, wharf, jetstream, nats.version, fsync);
    const r3 = reportReplicated(replicated, {
      messages: config.replicatedMessages,
      messageBytes: config.messageBytes,
      rate: config.rate,
      quick: config.quick,
      natsVersion: nats.version,
      loadNow: currentLoad(),
      latencyPollers: config.wharfR3LatencyPollers,
    });
    process.stdout.write(`${r3.lines.join('\n')}\n`);
    process.stdout.write(`${reportDelays(delays, delayOptions).join('\n')}\n`);
    process.stdout.write(`${reportFifo(fifo, fifoOptions).join('\n')}\n`);
    process.stdout.write(`${reportStream(stream).join('\n')}\n`);
    const quickCount = config.quick ? '5000' : '20000';
    for (const [name, script, env] of [
      ['sqs', 'sqs.ts', { BENCH_SQS_MESSAGES: process.env['BENCH_SQS_MESSAGES'] ?? quickCount }],
      ['models', 'hosts.ts', {}],
      ['split', 'split.ts', { BENCH_SPLIT_MESSAGES: process.env['BENCH_SPLIT_MESSAGES'] ?? quickCount }],
    ] as const) {
      const table = await runChildBench(script, env);
      process.stdout.write(`\n${table}\n`);
      results[name] = table;
    }
    results['r3Ratios'] = r3.ratios;
    results['r3Targets'] = r3.targets;
    results['ratios'] = {
      produce: ratio(wharf.produce.perSecond, jetstream.produce.perSecond),
      receiveDelete: ratio(wharf.receive.perSecond, jetstream.receive.perSecond),
      e2eP50: ratio(wharf.latency.p50, jetstream.latency.p50),
      e2eP99: ratio(wharf.latency.p99, jetstream.latency.p99),
      backlogReceiveP99VsSmall: ratio(wharf.backlog.receiveBacklog.p99, wharf.backlog.receiveSmall.p99),
    };
    results['targets'] = list;
    results['finishedAt'] = new Date().toISOString();
    results['loadAverage'] = { start: loadStart, end: currentLoad() };
    // latest.json holds full runs only: the README quotes it.
    const file = await writeResults(`${stamp}.json`, results, !config.quick);
    log(`results written to ${file}${config.quick ? '' : ` and ${join(RESULTS_DIR, 'latest.json')}`}`);
  } catch (err) {
    results['error'] = err instanceof Error ? err.message : String(err);
    results['finishedAt'] = new Date().toISOString();
    const file = await writeResults(`${stamp}-failed.json`, results, false).catch(() => undefined);
    process.stderr.write(`\nbench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    if (file !== undefined) process.stderr.write(`partial results in ${file}\n`);
    if (!config.keepTempDir) process.stderr.write('(set BENCH_KEEP=1 to keep the stores and logs for inspection)\n');
    process.exitCode = 1;
  } finally {
    await runCleanups();
  }
}

/** A benchmark script of bench/ in a child process of its own (its nodes, nats-servers, clients): what it printed. */
async function runChildBench(script: string, env: Record<string, string>): Promise<string> {
  const path = fileURLToPath(new URL(`./${script}`, import.meta.url));
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', path], { env: { ...process.env, ...env }, maxBuffer: 16 * 2 ** 20 });
  return stdout.trim();
}

await main().catch(async (err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
  await runCleanups();
});
process.exit(process.exitCode ?? 0);
