/**
 * The JetStream side: a work-queue stream (workqueue retention, file storage) driven with the
 * official v3 client, with one replica on the benchmark's nats-server or with three on a cluster
 * of three nats-servers (`replicas`, `servers`).
 *
 * (a) produce: async `js.publish` with a window of outstanding acks;
 * (b) receive+ack: a durable pull consumer with explicit acks, `consume()`, each message acked;
 * (c) end-to-end latency at a fixed rate, producer and consumer together.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import {
  AckPolicy,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type JetStreamClient,
  type JetStreamManager,
} from '@nats-io/jetstream';
import { summarize, throughput, type LatencySummary, type Throughput } from './stats.ts';
import { coresOf, cpuMeter, cpuTimeMeter, fixedBody, type CpuTime, nowMs, type CpuUse, pollUntil, sentAt, timestampedBody, Window, withTimeout } from './util.ts';
import { pacedRun, phaseTimeoutMs, type LatencyOptions } from './pace.ts';

export interface JetStreamOptions {
  /** Client URL(s): one server, or every server of a cluster. */
  servers: string | readonly string[];
  /** The nats-server processes whose CPU is measured, by the name the report shows. */
  pids: Record<string, number>;
  /** `num_replicas` of every stream. */
  replicas: number;
  /** Prefix of log lines, e.g. `jetstream R3`. */
  label: string;
  /** Also measure core publishes without acks (a reference for the R1 report; skipped for R3). */
  ingestReference: boolean;
  messages: number;
  publishWindow: number;
  fetchBatch: number;
  latency: LatencyOptions;
  log: (line: string) => void;
}

export interface JetStreamResults {
  produce: Throughput & { window: number; cpu: CpuUse };
  /**
   * Reference only: core NATS publishes into the stream with no per-message ack, timed until the
   * stream holds them all: the server's ingest ceiling without the client's request overhead.
   */
  ingestNoAck?: Throughput | { error: string };
  receive: Throughput & { batch: number; drainedMs: number; cpu: CpuUse };
  latency: LatencySummary & { rate: number; seconds: number; sent: number; drainMs: number; cpu: CpuUse };
}

const TP_STREAM = 'BENCH_TP';
const TP_SUBJECT = 'bench.tp';
const LAT_STREAM = 'BENCH_LAT';
const LAT_SUBJECT = 'bench.lat';

export async function runJetStream(options: JetStreamOptions): Promise<JetStreamResults> {
  const { label, replicas } = options;
  const log = (line: string) => options.log(`${label}: ${line}`);
  const nc = await connect({ servers: [options.servers].flat(), name: 'bench-jetstream' });
  try {
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);

    await createWorkQueue(jsm, TP_STREAM, TP_SUBJECT, replicas);
    log(`produce ${options.messages.toLocaleString('en-US')} messages (window ${options.publishWindow})`);
    let meter = await cpuMeter(options.pids);
    const produce = { ...(await produceThroughput(js, jsm, options)), cpu: await meter() };
    log(`produce ${produce.perSecond.toLocaleString('en-US')} msgs/s`);

    log(`receive+ack ${options.messages.toLocaleString('en-US')} messages (batch ${options.fetchBatch})`);
    meter = await cpuMeter(options.pids);
    const receive = { ...(await receiveThroughput(nc, js, jsm, options)), cpu: await meter() };
    log(`receive+ack ${receive.perSecond.toLocaleString('en-US')} msgs/s`);
    await jsm.streams.delete(TP_STREAM);

    const ingestNoAck = options.ingestReference ? await ingestReference(nc, jsm, options.messages, replicas, log) : undefined;

    await createWorkQueue(jsm, LAT_STREAM, LAT_SUBJECT, replicas);
    log(`end-to-end latency at ${options.latency.rate} msgs/s for ${options.latency.seconds} s`);
    meter = await cpuMeter(options.pids);
    const latency = { ...(await endToEndLatency(options)), cpu: await meter() };
    log(`e2e p50 ${latency.p50} ms, p99 ${latency.p99} ms`);
    await jsm.streams.delete(LAT_STREAM);

    return ingestNoAck === undefined ? { produce, receive, latency } : { produce, ingestNoAck, receive, latency };
  } finally {
    await nc.close().catch(() => undefined);
  }
}

