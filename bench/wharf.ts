/**
 * The Wharf side: a single Wharf node started as a child process (`node --import tsx
 * src/node/main.ts`) on the benchmark's nats-server, driven through the SDK (`WharfClient`).
 *
 * (a) produce with SDK batching; (b) receive+delete with concurrent receive loops and pipelined
 * batch deletes; (c) end-to-end latency at a fixed rate; (d) a deep backlog: the node's RSS and
 * the p99 of single receives on it, against the same on a small queue.
 */
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WharfClient } from '../src/client/client.ts';
import type { ReceivedMessage } from '../src/protocol/messages.ts';
import { summarize, throughput, type LatencySummary, type Throughput } from './stats.ts';
import { pacedRun, phaseTimeoutMs, type LatencyOptions } from './pace.ts';
import { cpuMeter, fixedBody, nowMs, type CpuUse, observed, onCleanup, pollUntil, sentAt, terminate, timestampedBody, trackChild, withTimeout } from './util.ts';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLUSTER = 'bench';
const READY_TIMEOUT_MS = 60_000;
const TAIL_CHARS = 16_384;
/** Sends awaited together: bounds the promises the producer loop holds. */
const SEND_CHUNK = 20_000;

export interface WharfOptions {
  natsUrl: string;
  natsPid: number;
  dataDir: string;
  logFile: string;
  messages: number;
  receiveLoops: number;
  receiveBatch: number;
  latency: LatencyOptions & { pollers: number };
  backlog: number;
  smallQueue: number;
  singlePairs: number;
  log: (line: string) => void;
}

export interface MemorySample {
  rssMb: number;
  hwmMb: number;
}

export interface WharfResults {
  produce: Throughput & { cpu: CpuUse };
  receive: Throughput & { loops: number; batch: number; cpu: CpuUse };
  latency: LatencySummary & {
    rate: number;
    seconds: number;
    sent: number;
    pollers: number;
    /** ReceiveMessage calls, and messages per non-empty one. */
    receives: number;
    meanBatch: number;
    /** From the last send until every message was received: large when the consumer fell behind. */
    drainMs: number;
    cpu: CpuUse;
  };
  backlog: {
    messages: number;
    fill: Throughput & { cpu: CpuUse };
    memoryBefore: MemorySample;
    memoryAfterFill: MemorySample;
    memoryAfterReceives: MemorySample;
    /** The larger RSS of the two samples taken with the backlog in place (fresh node, no restart). */
    rssMb: number;
    /** The node restarted on the backlog: until it answers, until the first receive, and its memory then. */
    restart: { readyMs: number; firstReceiveMs: number; memory: MemorySample } | { error: string };
    smallQueueMessages: number;
    pairs: number;
    receiveSmall: LatencySummary;
    receiveBacklog: LatencySummary;
    deleteSmall: LatencySummary;
    deleteBacklog: LatencySummary;
  };
}

// ---- the node child process ------------------------------------------------------------------------

export interface WharfNodeProcess {
  readonly pid: number;
  /** Rejects when the node exits before `stop()`: race long waits against it. */
  readonly died: Promise<never>;
  memory(): Promise<MemorySample>;
  stop(): Promise<void>;
}

export async function startWharfNode(natsUrl: string, dataDir: string, logFile: string): Promise<WharfNodeProcess> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    WHARF_NODE_ID: 'bench-1',
    WHARF_CLUSTER: CLUSTER,
    WHARF_NATS_URL: natsUrl,
    WHARF_DATA_DIR: dataDir,
    WHARF_LOG_LEVEL: process.env['WHARF_LOG_LEVEL'] ?? 'warn',
    WHARF_HTTP_PORT: process.env['WHARF_HTTP_PORT'] ?? '0',
  };
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/node/main.ts'], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  trackChild(child);
  const log = createWriteStream(logFile, { flags: 'a' });
  let tail = '';
  const collect = (chunk: string) => {
    log.write(chunk);
    tail = (tail + chunk).slice(-TAIL_CHARS);
  };
  child.stdout?.setEncoding('utf8').on('data', collect);
  child.stderr?.setEncoding('utf8').on('data', collect);

  let stopping = false;
  const died = new Promise<never>((_, reject) => {
    child.once('error', (err) => reject(new Error(`wharf node failed to start: ${err.message}`)));
    child.once('exit', (code, signal) => {
      log.end();
      if (!stopping) reject(new Error(`wharf node exited unexpectedly (code ${code}, signal ${signal}); log ${logFile}:\n${tail}`));
    });
  });
  died.catch(() => undefined); // observed by whoever races against it
  const pid = child.pid;
  if (pid === undefined) return died;

  const stop = async () => {
    stopping = true;
    await terminate(child, 15_000);
  };
  onCleanup('stop the wharf node', stop);
  const node: WharfNodeProcess = { pid, died, memory: () => memoryOf(pid), stop };

  // Ready when the API answers.
  const probe = await WharfClient.connect({ servers: natsUrl, cluster: CLUSTER, timeoutMs: 1_000, maxAttempts: 1 });
  try {
    await Promise.race([
      died,
      pollUntil(async () => (await probe.listQueues(), true), READY_TIMEOUT_MS, 'wharf node answering ListQueues', 100),
    ]);
  } catch (err) {
    await stop();
    throw err;
  } finally {
    await probe.close();
  }
  return node;
}

