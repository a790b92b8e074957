/**
 * The two back-end models side by side (docs/models.md): three Wharf nodes as a primary–secondary
 * cluster (WHARF_CLUSTER_MODEL=primary) and three as a cluster of independent hosts
 * (WHARF_CLUSTER_MODEL=hosts), one after the other on the same nats-server, each with one queue of
 * three partitions (one shard per host), replication factor 3, in sync and async mode. Measured per
 * model and mode: N sends (the SDK routes each to its partition's writer), then N receives and
 * batch deletes, as in bench/wharf.ts.
 *
 * `npm run bench:hosts`. BENCH_QUICK=1: fewer messages. BENCH_HOSTS_MESSAGES overrides the count.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WharfClient } from '../src/client/client.ts';
import type { ClusterModel } from '../src/meta/records.ts';
import { startNatsServer } from './nats.ts';
import { renderTable, type Throughput } from './stats.ts';
import { installSignalHandlers, onCleanup, pollUntil, runCleanups } from './util.ts';
import { produceMessages, receiveAndDelete, startWharfNode, type WharfNodeProcess } from './wharf.ts';

const MODELS: readonly ClusterModel[] = ['primary', 'hosts'];
const MODES = ['sync', 'async'] as const;
const NODES = ['n1', 'n2', 'n3'];
const quick = process.env['BENCH_QUICK'] === '1';
const messages = Number(process.env['BENCH_HOSTS_MESSAGES'] ?? (quick ? 5_000 : 50_000));

type Row = { model: ClusterModel; mode: (typeof MODES)[number] } & ({ send: Throughput; receive: Throughput } | { error: string });

async function runModel(model: ClusterModel, natsUrl: string, dir: string, log: (s: string) => void): Promise<Row[]> {
  const cluster = `bench-${model}`;
  const nodes: WharfNodeProcess[] = await Promise.all(
    NODES.map((nodeId) =>
      startWharfNode({
        natsUrl,
        cluster,
        nodeId,
        dataDir: join(dir, `${model}-${nodeId}`),
        logFile: join(dir, `${model}-${nodeId}.log`),
        env: { WHARF_CLUSTER_MODEL: model },
      }),
    ),
  );
  const client = await WharfClient.connect({ servers: natsUrl, cluster });
  const rows: Row[] = [];
  try {
    for (const mode of MODES) {
      try {
        rows.push({ model, mode, ...(await measure(client, `bench-${model}-${mode}`, mode, log)) });
      } catch (err) {
        // One failed run (under load a lease can lapse mid-write: `timeout`) is reported, the others still run.
        const error = err instanceof Error ? err.message : String(err);
        log(`${model} ${mode}: failed: ${error}`);
        rows.push({ model, mode, error });
      }
    }
  } finally {
    await client.close();
    await Promise.all(nodes.map((n) => n.stop()));
  }
  return rows;
}

async function measure(client: WharfClient, queue: string, mode: (typeof MODES)[number], log: (s: string) => void): Promise<{ send: Throughput; receive: Throughput }> {
  await pollUntil(
    async () => (await client.createQueue(queue, { partitions: 3, replicationFactor: 3, replication: mode }).then(() => true, () => undefined)),
    60_000,
    `${queue} created`,
    200,
  );
  // Usable: sends in a row land (the SDK spreads them over the partitions' writers).
  let inARow = 0;
  const probe = async () => {
    inARow = await client.sendMessage(queue, 'probe').then(() => inARow + 1, () => 0);
    return inARow >= 10 ? true : undefined;
  };
  await pollUntil(probe, 60_000, `${queue} usable`, 50);
  await client.purgeQueue(queue);
  log(`${queue}: sending ${messages}`);
  const send = await produceMessages(client, queue, messages);
  log(`${queue}: receiving ${messages}`);
  const receive = await receiveAndDelete(client, queue, messages, { receiveLoops: 8, receiveBatch: 100 });
  return { send, receive: { messages: receive.messages, seconds: receive.seconds, perSecond: receive.perSecond } };
}

async function main(): Promise<void> {
  installSignalHandlers();
  const dir = await mkdtemp(join(tmpdir(), 'wharf-bench-hosts-'));
  onCleanup('remove the bench directory', () => rm(dir, { recursive: true, force: true }));
  const nats = await startNatsServer(join(dir, 'nats'));
  onCleanup('stop nats-server', () => nats.stop());
  const log = (s: string) => console.error(`[bench:hosts] ${s}`);
  const rows: Row[] = [];
  for (const model of MODELS) rows.push(...(await runModel(model, nats.url, dir, log)));
  console.log(`\nBack-end models, 3 nodes, queue of 3 partitions, replication factor 3, ${messages} messages of 1 KiB (nats-server ${nats.version})\n`);
  console.log(
    renderTable(
      ['model', 'replication', 'send msg/s', 'receive+delete msg/s'],
      rows.map((r) => ('error' in r ? [r.model, r.mode, 'failed', r.error] : [r.model, r.mode, String(r.send.perSecond), String(r.receive.perSecond)])),
    ),
  );
}

main()
  .catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => runCleanups());
