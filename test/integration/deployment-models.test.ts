/**
 * A deployment of one cluster of each model, three real node processes each — primary–secondary
 * (P) and independent hosts (H) — on one nats-server, with two real external manager processes
 * (`src/deployment/main.ts`). A queue split across both clusters takes continuous sends and
 * receives through the DeploymentClient while:
 *   1. a host of H is killed with SIGKILL (and started again);
 *   2. H loses a majority (two hosts SIGKILLed): its surviving host reports it failing, the active
 *      external manager moves the queue's sends off it, and its part drains once it is back;
 *   3. the process of the active external manager is killed with SIGKILL: the standby takes the
 *      lease over and retires H's drained part.
 * `wharf deployment status` then lists each cluster with its model.
 * The chaos history checker then finds no acknowledged message lost (sync writes), no double
 * delivery under a live lease, and the split queue drained completely.
 */
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { connect } from '@nats-io/transport-node';
import { DeploymentClient } from '../../src/client/deployment-client.ts';
import { DeploymentMetadata } from '../../src/meta/deployment-metadata.ts';
import { check, summaryLine } from '../chaos/checker.ts';
import { History } from '../chaos/history.ts';
import { drain, seededRandom, startWorkload } from '../chaos/workload.ts';
import { cliOf } from '../helpers/cli.ts';
import { startWharfCluster } from '../helpers/cluster.ts';
import { eventually } from '../helpers/eventually.ts';
import { startNats, type NatsServerHandle } from '../helpers/nats-server.ts';
import { startNodeProcess, type NodeProcessHandle } from '../helpers/node-process.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import type { WharfFixture } from '../helpers/wharf.ts';

const DEPLOYMENT = `m${Math.floor(Math.random() * 1e9).toString(36)}`;
const ENV = {
  WHARF_DEPLOYMENT: DEPLOYMENT,
  WHARF_SYNC_WRITES: 'true',
  WHARF_CLUSTER_REPORT_MS: '200',
  WHARF_HEARTBEAT_MS: '100',
  WHARF_FAILURE_TIMEOUT_MS: '1500',
  WHARF_LEASE_MS: '500',
  WHARF_MANAGER_LEASE_MS: '1000',
};

/** One instance of the external manager as its own process (`npm run external-manager`). */
async function externalManager(t: ExecutionContext, nats: NatsServerHandle, id: string): Promise<NodeProcessHandle> {
  const logDir = await tempDir(t, 'wharf-external-');
  return startNodeProcess(t, {
    main: join('src', 'deployment', 'main.ts'),
    readyMessage: 'external cluster manager started',
    nodeId: id,
    cluster: 'external',
    natsUrl: nats.url,
    dataDir: logDir,
    logFile: join(logDir, `${id}.log`),
    env: { WHARF_DEPLOYMENT: DEPLOYMENT, WHARF_MANAGER_LEASE_MS: '1000', WHARF_CLUSTER_TIMEOUT_MS: '3000', WHARF_MOVE_AFTER_MS: '3000' },
  });
}