async function memoryOf(pid: number): Promise<MemorySample> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => {
    const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(status);
    if (!m?.[1]) throw new Error(`no ${field} in /proc/${pid}/status`);
    return Number(m[1]);
  };
  return { rssMb: Math.round(kb('VmRSS') / 1024), hwmMb: Math.round(kb('VmHWM') / 1024) };
}

// ---- the suite -------------------------------------------------------------------------------------

export async function runWharf(options: WharfOptions): Promise<WharfResults> {
  const client = await WharfClient.connect({ servers: options.natsUrl, cluster: CLUSTER });
  try {
    // Throughput and latency on one node; the backlog on a fresh one, so its memory figures are
    // not those left behind by the earlier phases.
    const first = await startNode(options, 'main');
    const guard = guardFor(first);
    const pids = { node: first.pid, nats: options.natsPid };
    const n = options.messages;
    await client.createQueue('bench-tp');
    options.log(`wharf: produce ${n.toLocaleString('en-US')} messages (SDK batching)`);
    let meter = await cpuMeter(pids);
    const produce = { ...(await guard(produceMessages(client, 'bench-tp', n), phaseTimeoutMs(n), 'wharf produce')), cpu: await meter() };
    options.log(`wharf: produce ${produce.perSecond.toLocaleString('en-US')} msgs/s`);

    options.log(`wharf: receive+delete ${n.toLocaleString('en-US')} messages (${options.receiveLoops} loops × ${options.receiveBatch})`);
    meter = await cpuMeter(pids);
    const receive = {
      ...(await guard(receiveAndDelete(client, 'bench-tp', n, options), phaseTimeoutMs(n), 'wharf receive+delete')),
      cpu: await meter(),
    };
    options.log(`wharf: receive+delete ${receive.perSecond.toLocaleString('en-US')} msgs/s`);
    await client.deleteQueue('bench-tp');

    await client.createQueue('bench-lat');
    options.log(`wharf: end-to-end latency at ${options.latency.rate} msgs/s for ${options.latency.seconds} s`);
    const latencyBound = (options.latency.warmupSeconds + options.latency.seconds) * 1000 + 120_000;
    meter = await cpuMeter(pids);
    const latency = { ...(await guard(endToEndLatency(options), latencyBound, 'wharf latency')), cpu: await meter() };
    options.log(
      `wharf: e2e p50 ${latency.p50} ms, p99 ${latency.p99} ms ` +
        `(${latency.receives} receives of ${latency.meanBatch} messages on average, drained ${latency.drainMs} ms after the last send)`,
    );
    await client.deleteQueue('bench-lat');
    await first.stop();

    const backlog = await backlogPhase(client, options);
    return { produce, receive, latency, backlog };
  } finally {
    await client.close();
  }
}

async function startNode(options: WharfOptions, name: string): Promise<WharfNodeProcess> {
  const dataDir = join(options.dataDir, name);
  const node = await startWharfNode(options.natsUrl, dataDir, options.logFile);
  options.log(`wharf: node ready (pid ${node.pid}, data ${dataDir})`);
  return node;
}

type Guard = <T>(p: Promise<T>, ms: number, what: string) => Promise<T>;

/** Bounds a phase and fails it at once when the node dies. */
function guardFor(node: WharfNodeProcess): Guard {
  return (p, ms, what) => withTimeout(Promise.race([p, node.died]), ms, what);
}

/** `send()` in a loop, awaiting in chunks, then `flush()`. */
async function produceMessages(client: WharfClient, queue: string, n: number): Promise<Throughput> {
  const body = fixedBody();
  const t0 = performance.now();
  let pending: Array<Promise<unknown>> = [];
  for (let i = 0; i < n; i++) {
    pending.push(client.send(queue, body));
    if (pending.length >= SEND_CHUNK) {
      await Promise.all(pending);
      pending = [];
    }
  }
  await Promise.all(pending);
  await client.flush();
  return throughput(n, performance.now() - t0);
}