/** Produce and receive+ack only, on the throughput stream (bench/focus.ts). */
export async function runJetStreamThroughput(
  options: Omit<JetStreamOptions, 'ingestReference' | 'latency'>,
): Promise<{ produce: JetStreamResults['produce']; receive: JetStreamResults['receive'] & { cpuTime: CpuTime } }> {
  const log = (line: string) => options.log(`${options.label}: ${line}`);
  const nc = await connect({ servers: [options.servers].flat(), name: 'bench-jetstream' });
  try {
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    await createWorkQueue(jsm, TP_STREAM, TP_SUBJECT, options.replicas);
    let meter = await cpuMeter(options.pids);
    const produce = { ...(await produceThroughput(js, jsm, options)), cpu: await meter() };
    log(`produce ${produce.perSecond.toLocaleString('en-US')} msgs/s`);
    const time = await cpuTimeMeter(options.pids);
    const received = await receiveThroughput(nc, js, jsm, options);
    const cpuTime = await time();
    const receive = { ...received, cpu: coresOf(cpuTime), cpuTime };
    log(`receive+ack ${receive.perSecond.toLocaleString('en-US')} msgs/s`);
    await jsm.streams.delete(TP_STREAM);
    return { produce, receive };
  } finally {
    await nc.close().catch(() => undefined);
  }
}

async function createWorkQueue(jsm: JetStreamManager, name: string, subject: string, replicas: number): Promise<void> {
  await jsm.streams.delete(name).catch(() => false);
  const info = await jsm.streams.add({
    name,
    subjects: [subject],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    num_replicas: replicas,
  });
  // A server that is not clustered would quietly answer for fewer copies than the comparison claims.
  const copies = 1 + (info.cluster?.replicas?.length ?? 0);
  if (info.config.num_replicas !== replicas || (replicas > 1 && copies !== replicas)) {
    throw new Error(`stream ${name}: asked for ${replicas} replicas, got num_replicas ${info.config.num_replicas} with ${copies} copies placed`);
  }
}

/** The ingest reference, bounded; a failure is reported in the results rather than failing the run. */
async function ingestReference(
  nc: NatsConnection,
  jsm: JetStreamManager,
  n: number,
  replicas: number,
  log: (line: string) => void,
): Promise<Throughput | { error: string }> {
  log('reference: core publishes into a stream, no per-message ack');
  const ingest = withTimeout(ingestWithoutAcks(nc, jsm, n, replicas), phaseTimeoutMs(n), 'jetstream ingest');
  const result = await ingest.catch((err: unknown) => ({ error: err instanceof Error ? err.message : String(err) }));
  if ('perSecond' in result) log(`ingest without acks ${result.perSecond.toLocaleString('en-US')} msgs/s`);
  else log(`ingest without acks failed: ${result.error}`);
  return result;
}

async function produceThroughput(
  js: JetStreamClient,
  jsm: JetStreamManager,
  options: Pick<JetStreamOptions, 'messages' | 'publishWindow' | 'label'>,
): Promise<Omit<JetStreamResults['produce'], 'cpu'>> {
  const n = options.messages;
  const body = fixedBody();
  const window = new Window(options.publishWindow);
  const t0 = performance.now();
  await withTimeout(
    (async () => {
      for (let i = 0; i < n; i++) {
        await window.acquire();
        window.track(js.publish(TP_SUBJECT, body));
      }
      await window.drain(phaseTimeoutMs(n), `${options.label} publish`);
    })(),
    phaseTimeoutMs(n),
    `${options.label} produce`,
  );
  const elapsed = performance.now() - t0;
  const info = await jsm.streams.info(TP_STREAM);
  if (info.state.messages !== n) {
    throw new Error(`${options.label}: stream ${TP_STREAM} holds ${info.state.messages} messages after publishing ${n}`);
  }
  return { ...throughput(n, elapsed), window: options.publishWindow };
}