test('a queue split over a primary and a hosts cluster loses nothing through a host kill, a lost majority and an external manager kill', async (t) => {
  t.timeout(300_000);
  const nats = await startNats(t);
  const [p, h] = await Promise.all([
    startWharfCluster(t, { nats, env: ENV }),
    startWharfCluster(t, { nats, env: { ...ENV, WHARF_CLUSTER_MODEL: 'hosts' } }),
  ]);
  const externals = new Map(await Promise.all(['e1', 'e2'].map(async (id) => [id, await externalManager(t, nats, id)] as const)));
  const nc = await connect({ servers: nats.url });
  const metadata = await DeploymentMetadata.open(nc, DEPLOYMENT);
  const clients: DeploymentClient[] = [];
  t.teardown(async () => {
    for (const c of clients) await c.close();
    await metadata.close();
    await nc.close();
  });
  const client = async () => {
    const c = await DeploymentClient.connect({ servers: nats.url, deployment: DEPLOYMENT, timeoutMs: 5_000 });
    clients.push(c);
    return c;
  };

  // Both clusters report themselves, each in its model: P through its active manager, H through one host.
  await eventually(() => [p.cluster, h.cluster].every((c) => metadata.cluster(c)?.value.health === 'healthy'), { timeoutMs: 60_000, message: 'both clusters report healthy' });
  t.is(metadata.cluster(p.cluster)?.value.model, 'primary');
  t.like(metadata.cluster(h.cluster)?.value, { model: 'hosts', nodes: 3, alive: 3 });
  const admin = await client();
  await eventually(() => admin.createQueue('mixed', { partitions: 3, replicationFactor: 3, visibilityTimeout: 5 }), { timeoutMs: 30_000, intervalMs: 500, message: 'queue created' });
  const route = await admin.split('mixed', 2);
  t.deepEqual(route.parts.map((part) => part.cluster).sort(), [p.cluster, h.cluster].sort());

  const history = new History();
  const workload = await startWorkload({ queue: 'mixed', history, connect: client, random: seededRandom(6), ratePerSecond: 80 });
  const progress = async (count: number) => {
    const target = history.acked.size + count;
    await eventually(() => history.acked.size >= target, { timeoutMs: 90_000, intervalMs: 50, message: `${count} more acknowledged sends` });
  };
  await progress(100);

  // 1. A host of H dies: the other hosts take its shard over; sends go on on both parts.
  await history.nemesis('kill', `${h.cluster}/n1`, () => h.node('n1').kill());
  await progress(100);
  await history.nemesis('start', `${h.cluster}/n1`, () => h.node('n1').start());
  await progress(50);

  // 2. H loses a majority: its last host reports it failing, and the queue's sends move off it.
  await history.nemesis('kill', `${h.cluster}/n2,n3`, () => Promise.all([h.node('n2').kill(), h.node('n3').kill()]));
  await eventually(() => metadata.cluster(h.cluster)?.value.health === 'failing', { timeoutMs: 30_000, message: 'H reports failing' });
  await eventually(() => metadata.route('mixed')?.value.parts.find((part) => part.cluster === h.cluster)?.state === 'draining', { timeoutMs: 60_000, message: "H's part drains" });
  await progress(100);
  await history.nemesis('start', `${h.cluster}/n2,n3`, () => Promise.all([h.node('n2').start(), h.node('n3').start()]));

  // 3. The active external manager's process is killed: the standby takes its lease over.
  const leader = metadata.lease()?.value;
  const victim = leader === undefined ? undefined : externals.get(leader.holder);
  if (leader === undefined || victim === undefined) return t.fail(`no external manager holds the lease: ${JSON.stringify(leader)}`);
  await history.nemesis('kill', `external/${leader.holder}`, async () => {
    victim.kill('SIGKILL');
    await victim.exited;
  });
  await eventually(() => (metadata.lease()?.value.term ?? 0) > leader.term && metadata.lease()?.value.holder !== leader.holder, { timeoutMs: 30_000, message: 'the standby external manager takes the lease' });
  await progress(100);
  await workload.stop();

  const drained = await drain({ queue: 'mixed', history, client: await client(), timeoutMs: 90_000 });
  const report = check(history.ops);
  t.log(summaryLine('deployment of both models', report));
  t.true(drained.complete, `drain incomplete: ${drained.missing.slice(0, 10).join(' ')}`);
  t.is(report.lost.count, 0, `lost: ${report.lost.values.slice(0, 10).join(' ')}`);
  t.deepEqual(report.duplicates.underLiveLease, []);
  t.true(report.acknowledged >= 450);

  // Both parts delivered messages, and H's drained part is retired by the new external manager.
  const byCluster = new Map<string, number>();
  for (const op of history.ops) {
    if (op.f !== 'receive' || op.type !== 'ok' || !Array.isArray(op.value)) continue;
    for (const d of op.value) {
      const cluster = d.receipt.split('.')[1] ?? '';
      byCluster.set(cluster, (byCluster.get(cluster) ?? 0) + 1);
    }
  }
  t.log(`deliveries per cluster: ${[...byCluster].map(([c, n]) => `${c} ${n}`).join(', ')}`);
  t.true((byCluster.get(p.cluster) ?? 0) > 50 && (byCluster.get(h.cluster) ?? 0) > 50);
  await eventually(() => metadata.route('mixed')?.value.parts.map((part) => part.cluster).join() === p.cluster, { timeoutMs: 60_000, message: "H's drained part is retired" });
  await eventually(() => metadata.cluster(h.cluster)?.value.health === 'healthy', { timeoutMs: 60_000, message: 'H reports healthy again' });

  // The CLI shows each cluster with its model, and the queue on its one remaining part.
  const cli = await cliOf({ nats, cluster: p.cluster } as WharfFixture, ['deployment', 'status', DEPLOYMENT]);
  t.is(cli.code, 0, cli.stderr);
  t.regex(cli.stdout, new RegExp(`${p.cluster}\\s+primary\\s+(healthy|degraded)`));
  t.regex(cli.stdout, new RegExp(`${h.cluster}\\s+hosts\\s+healthy`));
  t.regex(cli.stdout, new RegExp(`mixed\\s+single\\s+${p.cluster}`));
});