function deleteEntries(messages: readonly ReceivedMessage[]): Array<{ id: string; receiptHandle: string }> {
  return messages.map((m, i) => ({ id: String(i), receiptHandle: m.receiptHandle }));
}

/** Concurrent receive loops; each starts its next receive without waiting for its batch delete. */
async function receiveAndDelete(
  client: WharfClient,
  queue: string,
  n: number,
  options: WharfOptions,
): Promise<Omit<WharfResults['receive'], 'cpu'>> {
  let received = 0;
  let failedDeletes = 0;
  let firstFailure = '';
  const deletes: Array<Promise<void>> = [];
  const t0 = performance.now();
  const loop = async () => {
    while (received < n) {
      const messages = await client.receive(queue, { maxMessages: options.receiveBatch, waitTimeSeconds: 1 });
      if (messages.length === 0) continue;
      received += messages.length;
      deletes.push(
        observed(
          client.deleteMessageBatch(queue, deleteEntries(messages)).then((reply) => {
            failedDeletes += reply.failed.length;
            if (reply.failed[0] && firstFailure === '') firstFailure = `${reply.failed[0].code}: ${reply.failed[0].message}`;
          }),
        ),
      );
    }
  };
  const loops = observed(Promise.all(Array.from({ length: options.receiveLoops }, loop)));
  // Done when every message is received and every delete acknowledged; idle loops end within 1 s.
  // A failing loop fails the phase at once.
  await Promise.race([
    pollUntil(async () => (received >= n ? true : undefined), phaseTimeoutMs(n), `wharf: ${n} messages received`, 1),
    loops,
  ]);
  await Promise.all(deletes);
  const elapsed = performance.now() - t0;
  await loops;
  if (received !== n) throw new Error(`wharf: received ${received} messages, expected ${n} (duplicates?)`);
  if (failedDeletes > 0) throw new Error(`wharf: ${failedDeletes} deletes failed, first: ${firstFailure}`);
  const left = await client.getQueueAttributes(queue);
  const { approximateNumberOfMessages: visible, approximateNumberOfMessagesNotVisible: inflight } = left.counts;
  if (visible + inflight !== 0) throw new Error(`wharf: queue ${queue} still holds ${visible} visible and ${inflight} in-flight messages`);
  return { ...throughput(n, elapsed), loops: options.receiveLoops, batch: options.receiveBatch };
}

async function endToEndLatency(options: WharfOptions): Promise<Omit<WharfResults['latency'], 'cpu'>> {
  const queue = 'bench-lat';
  // Producer and consumer on connections of their own, as two services would be.
  const producer = await WharfClient.connect({ servers: options.natsUrl, cluster: CLUSTER });
  const consumer = await WharfClient.connect({ servers: options.natsUrl, cluster: CLUSTER });
  try {
    const samples: number[] = [];
    let received = 0;
    let measureFrom = Number.POSITIVE_INFINITY;
    let stopped = false;
    let failure: unknown;
    let receives = 0;
    let nonEmpty = 0;
    const deletes: Array<Promise<unknown>> = [];
    const poll = async () => {
      while (!stopped) {
        const messages = await consumer.receive(queue, { maxMessages: 100, waitTimeSeconds: 1 });
        const t = nowMs();
        receives++;
        if (messages.length > 0) nonEmpty++;
        for (const m of messages) {
          const sent = sentAt(m.body);
          if (sent !== undefined && sent >= measureFrom) samples.push(t - sent);
        }
        received += messages.length;
        if (messages.length > 0) deletes.push(observed(consumer.deleteMessageBatch(queue, deleteEntries(messages))));
      }
    };
    const pollers = observed(Promise.all(Array.from({ length: options.latency.pollers }, poll)));
    const run = await pacedRun(options.latency, (start) => (measureFrom = start), () => {
      producer.send(queue, timestampedBody()).catch((err: unknown) => (failure ??= err));
    });
    const lastSend = performance.now();
    await producer.flush();
    if (failure !== undefined) throw failure;
    let drainMs = 0;
    try {
      await Promise.race([
        pollUntil(
          async () => (received >= run.sent ? true : undefined),
          120_000,
          `wharf latency: all ${run.sent} messages received (${received} so far)`,
          5,
        ),
        pollers,
      ]);
      drainMs = Math.round(performance.now() - lastSend);
    } finally {
      stopped = true;
      await pollers.catch(() => undefined);
    }
    await pollers;
    await Promise.all(deletes);
    return {
      ...summarize(samples),
      rate: options.latency.rate,
      seconds: options.latency.seconds,
      sent: run.sent,
      pollers: options.latency.pollers,
      receives,
      meanBatch: nonEmpty > 0 ? Math.round((received / nonEmpty) * 10) / 10 : 0,
      drainMs,
    };
  } finally {
    await producer.close();
    await consumer.close();
  }
}

