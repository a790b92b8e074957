/**
 * `npm run bench:backlog`: does a node stay small and fast as its backlog grows? One node, one queue
 * (replication factor 1) filled with 1 KiB messages step by step to each size of BENCH_BACKLOG_SIZES;
 * at each size: the node's RSS, and single receive+delete pairs (receive p50/p99, delete p99) on
 * the full queue. After the largest size the node is killed with SIGKILL and started again on its
 * store: the time until it is ready and until the first receive, and its RSS then.
 *
 * Environment:
 *   BENCH_BACKLOG_SIZES   queued messages at each step, comma-separated    (0,100000,1000000)
 *   BENCH_PAIRS           receive+delete pairs measured per step            (200)
 *   BENCH_PARTITIONS      partitions of the queue                           (1)
 *   BENCH_KEEP=1          keep the temp dir (store and logs)
 *   WHARF_*               passed to the node
 */
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { WharfClient } from '../src/client/client.ts';
import { startNatsServer } from './nats.ts';
import { phaseTimeoutMs } from './pace.ts';
import { fmt, renderTable, summarize, type LatencySummary } from './stats.ts';
import { installSignalHandlers, intFromEnv, onCleanup, runBench } from './util.ts';
import { CLUSTER, guardFor, produceMessages, startWharfNode, type Guard, type MemorySample, type WharfNodeProcess } from './wharf.ts';

