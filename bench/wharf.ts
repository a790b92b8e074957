/**
 * The Wharf side, driven through the SDK (`WharfClient`) on the benchmark's nats-server, with nodes
 * started as child processes (`node --import tsx src/node/main.ts`, through the tests' launcher
 * test/helpers/node-process.ts, which waits for the node's `node ready` line).
 *
 * Single node (`runWharf`): (a) produce with SDK batching; (b) receive+delete with concurrent
 * receive loops and pipelined batch deletes; (c) end-to-end latency at a fixed rate; (d) a deep
 * backlog: the node's RSS and the p99 of single receives on it, against the same on a small queue.
 *
 * Three nodes (`runWharfReplicated`): (a) to (c) on queues with replication factor 3, once per
 * replication mode (sync, async). A build whose CreateQueue does not know the replication
 * attributes answers invalid_attribute: the runs are then reported as skipped.
 */
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { WharfClient } from '../src/client/client.ts';
import { ErrorCode, WharfError } from '../src/errors.ts';
import type { QueueAttributes, ReceivedMessage } from '../src/protocol/messages.ts';
import { spawnNodeProcess } from '../test/helpers/node-process.ts';
import { summarize, throughput, type LatencySummary, type Throughput } from './stats.ts';
import { pacedRun, phaseTimeoutMs, type LatencyOptions } from './pace.ts';
import { cpuMeter, fixedBody, MESSAGE_BYTES, nowMs, type CpuUse, observed, onCleanup, pollUntil, sentAt, timestampedBody, withTimeout } from './util.ts';

/** WHARF_CLUSTER of the single node and of the three replicating nodes: apart, so nothing is shared. */
export const CLUSTER = 'bench';
export const REPLICATED_CLUSTER = 'bench-r3';
export const REPLICATED_NODES = ['n1', 'n2', 'n3'] as const;
const REPLICATION_FACTOR = 3;
/** Consecutive successful probe sends that make a new replicated queue usable: more than one, as each may reach another node. */
const PROBE_SENDS = 5;
const READY_TIMEOUT_MS = 60_000;
/** The node's own default; the launcher's 20 ms suits tests, the bench measures the defaults. */
const NODE_DEFAULT_TICK_MS = '100';
/** Sends awaited together: bounds the promises the producer loop holds. */
const SEND_CHUNK = 20_000;

export type ReplicationMode = 'sync' | 'async';

/** What the single-node and the replicated runs share. */
export interface WharfPhaseOptions {
  natsUrl: string;
  natsPid: number;
  dataDir: string;
  /** Directory of the nodes' logs (`wharf-<name>.log`). */
  logDir: string;
  messages: number;
  receiveLoops: number;
  receiveBatch: number;
  latency: LatencyOptions & { pollers: number };
  /** Partitions of every queue. */
  partitions: number;
  log: (line: string) => void;
}

export interface WharfOptions extends WharfPhaseOptions {
  backlog: number;
  smallQueue: number;
  singlePairs: number;
}

export interface WharfReplicatedOptions extends WharfPhaseOptions {
  modes: readonly ReplicationMode[];
  /** How long a new queue may take to accept its first send and give it back (primaries being elected). */
  usableTimeoutMs: number;
}

export interface MemorySample {
  rssMb: number;
  hwmMb: number;
}

/** Produce, receive+delete and end-to-end latency on one queue set-up. */
export interface WharfPhases {
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
}

export interface WharfResults extends WharfPhases {
  backlog: {
    messages: number;
    fill: Throughput & { cpu: CpuUse };
    memoryBefore: MemorySample;
    memoryAfterFill: MemorySample;
    memoryAfterReceives: MemorySample;
    /** The larger RSS of the two samples taken with the backlog in place (fresh node, no restart). */
    rssMb: number;
    /** The node restarted on the backlog: until it is ready, until the first receive, and its memory then. */
    restart: { readyMs: number; firstReceiveMs: number; memory: MemorySample } | { error: string };
    smallQueueMessages: number;
    pairs: number;
    receiveSmall: LatencySummary;
    receiveBacklog: LatencySummary;
    deleteSmall: LatencySummary;
    deleteBacklog: LatencySummary;
  };
}