async function backlogPhase(client: WharfClient, options: WharfOptions): Promise<WharfResults['backlog']> {
  const small = 'bench-small';
  const deep = 'bench-backlog';
  let node = await startNode(options, 'backlog');
  let guard = guardFor(node);
  try {
    await client.createQueue(small);
    await client.createQueue(deep);
    const memoryBefore = await node.memory();

    options.log(`wharf: small queue of ${options.smallQueue.toLocaleString('en-US')} messages`);
    await guard(produceMessages(client, small, options.smallQueue), phaseTimeoutMs(options.smallQueue), 'wharf small queue fill');
    options.log(`wharf: backlog of ${options.backlog.toLocaleString('en-US')} messages`);
    const meter = await cpuMeter({ node: node.pid, nats: options.natsPid });
    const fill = {
      ...(await guard(produceMessages(client, deep, options.backlog), phaseTimeoutMs(options.backlog), 'wharf backlog fill')),
      cpu: await meter(),
    };
    options.log(`wharf: backlog filled at ${fill.perSecond.toLocaleString('en-US')} msgs/s`);
    const memoryAfterFill = await node.memory();
    const depth = (await client.getQueueAttributes(deep)).counts.approximateNumberOfMessages;
    if (depth !== options.backlog) throw new Error(`wharf: backlog queue holds ${depth} messages, expected ${options.backlog}`);

    // Interleaved, so both queues see the same background work (e.g. compactions after the fill).
    options.log(`wharf: ${options.singlePairs} single receive+delete pairs on each queue, interleaved`);
    const times = {
      receiveSmall: [] as number[],
      receiveBacklog: [] as number[],
      deleteSmall: [] as number[],
      deleteBacklog: [] as number[],
    };
    const pair = async (queue: string, receiveMs: number[], deleteMs: number[]) => {
      const t0 = performance.now();
      const [message] = await client.receive(queue, { maxMessages: 1 });
      const t1 = performance.now();
      if (!message) throw new Error(`wharf: receive on ${queue} returned no message`);
      await client.deleteMessage(queue, message.receiptHandle);
      receiveMs.push(t1 - t0);
      deleteMs.push(performance.now() - t1);
    };
    await guard(
      (async () => {
        for (let i = 0; i < options.singlePairs; i++) {
          await pair(small, times.receiveSmall, times.deleteSmall);
          await pair(deep, times.receiveBacklog, times.deleteBacklog);
        }
      })(),
      60_000 + options.singlePairs * 200,
      'wharf single receive+delete pairs',
    );
    const memoryAfterReceives = await node.memory();
    options.log(`wharf: RSS ${memoryAfterFill.rssMb} MB after the fill, ${memoryAfterReceives.rssMb} MB after the receives`);

    // A restart on the backlog: recovery time and what the node holds in memory afterwards.
    options.log('wharf: restart on the backlog');
    let restart: WharfResults['backlog']['restart'];
    try {
      await node.stop();
      const t0 = performance.now();
      node = await startWharfNode(options.natsUrl, join(options.dataDir, 'backlog'), options.logFile);
      guard = guardFor(node);
      const readyMs = performance.now() - t0;
      const [message] = await guard(
        client.receive(deep, { maxMessages: 1, waitTimeSeconds: 20 }),
        120_000,
        'wharf: first receive on the backlog after the restart',
      );
      const firstReceiveMs = performance.now() - t0;
      if (!message) throw new Error('wharf: no message received from the backlog after the restart');
      await client.deleteMessage(deep, message.receiptHandle);
      const memory = await node.memory();
      restart = { readyMs: Math.round(readyMs), firstReceiveMs: Math.round(firstReceiveMs), memory };
      options.log(`wharf: restarted in ${restart.readyMs} ms, first receive after ${restart.firstReceiveMs} ms, RSS ${memory.rssMb} MB`);
    } catch (err) {
      restart = { error: err instanceof Error ? err.message : String(err) };
      options.log(`wharf: restart on the backlog failed: ${restart.error}`);
    }

    return {
      messages: options.backlog,
      fill,
      memoryBefore,
      memoryAfterFill,
      memoryAfterReceives,
      rssMb: Math.max(memoryAfterFill.rssMb, memoryAfterReceives.rssMb),
      restart,
      smallQueueMessages: options.smallQueue,
      pairs: options.singlePairs,
      receiveSmall: summarize(times.receiveSmall),
      receiveBacklog: summarize(times.receiveBacklog),
      deleteSmall: summarize(times.deleteSmall),
      deleteBacklog: summarize(times.deleteBacklog),
    };
  } finally {
    await node.stop();
  }
}