async function ingestWithoutAcks(nc: NatsConnection, jsm: JetStreamManager, n: number, replicas: number): Promise<Throughput> {
  const stream = 'BENCH_INGEST';
  const subject = 'bench.ingest';
  await createWorkQueue(jsm, stream, subject, replicas);
  try {
    const body = fixedBody();
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      nc.publish(subject, body);
      if (i % 1000 === 999) await nc.flush(); // bounds the client's outbound buffer
    }
    await nc.flush();
    await pollUntil(
      async () => ((await jsm.streams.info(stream)).state.messages >= n ? true : undefined),
      phaseTimeoutMs(n),
      `jetstream: stream ${stream} holding all ${n} messages published without acks`,
      10,
    );
    return throughput(n, performance.now() - t0);
  } finally {
    await jsm.streams.delete(stream).catch(() => false);
  }
}

async function receiveThroughput(
  nc: NatsConnection,
  js: JetStreamClient,
  jsm: JetStreamManager,
  options: Pick<JetStreamOptions, 'messages' | 'fetchBatch' | 'label'>,
): Promise<Omit<JetStreamResults['receive'], 'cpu'>> {
  const n = options.messages;
  await jsm.consumers.add(TP_STREAM, {
    durable_name: 'bench',
    ack_policy: AckPolicy.Explicit,
    max_ack_pending: 20_000,
  });
  const consumer = await js.consumers.get(TP_STREAM, 'bench');

  let count = 0;
  let finish = () => {};
  const done = new Promise<void>((resolve) => (finish = resolve));
  const t0 = performance.now();
  const messages = await consumer.consume({
    max_messages: options.fetchBatch,
    callback: (m) => {
      m.ack();
      if (++count === n) finish();
    },
  });
  await withTimeout(done, phaseTimeoutMs(n), () => `${options.label} receive+ack (${count} of ${n} received)`);
  await nc.flush(); // every ack has reached the server
  const elapsed = performance.now() - t0;
  await messages.close();

  // Workqueue retention removes acknowledged messages: wait until the server has applied the acks.
  const drainedMs = await pollUntil(
    async () => ((await jsm.streams.info(TP_STREAM)).state.messages === 0 ? performance.now() - t0 : undefined),
    30_000,
    `${options.label}: stream ${TP_STREAM} empty after acks`,
    20,
  );
  return { ...throughput(n, elapsed), batch: options.fetchBatch, drainedMs: Math.round(drainedMs) };
}

async function endToEndLatency(options: JetStreamOptions): Promise<Omit<JetStreamResults['latency'], 'cpu'>> {
  // Producer and consumer on connections of their own, as two services would be.
  const servers = [options.servers].flat();
  const pnc = await connect({ servers, name: 'bench-jetstream-producer' });
  const cnc = await connect({ servers, name: 'bench-jetstream-consumer' });
  try {
    const jsm = await jetstreamManager(cnc);
    await jsm.consumers.add(LAT_STREAM, { durable_name: 'lat', ack_policy: AckPolicy.Explicit });
    const consumer = await jetstream(cnc).consumers.get(LAT_STREAM, 'lat');
    const pjs = jetstream(pnc);

    const samples: number[] = [];
    let received = 0;
    let measureFrom = Number.POSITIVE_INFINITY;
    const messages = await consumer.consume({
      max_messages: 100,
      callback: (m) => {
        const t = nowMs();
        const sent = sentAt(m.data);
        if (sent !== undefined && sent >= measureFrom) samples.push(t - sent);
        received++;
        m.ack();
      },
    });

    let failure: unknown;
    const run = await pacedRun(options.latency, (start) => (measureFrom = start), () => {
      pjs.publish(LAT_SUBJECT, timestampedBody()).catch((err: unknown) => (failure ??= err));
    });
    const lastSend = performance.now();
    if (failure !== undefined) throw failure;
    await pollUntil(
      async () => (received >= run.sent ? true : undefined),
      120_000,
      `${options.label} latency: all ${run.sent} messages received (${received} so far)`,
      5,
    );
    const drainMs = Math.round(performance.now() - lastSend);
    await messages.close();
    if (failure !== undefined) throw failure;
    return { ...summarize(samples), rate: options.latency.rate, seconds: options.latency.seconds, sent: run.sent, drainMs };
  } finally {
    await pnc.close().catch(() => undefined);
    await cnc.close().catch(() => undefined);
  }
}