const QUEUE = 'backlog';
const log = (line: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`);

function sizesFromEnv(): number[] {
  const raw = process.env['BENCH_BACKLOG_SIZES'] ?? '0,100000,1000000';
  const sizes = raw.split(',').map((s) => Number(s.trim().replace(/_/g, '')));
  if (sizes.some((n) => !Number.isInteger(n) || n < 0)) throw new Error(`BENCH_BACKLOG_SIZES must be non-negative integers, got ${JSON.stringify(raw)}`);
  return [...new Set(sizes)].sort((a, b) => a - b);
}

interface Step {
  queued: number;
  fillPerSecond: number;
  memory: MemorySample;
  receive: LatencySummary;
  remove: LatencySummary;
}

/** `pairs` single receive+delete round trips; on an empty queue each is preceded by an untimed send. */
async function pairs(client: WharfClient, n: number, empty: boolean, guard: Guard): Promise<{ receive: number[]; remove: number[] }> {
  const receive: number[] = [];
  const remove: number[] = [];
  await guard(
    (async () => {
      for (let i = 0; i < n; i++) {
        if (empty) await client.sendMessage(QUEUE, 'probe');
        const t0 = performance.now();
        const [message] = await client.receive(QUEUE, { maxMessages: 1 });
        const t1 = performance.now();
        if (!message) throw new Error('backlog: a receive returned no message');
        await client.deleteMessage(QUEUE, message.receiptHandle);
        receive.push(t1 - t0);
        remove.push(performance.now() - t1);
      }
    })(),
    60_000 + n * 500,
    'receive+delete pairs',
  );
  return { receive, remove };
}

async function duSize(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += (await stat(join(entry.parentPath, entry.name)).catch(() => ({ size: 0 }))).size;
  }
  return total;
}

async function main(): Promise<void> {
  installSignalHandlers();
  const sizes = sizesFromEnv();
  const pairCount = intFromEnv('BENCH_PAIRS', 200);
  const partitions = intFromEnv('BENCH_PARTITIONS', 1);
  const dir = await mkdtemp(join(tmpdir(), 'wharf-bench-backlog-'));
  if (process.env['BENCH_KEEP'] !== '1') onCleanup('remove the temp dir', () => rm(dir, { recursive: true, force: true }));
  else log(`backlog: keeping ${dir}`);
  const nats = await startNatsServer(join(dir, 'nats'));
  onCleanup('stop nats-server', () => nats.stop());
  const dataDir = join(dir, 'node');
  const spec = { natsUrl: nats.url, cluster: CLUSTER, nodeId: 'bench-1', dataDir, logFile: join(dir, 'wharf.log') };
  let node: WharfNodeProcess = await startWharfNode(spec);
  let guard = guardFor([node]);
  const client = await WharfClient.connect({ servers: nats.url, cluster: CLUSTER });
  const load0 = loadavg();
  try {
    await client.createQueue(QUEUE, { partitions, replicationFactor: 1 });
    const steps: Step[] = [];
    let queued = 0;
    for (const size of sizes) {
      const add = size - queued;
      let fillPerSecond = 0;
      if (add > 0) {
        log(`backlog: filling ${add.toLocaleString('en-US')} messages to ${size.toLocaleString('en-US')}`);
        fillPerSecond = (await guard(produceMessages(client, QUEUE, add), phaseTimeoutMs(add), `fill to ${size}`)).perSecond;
        queued = size;
      }
      const depth = (await client.getQueueAttributes(QUEUE)).counts.approximateNumberOfMessages;
      if (depth !== queued) throw new Error(`backlog: the queue holds ${depth} messages, expected ${queued}`);
      const memory = await node.memory();
      log(`backlog: ${queued.toLocaleString('en-US')} queued, RSS ${memory.rssMb} MB; ${pairCount} receive+delete pairs`);
      const times = await pairs(client, pairCount, queued === 0, guard);
      // The pairs took messages from the backlog: top it up so the next step's count is exact.
      if (queued > 0) await produceMessages(client, QUEUE, pairCount);
      steps.push({ queued, fillPerSecond, memory, receive: summarize(times.receive), remove: summarize(times.remove) });
    }

    log('backlog: kill -9 and restart on the store');
    const storeBytes = await duSize(dataDir);
    process.kill(node.pid, 'SIGKILL');
    await node.died.catch(() => undefined);
    const t0 = performance.now();
    node = await startWharfNode(spec);
    guard = guardFor([node]);
    const readyMs = performance.now() - t0;
    const [first] = await guard(client.receive(QUEUE, { maxMessages: 1, waitTimeSeconds: 20 }), 120_000, 'first receive after the restart');
    const firstReceiveMs = performance.now() - t0;
    if (!first && queued > 0) throw new Error('backlog: no message received after the restart');
    if (first) await client.deleteMessage(QUEUE, first.receiptHandle);
    const restartMemory = await node.memory();
    const load1 = loadavg();

    const out = [
      `Backlog: 1 KiB messages, one node, ${partitions} partition(s), replication factor 1; ${pairCount} single receive+delete pairs per step`,
      renderTable(
        ['queued', 'fill msgs/s', 'RSS MB', 'peak RSS MB', 'receive p50', 'receive p99', 'delete p50', 'delete p99'],
        steps.map((s) => [
          s.queued.toLocaleString('en-US'),
          s.fillPerSecond === 0 ? '-' : s.fillPerSecond.toLocaleString('en-US'),
          String(s.memory.rssMb),
          String(s.memory.hwmMb),
          fmt(s.receive.p50, 'ms'),
          fmt(s.receive.p99, 'ms'),
          fmt(s.remove.p50, 'ms'),
          fmt(s.remove.p99, 'ms'),
        ]),
      ),
      `store on disk: ${(storeBytes / 2 ** 20).toFixed(0)} MiB for ${queued.toLocaleString('en-US')} messages`,
      `restart after kill -9 with ${queued.toLocaleString('en-US')} queued: ready after ${Math.round(readyMs)} ms (process start included), first receive after ${Math.round(firstReceiveMs)} ms, RSS ${restartMemory.rssMb} MB`,
      `load average before ${load0.map((l) => l.toFixed(2)).join(' ')}, after ${load1.map((l) => l.toFixed(2)).join(' ')} (2 cores, shared)`,
    ];
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    await client.close();
  }
}

await runBench(main);