/**
 * One replication mode's outcome: measured, skipped (the build has no replication) or failed,
 * with the phases that finished before the failure.
 */
export type ReplicatedRun =
  | { mode: ReplicationMode; status: 'measured'; results: WharfPhases }
  | { mode: ReplicationMode; status: 'skipped'; reason: string }
  | { mode: ReplicationMode; status: 'failed'; error: string; results: Partial<WharfPhases> };

// ---- the node child processes -----------------------------------------------------------------------

export interface WharfNodeProcess {
  readonly nodeId: string;
  readonly pid: number;
  /** Rejects when the node exits before `stop()`: race long waits against it. */
  readonly died: Promise<never>;
  memory(): Promise<MemorySample>;
  stop(): Promise<void>;
}

interface NodeSpec {
  natsUrl: string;
  cluster: string;
  nodeId: string;
  dataDir: string;
  logFile: string;
  /** More environment variables for the node (e.g. the CPU profiler's, bench/focus.ts). */
  env?: Record<string, string>;
}

/** Starts a node and waits (bounded) for its `node ready` line; it is stopped by the bench's cleanup too. */
export async function startWharfNode(spec: NodeSpec): Promise<WharfNodeProcess> {
  const level = process.env['WHARF_LOG_LEVEL'];
  const handle = await spawnNodeProcess({
    nodeId: spec.nodeId,
    cluster: spec.cluster,
    natsUrl: spec.natsUrl,
    dataDir: spec.dataDir,
    // Readiness is read from the `node ready` line, logged at info: only a more verbose level may replace it.
    logLevel: level === 'debug' || level === 'trace' ? level : 'info',
    env: { WHARF_TICK_MS: process.env['WHARF_TICK_MS'] ?? NODE_DEFAULT_TICK_MS, ...spec.env },
    readyTimeoutMs: READY_TIMEOUT_MS,
    logFile: spec.logFile,
  });
  let stopping = false;
  const died: Promise<never> = handle.exited.then((exit) => {
    if (stopping) return new Promise<never>(() => undefined);
    const output = `${handle.stderr}${handle.stdout}`.slice(-16_384);
    throw new Error(
      `wharf node ${spec.nodeId} exited unexpectedly (code ${exit.code}, signal ${exit.signal}); log ${spec.logFile}:\n${output}`,
    );
  });
  died.catch(() => undefined); // observed by whoever races against it
  const stop = async () => {
    stopping = true;
    await handle.stop(15_000);
  };
  onCleanup(`stop wharf node ${spec.nodeId}`, stop);
  const pid = handle.pid;
  return { nodeId: spec.nodeId, pid, died, memory: () => memoryOf(pid), stop };
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

async function startNode(options: WharfPhaseOptions, cluster: string, nodeId: string, name: string): Promise<WharfNodeProcess> {
  const dataDir = join(options.dataDir, name);
  const node = await startWharfNode({ natsUrl: options.natsUrl, cluster, nodeId, dataDir, logFile: join(options.logDir, `wharf-${name}.log`) });
  options.log(`wharf: node ${nodeId} ready (pid ${node.pid}, data ${dataDir})`);
  return node;
}

export type Guard = <T>(p: Promise<T>, ms: number, what: string) => Promise<T>;

/** Bounds a phase and fails it at once when a node dies. */
export function guardFor(nodes: readonly WharfNodeProcess[]): Guard {
  return (p, ms, what) => withTimeout(Promise.race([p, ...nodes.map((n) => n.died)]), ms, what);
}

// ---- the phases ------------------------------------------------------------------------------------

/** CreateQueue refused the attributes: this build does not know them. */
class AttributesRejected extends Error {}

interface QueueSetup {
  client: WharfClient;
  cluster: string;
  guard: Guard;
  /** Processes whose CPU is measured, by the name the report shows. */
  pids: Record<string, number>;
  /** Prefix of log lines, e.g. `wharf R3 sync`. */
  label: string;
  /** Queue names are `<prefix>-tp` and `<prefix>-lat`. */
  prefix: string;
  attributes: Partial<QueueAttributes>;
  /** Waits until a new queue takes requests. */
  ready(queue: string): Promise<void>;
}

async function createQueue(setup: QueueSetup, queue: string): Promise<void> {
  try {
    await setup.client.createQueue(queue, setup.attributes);
  } catch (err) {
    if (err instanceof WharfError && err.code === ErrorCode.InvalidAttribute) throw new AttributesRejected(err.message, { cause: err });
    throw err;
  }
  await setup.ready(queue);
}

/**
 * Produce, then receive+delete the same messages, then the latency run on a fresh queue. Each
 * phase's figures go into `done` as soon as it ends. The latency run also runs when the throughput
 * phases failed (its queue is a new one), so one broken path does not hide the other figures; the
 * failures are thrown at the end.
 */
async function queuePhases(setup: QueueSetup, options: WharfPhaseOptions, done: Partial<WharfPhases> = {}): Promise<WharfPhases> {
  const { client, guard, pids, label } = setup;
  const log = (line: string) => options.log(`${label}: ${line}`);
  const n = options.messages;
  const failures: unknown[] = [];

  const tp = `${setup.prefix}-tp`;
  await createQueue(setup, tp);
  try {
    log(`produce ${n.toLocaleString('en-US')} messages (SDK batching)`);
    let meter = await cpuMeter(pids);
    done.produce = { ...(await guard(produceMessages(client, tp, n), phaseTimeoutMs(n), `${label} produce`)), cpu: await meter() };
    log(`produce ${done.produce.perSecond.toLocaleString('en-US')} msgs/s`);

    log(`receive+delete ${n.toLocaleString('en-US')} messages (${options.receiveLoops} loops × ${options.receiveBatch})`);
    meter = await cpuMeter(pids);
    const receive = await guard(receiveAndDelete(client, tp, n, options), phaseTimeoutMs(n), `${label} receive+delete`);
    done.receive = { ...receive, cpu: await meter() };
    log(`receive+delete ${done.receive.perSecond.toLocaleString('en-US')} msgs/s`);
    await client.deleteQueue(tp);
  } catch (err) {
    log(`failed: ${messageOf(err)}`);
    failures.push(err);
  }

  try {
    const lat = `${setup.prefix}-lat`;
    await createQueue(setup, lat);
    log(`end-to-end latency at ${options.latency.rate} msgs/s for ${options.latency.seconds} s`);
    const latencyBound = (options.latency.warmupSeconds + options.latency.seconds) * 1000 + 120_000;
    const meter = await cpuMeter(pids);
    const latency = await guard(endToEndLatency(options, setup.cluster, lat), latencyBound, `${label} latency`);
    done.latency = { ...latency, cpu: await meter() };
    log(
      `e2e p50 ${latency.p50} ms, p99 ${latency.p99} ms ` +
        `(${latency.receives} receives of ${latency.meanBatch} messages on average, drained ${latency.drainMs} ms after the last send)`,
    );
    await client.deleteQueue(lat);
  } catch (err) {
    log(`failed: ${messageOf(err)}`);
    failures.push(err);
  }
  const { produce, receive, latency } = done;
  if (failures.length > 1) throw new Error(failures.map(messageOf).join('; then: '), { cause: failures[0] });
  if (failures.length > 0 || produce === undefined || receive === undefined || latency === undefined) throw failures[0];
  return { produce, receive, latency };
}

// ---- the suites ------------------------------------------------------------------------------------

export async function runWharf(options: WharfOptions): Promise<WharfResults> {
  const client = await WharfClient.connect({ servers: options.natsUrl, cluster: CLUSTER });
  try {
    // Throughput and latency on one node; the backlog on a fresh one, so its memory figures are
    // not those left behind by the earlier phases.
    const first = await startNode(options, CLUSTER, 'bench-1', 'main');
    const phases = await queuePhases(
      {
        client,
        cluster: CLUSTER,
        guard: guardFor([first]),
        pids: { node: first.pid, nats: options.natsPid },
        label: 'wharf',
        prefix: 'bench',
        // One copy, said explicitly: the default factor (3) would mean fewer copies only while the
        // cluster has fewer nodes.
        attributes: { partitions: options.partitions, replicationFactor: 1 },
        ready: async () => undefined, // a single node serves a queue as soon as CreateQueue answers
      },
      options,
    );
    await first.stop();

    const backlog = await backlogPhase(client, options);
    return { ...phases, backlog };
  } finally {
    await client.close();
  }
}

/**
 * Three nodes of one cluster on the benchmark's nats-server; per mode, the phases on queues with
 * replication factor 3. Never throws: what went wrong is in the runs it returns.
 */
export async function runWharfReplicated(options: WharfReplicatedOptions): Promise<ReplicatedRun[]> {
  const failedAll = (error: string) => options.modes.map((mode): ReplicatedRun => ({ mode, status: 'failed', error, results: {} }));
  let nodes: WharfNodeProcess[] = [];
  let client: WharfClient | undefined;
  try {
    const started = await Promise.allSettled(REPLICATED_NODES.map((id) => startNode(options, REPLICATED_CLUSTER, id, `r3-${id}`)));
    nodes = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    const failure = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failure !== undefined) return failedAll(`starting three nodes: ${messageOf(failure.reason)}`);
    const connected = await WharfClient.connect({ servers: options.natsUrl, cluster: REPLICATED_CLUSTER });
    client = connected;
    const pids = { ...Object.fromEntries(nodes.map((node) => [node.nodeId, node.pid])), nats: options.natsPid };
    const guard = guardFor(nodes);

    const runs: ReplicatedRun[] = [];
    for (const mode of options.modes) {
      const skipped = runs.find((r) => r.status === 'skipped');
      if (skipped !== undefined) {
        runs.push({ mode, status: 'skipped', reason: `as for ${skipped.mode}: ${skipped.reason}` });
        continue;
      }
      const setup: QueueSetup = {
        client: connected,
        cluster: REPLICATED_CLUSTER,
        guard,
        pids,
        label: `wharf R3 ${mode}`,
        prefix: `bench-r3-${mode}`,
        attributes: { partitions: options.partitions, replicationFactor: REPLICATION_FACTOR, replication: mode },
        ready: (queue) => waitUsable(options, queue, guard),
      };
      const done: Partial<WharfPhases> = {};
      try {
        runs.push({ mode, status: 'measured', results: await queuePhases(setup, options, done) });
      } catch (err) {
        if (err instanceof AttributesRejected) {
          const reason = `CreateQueue answered invalid_attribute (${err.message}): this build has no replicated queues yet`;
          options.log(`wharf R3 ${mode}: skipped: ${reason}`);
          runs.push({ mode, status: 'skipped', reason });
        } else {
          const error = replicatedFailure(err);
          options.log(`wharf R3 ${mode}: failed: ${error}`);
          runs.push({ mode, status: 'failed', error, results: done });
        }
      }
    }
    return runs;
  } catch (err) {
    return failedAll(messageOf(err));
  } finally {
    await client?.close();
    await Promise.all(nodes.map((n) => n.stop()));
  }
}

