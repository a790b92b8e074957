/**
 * Delays and time-window ordering, on one Wharf node (a child process, as in bench/wharf.ts):
 *
 *   (a) delayed-message scheduling: N messages (1,000,000 in a full run) sent with delays of
 *       D0 + (i mod S) seconds, so they come due spread over S seconds while later ones are still
 *       being scheduled. Measured: time to schedule (all sends acknowledged), the node's RSS with
 *       every message delayed, and the accuracy of release: when each message was received minus the
 *       time it was due (send time at the client + its delay), over every message.
 *   (b) time-window ordering: producers whose messages take a random path delay (0–J ms) to reach
 *       the queue, received by one consumer; for ordering `arrival` and a few windows W: the
 *       disorder (messages received after one produced later, and by how much) against the latency
 *       (receive time minus production time).
 *
 * `npm run bench` runs both after its other sections; `node --import tsx bench/delays.ts` runs only
 * these (with BENCH_QUICK, BENCH_DELAYED, BENCH_DELAY_SPREAD as below).
 *
 *   BENCH_DELAYED          delayed messages of (a)                   (1,000,000; quick 50,000)
 *   BENCH_DELAY_SPREAD     seconds over which they come due, S       (120; quick 20)
 *   BENCH_DELAY_FIRST      the first delay, D0, s                    (60; quick 5): the accuracy
 *                          figures measure the scheduler only when scheduling ends before D0
 *   BENCH_ORDER_RATE       messages/s of (b), all producers          (2,000)
 *   BENCH_ORDER_SECONDS    seconds of each (b) run                   (5; quick 3)
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { WharfClient } from '../src/client/client.ts';
import type { ReceivedMessage } from '../src/protocol/messages.ts';
import { startNatsServer } from './nats.ts';
import { fmt, renderTable, summarize, throughput, type LatencySummary, type Throughput } from './stats.ts';
import { installSignalHandlers, nowMs, onCleanup, runCleanups } from './util.ts';
import { startWharfNode, type MemorySample, type WharfNodeProcess } from './wharf.ts';

const CLUSTER = 'bench-delays';

const RECEIVE_LOOPS = 8;
const RECEIVE_BATCH = 500;
const SEND_CHUNK = 20_000;

export interface DelayOptions {
  natsUrl: string;
  dir: string;
  messages: number;
  spreadSeconds: number;
  firstDelaySeconds: number;
  order: { rate: number; seconds: number; jitterMs: number; windows: number[] };
  log: (line: string) => void;
}

export interface DelayResults {
  schedule: Throughput & { rssMb: MemorySample };
  release: { received: number; lateMs: LatencySummary; withinOneSecond: number; early: number };
  ordering: OrderingRun[];
}

export interface OrderingRun {
  /** 0 for ordering `arrival`. */
  windowMs: number;
  messages: number;
  /** Messages received after one produced later than them. */
  outOfOrder: number;
  /** How far (ms of production time) behind the latest produced already received they came: the worst. */
  maxDisorderMs: number;
  latencyMs: LatencySummary;
}

export async function runDelays(options: DelayOptions): Promise<DelayResults> {
  await mkdir(options.dir, { recursive: true });
  const node = await startWharfNode({
    natsUrl: options.natsUrl,
    cluster: CLUSTER,
    nodeId: 'd1',
    dataDir: join(options.dir, 'd1'),
    logFile: join(options.dir, 'wharf-delays.log'),
  });
  const client = await WharfClient.connect({ servers: options.natsUrl, cluster: CLUSTER, timeoutMs: 60_000 });
  try {
    const { schedule, release } = await scheduling(client, node, options);
    const ordering: OrderingRun[] = [];
    for (const windowMs of options.order.windows) ordering.push(await orderingRun(client, options, windowMs));
    return { schedule, release, ordering };
  } finally {
    await client.close();
    await node.stop();
  }
}

