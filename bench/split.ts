/**
 * A queue split over two clusters against a queue on one, in the same run (docs/clusters.md): two
 * Wharf clusters of one node each (child processes, as in bench/wharf.ts) on one nats-server, one
 * deployment, an external manager in this process, and the DeploymentClient routing. Each queue gets
 * BENCH_SPLIT_MESSAGES sends of 1 KiB (the SDK's batching send, a bounded window in flight), then is
 * drained by receivers that delete what they get. Printed: messages/s of each phase.
 *
 *   npm run bench:split              BENCH_SPLIT_MESSAGES (20,000), BENCH_SPLIT_WINDOW (2,000)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { pino } from 'pino';
import { DeploymentClient } from '../src/client/deployment-client.ts';
import { startExternalManager } from '../src/deployment/external-manager.ts';
import { DeploymentMetadata } from '../src/meta/deployment-metadata.ts';
import { startNatsServer } from './nats.ts';
import { fmt, renderTable, throughput, type Throughput } from './stats.ts';
import { fixedBody, installSignalHandlers, nowMs, onCleanup, pollUntil, runCleanups } from './util.ts';
import { startWharfNode } from './wharf.ts';

const DEPLOYMENT = 'bench-split';
const CLUSTERS = ['bench-split-a', 'bench-split-b'];
const MESSAGES = Number(process.env['BENCH_SPLIT_MESSAGES'] ?? 20_000);
const WINDOW = Number(process.env['BENCH_SPLIT_WINDOW'] ?? 2_000);
const RECEIVERS = 8;

async function produce(client: DeploymentClient, queue: string): Promise<Throughput> {
  const body = fixedBody();
  const start = nowMs();
  const inFlight = new Set<Promise<unknown>>();
  for (let i = 0; i < MESSAGES; i++) {
    if (inFlight.size >= WINDOW) await Promise.race(inFlight);
    const p: Promise<unknown> = client.send(queue, body).finally(() => inFlight.delete(p));
    inFlight.add(p);
  }
  await Promise.all(inFlight);
  return throughput(MESSAGES, nowMs() - start);
}

async function consume(client: DeploymentClient, queue: string): Promise<Throughput> {
  const start = nowMs();
  let received = 0;
  await Promise.all(
    Array.from({ length: RECEIVERS }, async () => {
      while (received < MESSAGES) {
        const messages = await client.receive(queue, { maxMessages: 100, waitTimeSeconds: 1, visibilityTimeout: 60 });
        received += messages.length;
        if (messages.length > 0) await client.deleteMessageBatch(queue, messages.map((m, i) => ({ id: String(i), receiptHandle: m.receiptHandle })));
      }
    }),
  );
  return throughput(received, nowMs() - start);
}

async function main(): Promise<void> {
  installSignalHandlers();
  const dir = await mkdtemp(join(tmpdir(), 'wharf-bench-split-'));
  onCleanup('remove the bench directory', () => rm(dir, { recursive: true, force: true }));
  const nats = await startNatsServer(join(dir, 'nats'));
  onCleanup('stop nats-server', () => nats.stop());
  for (const cluster of CLUSTERS) {
    await startWharfNode({
      natsUrl: nats.url,
      cluster,
      nodeId: 'n1',
      dataDir: join(dir, cluster),
      logFile: join(dir, `${cluster}.log`),
      env: { WHARF_DEPLOYMENT: DEPLOYMENT, WHARF_CLUSTER_REPORT_MS: '200', WHARF_HTTP_PORT: '0' },
    });
  }
  const nc = await connect({ servers: nats.url });
  const metadata = await DeploymentMetadata.open(nc, DEPLOYMENT);
  const manager = await startExternalManager({ nc, metadata, instanceId: 'bench', log: pino({ level: 'silent' }), options: { leaseTimeoutMs: 1000 } });
  onCleanup('stop the external manager', async () => {
    await manager.stop();
    await metadata.close();
    await nc.close();
  });
  await pollUntil(async () => (CLUSTERS.every((c) => metadata.cluster(c)?.value.health === 'healthy') && manager.isActive() ? true : undefined), 60_000, 'both clusters healthy');
  const client = await DeploymentClient.connect({ servers: nats.url, deployment: DEPLOYMENT, timeoutMs: 60_000 });
  onCleanup('close the client', () => client.close());

  const rows: string[][] = [];
  for (const [queue, parts] of [['one', 1], ['split', 2]] as const) {
    await client.createQueue(queue, { partitions: 2, replicationFactor: 1 });
    if (parts > 1) await client.split(queue, parts);
    const sent = await produce(client, queue);
    const received = await consume(client, queue);
    rows.push([`${queue} (${parts} cluster${parts > 1 ? 's' : ''})`, fmt(sent.perSecond, 'count'), fmt(received.perSecond, 'count'), String(received.messages)]);
    process.stdout.write(`${queue}: produce ${sent.perSecond} msgs/s, consume+delete ${received.perSecond} msgs/s\n`);
  }
  process.stdout.write(`\n${MESSAGES} messages of 1 KiB per queue, send window ${WINDOW}, ${RECEIVERS} receivers; each cluster one node, 2 partitions\n`);
  process.stdout.write(`${renderTable(['queue', 'produce msgs/s', 'consume+delete msgs/s', 'received'], rows)}\n`);
}

main()
  .catch((err: unknown) => {
    process.stderr.write(`bench:split failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  })
  .finally(() => runCleanups());