/**
 * A new replicated queue may answer `unavailable` until its partitions have primaries. Usable means
 * PROBE_SENDS sends in a row succeed (whichever nodes take them), then a purge empties the queue
 * again, both within `usableTimeoutMs`; the phases then count only their own messages.
 */
export async function waitUsable(options: Pick<WharfReplicatedOptions, 'natsUrl' | 'usableTimeoutMs' | 'log'>, queue: string, guard: Guard): Promise<void> {
  const probe = await WharfClient.connect({ servers: options.natsUrl, cluster: REPLICATED_CLUSTER, timeoutMs: 2_000, maxAttempts: 1 });
  const limit = options.usableTimeoutMs;
  const t0 = performance.now();
  try {
    let inARow = 0;
    const sent = async () => {
      try {
        await probe.sendMessage(queue, 'probe');
        inARow++;
      } catch (err) {
        inARow = 0;
        throw err;
      }
      return inARow >= PROBE_SENDS ? true : undefined;
    };
    await guard(pollUntil(sent, limit, `wharf: ${PROBE_SENDS} sends in a row to ${queue} succeeding`, 20), limit + 10_000, `wharf: ${queue} usable`);
    const remaining = Math.max(1_000, limit - (performance.now() - t0));
    // Purged rather than received and deleted: readiness should not depend on the delete path,
    // which the receive+delete phase measures (and whose failures it reports) on its own.
    const empty = async () => {
      await probe.purgeQueue(queue);
      const { counts } = await probe.getQueueAttributes(queue);
      const left = counts.approximateNumberOfMessages + counts.approximateNumberOfMessagesNotVisible + counts.approximateNumberOfMessagesDelayed;
      return left === 0 ? true : undefined;
    };
    await guard(pollUntil(empty, remaining, `wharf: ${queue} empty after the probes`, 50), remaining + 10_000, `wharf: ${queue} emptied`);
  } finally {
    await probe.close();
  }
  options.log(`wharf: ${queue} usable after ${Math.round(performance.now() - t0)} ms`);
}