/** (a): schedule N delayed messages, then receive every one as it comes due. */
async function scheduling(client: WharfClient, node: WharfNodeProcess, options: DelayOptions): Promise<Pick<DelayResults, 'schedule' | 'release'>> {
  const queue = 'delayed';
  await client.createQueue(queue, { retentionPeriod: 86_400, visibilityTimeout: 300 });
  const n = options.messages;
  const body = new Uint8Array(64);
  options.log(`delays: scheduling ${n.toLocaleString('en-US')} messages due over ${options.spreadSeconds} s`);
  const t0 = performance.now();
  let pending: Array<Promise<unknown>> = [];
  for (let i = 0; i < n; i++) {
    const delaySeconds = options.firstDelaySeconds + (i % options.spreadSeconds);
    // The body carries the delay: the message is due at its sentAt (stamped by the node that took
    // it, on this machine's clock) plus the delay. The client's own send time would count the time it
    // waited in the client's batcher as lateness.
    const b = body.slice();
    new DataView(b.buffer).setUint32(0, delaySeconds);
    pending.push(client.send(queue, b, { delaySeconds }));
    if (pending.length >= SEND_CHUNK) {
      await Promise.all(pending);
      pending = [];
    }
  }
  await Promise.all(pending);
  await client.flush();
  const scheduled = throughput(n, performance.now() - t0);
  const rssMb = await node.memory();
  options.log(`delays: scheduled in ${scheduled.seconds} s (${scheduled.perSecond}/s), node RSS ${rssMb.rssMb} MB`);

  const late: number[] = [];
  let early = 0;
  const deletes: Array<Promise<unknown>> = [];
  const deadline = performance.now() + (options.firstDelaySeconds + options.spreadSeconds) * 1000 + Math.max(120_000, n / 20);
  const loop = async () => {
    while (late.length < n && performance.now() < deadline) {
      const messages: ReceivedMessage[] = await client.receive(queue, { maxMessages: RECEIVE_BATCH, waitTimeSeconds: 1 });
      const at = nowMs();
      for (const m of messages) {
        const due = m.sentAt + new DataView(m.body.buffer, m.body.byteOffset, m.body.byteLength).getUint32(0) * 1000;
        if (at < due) early++;
        late.push(at - due);
      }
      if (messages.length > 0) deletes.push(client.deleteMessageBatch(queue, messages.map((m, i) => ({ id: String(i), receiptHandle: m.receiptHandle }))));
    }
  };
  await Promise.all(Array.from({ length: RECEIVE_LOOPS }, loop));
  await Promise.all(deletes);
  if (late.length < n) throw new Error(`delays: received ${late.length} of ${n} delayed messages`);
  const withinOneSecond = late.filter((ms) => ms <= 1000).length / late.length;
  return { schedule: { ...scheduled, rssMb }, release: { received: late.length, lateMs: summarize(late), withinOneSecond, early } };
}

/** (b): one ordering setting, `windowMs` 0 meaning ordering `arrival`. */
async function orderingRun(client: WharfClient, options: DelayOptions, windowMs: number): Promise<OrderingRun> {
  const queue = `order-${windowMs}`;
  await client.createQueue(queue, windowMs === 0 ? {} : { ordering: 'timeWindow', orderingWindowMs: windowMs });
  const { rate, seconds, jitterMs } = options.order;
  const n = rate * seconds;
  options.log(`ordering: ${windowMs === 0 ? 'arrival' : `time window ${windowMs} ms`}, ${n} messages, path delays 0-${jitterMs} ms`);
  const receivedProduced: number[] = [];
  const latency: number[] = [];
  const deletes: Array<Promise<unknown>> = [];
  const consumer = (async () => {
    const stopAt = performance.now() + (seconds + 30) * 1000 + windowMs;
    while (receivedProduced.length < n && performance.now() < stopAt) {
      const messages = await client.receive(queue, { maxMessages: 100, waitTimeSeconds: 1 });
      const at = nowMs();
      for (const m of messages) {
        const producedAt = new DataView(m.body.buffer, m.body.byteOffset, m.body.byteLength).getFloat64(0);
        receivedProduced.push(producedAt);
        latency.push(at - producedAt);
      }
      if (messages.length > 0) deletes.push(client.deleteMessageBatch(queue, messages.map((m, i) => ({ id: String(i), receiptHandle: m.receiptHandle }))));
    }
  })();
  const sends: Array<Promise<unknown>> = [];
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const due = t0 + (i / rate) * 1000;
    const wait = due - performance.now();
    if (wait > 1) await delay(wait);
    // Whole ms, as the queue orders them: messages produced in the same ms are not counted as disorder.
    const producedAt = Math.floor(nowMs());
    const body = new Uint8Array(64);
    new DataView(body.buffer).setFloat64(0, producedAt);
    // The path delay: the message reaches Wharf a random 0-J ms after it was produced.
    sends.push(delay(Math.random() * jitterMs).then(() => client.send(queue, body, { producedAt })));
  }
  await Promise.all(sends);
  await client.flush();
  await consumer;
  await Promise.all(deletes);
  let latest = -Infinity;
  let outOfOrder = 0;
  let maxDisorderMs = 0;
  for (const p of receivedProduced) {
    if (p < latest) {
      outOfOrder++;
      maxDisorderMs = Math.max(maxDisorderMs, latest - p);
    } else latest = p;
  }
  return { windowMs, messages: receivedProduced.length, outOfOrder, maxDisorderMs: Math.round(maxDisorderMs), latencyMs: summarize(latency) };
}

