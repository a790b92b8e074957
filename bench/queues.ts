/**
 * `npm run bench:queues`: what many queues cost a node, for the scale model (docs/scaling.md). One
 * node; BENCH_QUEUES queues (one partition, replication factor 1) created one after the other. Prints
 * the node's RSS before and after (per queue), the CreateQueue round trip, and the size of the node's
 * heartbeat (it carries a report per replica) before and after.
 *
 * Environment:
 *   BENCH_QUEUES   queues created (500)
 *   BENCH_KEEP=1   keep the temp dir (store and logs)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { WharfClient } from '../src/client/client.ts';
import { subjects } from '../src/protocol/subjects.ts';
import { clusterName } from '../src/names.ts';
import { startNatsServer } from './nats.ts';
import { fmt, summarize } from './stats.ts';
import { installSignalHandlers, onCleanup, runBench } from './util.ts';
import { CLUSTER, startWharfNode } from './wharf.ts';

const log = (line: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${line}\n`);

async function main(): Promise<void> {
  installSignalHandlers();
  const count = Number(process.env['BENCH_QUEUES'] ?? 500);
  if (!Number.isInteger(count) || count < 1) throw new Error('BENCH_QUEUES must be a positive integer');
  const dir = await mkdtemp(join(tmpdir(), 'wharf-bench-queues-'));
  if (process.env['BENCH_KEEP'] !== '1') onCleanup('remove the temp dir', () => rm(dir, { recursive: true, force: true }));
  const nats = await startNatsServer(join(dir, 'nats'));
  onCleanup('stop nats-server', () => nats.stop());
  const node = await startWharfNode({ natsUrl: nats.url, cluster: CLUSTER, nodeId: 'bench-1', dataDir: join(dir, 'node'), logFile: join(dir, 'wharf.log') });
  const client = await WharfClient.connect({ servers: nats.url, cluster: CLUSTER });
  const nc = await connect({ servers: nats.url });
  let lastHeartbeat = 0;
  const sub = nc.subscribe(subjects(clusterName(CLUSTER)).heartbeat('bench-1'), {
    callback: (_err, msg) => {
      lastHeartbeat = msg.data.byteLength;
    },
  });
  try {
    const load0 = loadavg();
    // One queue first, so the per-queue figures leave out what the first queue starts once.
    await client.createQueue('q-0', { replicationFactor: 1 });
    await new Promise((r) => setTimeout(r, 2000));
    const before = await node.memory();
    const heartbeatBefore = lastHeartbeat;
    const creates: number[] = [];
    for (let i = 1; i <= count; i++) {
      const t0 = performance.now();
      await client.createQueue(`q-${i}`, { replicationFactor: 1 });
      creates.push(performance.now() - t0);
      if (i % 100 === 0) log(`queues: ${i} created`);
    }
    await new Promise((r) => setTimeout(r, 2000));
    const after = await node.memory();
    const heartbeatAfter = lastHeartbeat;
    const c = summarize(creates);
    const out = [
      `Queues: ${count} queues (1 partition, replication factor 1) created on one node, one after the other`,
      `RSS ${before.rssMb} MB -> ${after.rssMb} MB: ${(((after.rssMb - before.rssMb) * 1024) / count).toFixed(1)} KiB per queue`,
      `CreateQueue p50 ${fmt(c.p50, 'ms')} ms, p99 ${fmt(c.p99, 'ms')} ms`,
      `heartbeat ${heartbeatBefore} B -> ${heartbeatAfter} B: ${((heartbeatAfter - heartbeatBefore) / count).toFixed(0)} B per replica`,
      `load average before ${load0.map((l) => l.toFixed(2)).join(' ')}, after ${loadavg().map((l) => l.toFixed(2)).join(' ')} (2 cores, shared)`,
    ];
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    sub.unsubscribe();
    await nc.close();
    await client.close();
  }
}

await runBench(main);