/**
 * The message of a failed replicated run. queue_not_found right after CreateQueue succeeded (also
 * inside a bounded wait's message) means a node that does not know the queue answered: say so.
 */
function replicatedFailure(err: unknown): string {
  const message = messageOf(err);
  const notFound = (err instanceof WharfError && err.code === ErrorCode.QueueNotFound) || message.includes('does not exist');
  return notFound ? `${message} (a node other than the one that created the queue does not know it: the nodes do not share queue metadata)` : message;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** `send()` in a loop (of the fixed body, or what `sendOne` sends as message `i`), awaiting in chunks, then `flush()`. */
export async function produceMessages(
  client: WharfClient,
  queue: string,
  n: number,
  sendOne?: (i: number) => Promise<unknown>,
): Promise<Throughput> {
  const body = fixedBody();
  const t0 = performance.now();
  let pending: Array<Promise<unknown>> = [];
  for (let i = 0; i < n; i++) {
    pending.push(sendOne === undefined ? client.send(queue, body) : sendOne(i));
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
export async function receiveAndDelete(
  client: WharfClient,
  queue: string,
  n: number,
  options: Pick<WharfPhaseOptions, 'receiveLoops' | 'receiveBatch'>,
): Promise<Omit<WharfPhases['receive'], 'cpu'>> {
  let received = 0;
  let failedDeletes = 0;
  let firstFailure = '';
  const deletes: Array<Promise<void>> = [];
  const t0 = performance.now();
  const loop = async () => {
    while (received < n) {
      const messages = await client.receive(queue, { maxMessages: options.receiveBatch, waitTimeSeconds: 1 });
      if (messages.length === 0) continue;
      // A readiness probe that timed out at the client may still land later (a front-end holds it
      // while it waits for a primary): it is deleted with the rest but not counted.
      received += messages.filter((m) => m.body.byteLength === MESSAGE_BYTES).length;
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
  // Failed deletes first: their messages come back after the visibility timeout and inflate the count.
  if (failedDeletes > 0) throw new Error(`wharf: ${failedDeletes} deletes failed, first: ${firstFailure}`);
  if (received !== n) throw new Error(`wharf: received ${received} messages, expected ${n} (duplicates?)`);
  const left = await client.getQueueAttributes(queue);
  const { approximateNumberOfMessages: visible, approximateNumberOfMessagesNotVisible: inflight } = left.counts;
  if (visible + inflight !== 0) throw new Error(`wharf: queue ${queue} still holds ${visible} visible and ${inflight} in-flight messages`);
  return { ...throughput(n, elapsed), loops: options.receiveLoops, batch: options.receiveBatch };
}

export async function endToEndLatency(options: Pick<WharfPhaseOptions, 'natsUrl' | 'latency'>, cluster: string, queue: string): Promise<Omit<WharfPhases['latency'], 'cpu'>> {
  // Producer and consumer on connections of their own, as two services would be.
  const producer = await WharfClient.connect({ servers: options.natsUrl, cluster });
  const consumer = await WharfClient.connect({ servers: options.natsUrl, cluster });
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
  let node = await startNode(options, CLUSTER, 'bench-1', 'backlog');
  let guard = guardFor([node]);
  try {
    await client.createQueue(small, { partitions: options.partitions, replicationFactor: 1 });
    await client.createQueue(deep, { partitions: options.partitions, replicationFactor: 1 });
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
      node = await startNode(options, CLUSTER, 'bench-1', 'backlog');
      guard = guardFor([node]);
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