export function reportDelays(r: DelayResults, options: Pick<DelayOptions, 'messages' | 'spreadSeconds' | 'firstDelaySeconds' | 'order'>): string[] {
  const FIRST_DELAY_S = options.firstDelaySeconds;
  const out: string[] = [];
  out.push('');
  out.push(
    `Delayed messages: ${options.messages.toLocaleString('en-US')} scheduled (64-byte bodies, delays ${FIRST_DELAY_S}-${FIRST_DELAY_S + options.spreadSeconds - 1} s) ` +
      `in ${r.schedule.seconds} s (${fmt(r.schedule.perSecond, 'count')}/s); node RSS with all of them delayed ${r.schedule.rssMb.rssMb} MB.`,
  );
  out.push(
    `Release accuracy (received minus due, that is the node's sentAt plus the delay, every message, ${RECEIVE_LOOPS} long-poll receive loops): p50 ${fmt(r.release.lateMs.p50, 'ms')} ms, ` +
      `p99 ${fmt(r.release.lateMs.p99, 'ms')} ms, max ${fmt(r.release.lateMs.max, 'ms')} ms; ${(r.release.withinOneSecond * 100).toFixed(2)} % within 1 s; ` +
      `${r.release.early} received before their due time.`,
  );
  if (r.schedule.seconds > FIRST_DELAY_S) {
    out.push(
      `Warning: scheduling took longer than the first delay (${FIRST_DELAY_S} s): messages came due while others were still being sent, ` +
        'and the lateness above includes the receivers falling behind. Raise BENCH_DELAY_FIRST for a figure of the scheduler alone.',
    );
  }
  out.push('');
  out.push(
    `Ordering: ${fmt(options.order.rate, 'count')} messages/s for ${options.order.seconds} s, each reaching the queue 0-${options.order.jitterMs} ms ` +
      '(uniform) after it was produced; one partition, one consumer:',
  );
  out.push(
    renderTable(
      ['ordering', 'messages', 'out of order', 'worst disorder ms', 'latency p50 ms', 'latency p99 ms'],
      r.ordering.map((o) => [
        o.windowMs === 0 ? 'arrival' : `timeWindow ${o.windowMs} ms`,
        fmt(o.messages, 'count'),
        `${fmt(o.outOfOrder, 'count')} (${((o.outOfOrder / Math.max(1, o.messages)) * 100).toFixed(1)} %)`,
        fmt(o.maxDisorderMs, 'count'),
        fmt(o.latencyMs.p50, 'ms'),
        fmt(o.latencyMs.p99, 'ms'),
      ]),
    ),
  );
  return out;
}

export function delayOptionsFromEnv(quick: boolean, natsUrl: string, dir: string, log: (line: string) => void): DelayOptions {
  const int = (name: string, fallback: number) => {
    const raw = process.env[name];
    const n = raw === undefined || raw === '' ? fallback : Number(raw.replace(/_/g, ''));
    if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer`);
    return n;
  };
  return {
    natsUrl,
    dir,
    messages: int('BENCH_DELAYED', quick ? 50_000 : 1_000_000),
    spreadSeconds: int('BENCH_DELAY_SPREAD', quick ? 20 : 120),
    firstDelaySeconds: int('BENCH_DELAY_FIRST', quick ? 5 : 60),
    order: { rate: int('BENCH_ORDER_RATE', 2000), seconds: int('BENCH_ORDER_SECONDS', quick ? 3 : 5), jitterMs: 100, windows: [0, 50, 200, 1000] },
    log,
  };
}

// Run alone: node --import tsx bench/delays.ts
if (import.meta.url === `file://${process.argv[1]}`) {
  installSignalHandlers();
  const log = (line: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`);
  const quick = process.env['BENCH_QUICK'] === '1' || process.env['BENCH_QUICK'] === 'true';
  try {
    const dir = await mkdtemp(join(tmpdir(), 'wharf-bench-delays-'));
    onCleanup('remove the temp dir', () => rm(dir, { recursive: true, force: true }));
    const nats = await startNatsServer(join(dir, 'nats'));
    onCleanup('stop nats-server', () => nats.stop());
    const options = delayOptionsFromEnv(quick, nats.url, dir, log);
    const results = await runDelays(options);
    process.stdout.write(`${reportDelays(results, options).join('\n')}\n`);
    process.stdout.write(`${JSON.stringify(results)}\n`);
  } catch (err) {
    process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  } finally {
    await runCleanups();
  }
  process.exit(process.exitCode ?? 0);
}
