/**
 * A deployment of two primary–secondary clusters of three real node processes each, on one
 * nats-server, with two external manager instances: a queue split across both clusters takes
 * continuous sends and receives (the chaos workload, through the DeploymentClient) while a node of
 * one cluster is killed with SIGKILL and while the active external manager stops without giving
 * its lease up. The chaos history checker then finds no acknowledged message lost and no double
 * delivery under a live lease, and the split queue drains completely. Then a cluster loses a
 * majority of its nodes: its queue moves to the other cluster, sends go on there, and the old part
 * drains and is retired once the cluster is back.
 */
import test from 'ava';
import { connect } from '@nats-io/transport-node';
import pino from 'pino';
import { DeploymentClient } from '../../src/client/deployment-client.ts';
import { startExternalManager, type ExternalManagerHandle } from '../../src/deployment/external-manager.ts';
import { DeploymentMetadata } from '../../src/meta/deployment-metadata.ts';
import { check, summaryLine } from '../chaos/checker.ts';
import { History } from '../chaos/history.ts';
import { drain, seededRandom, startWorkload } from '../chaos/workload.ts';
import { cliOf } from '../helpers/cli.ts';
import { startWharfCluster } from '../helpers/cluster.ts';
import { eventually } from '../helpers/eventually.ts';
import { startNats } from '../helpers/nats-server.ts';
import type { WharfFixture } from '../helpers/wharf.ts';

const DEPLOYMENT = `d${Math.floor(Math.random() * 1e9).toString(36)}`;
const ENV = {
  WHARF_DEPLOYMENT: DEPLOYMENT,
  WHARF_CLUSTER_REPORT_MS: '200',
  WHARF_HEARTBEAT_MS: '100',
  WHARF_FAILURE_TIMEOUT_MS: '1500',
  WHARF_LEASE_MS: '500',
  WHARF_MANAGER_LEASE_MS: '1000',
};

test.serial('a queue split over two clusters loses nothing and is drained completely through a node kill and an external manager failover', async (t) => {
  t.timeout(300_000);
  const nats = await startNats(t);
  const [a, b] = await Promise.all([startWharfCluster(t, { nats, env: ENV, logLevel: 'info' }), startWharfCluster(t, { nats, env: ENV, logLevel: 'info' })]);
  const nc = await connect({ servers: nats.url });
  const metadata = await DeploymentMetadata.open(nc, DEPLOYMENT);
  const managers: ExternalManagerHandle[] = [];
  const managerConnections = await Promise.all(['e1', 'e2'].map(() => connect({ servers: nats.url })));
  for (const [i, conn] of managerConnections.entries()) {
    const md = await DeploymentMetadata.open(conn, DEPLOYMENT);
    managers.push(await startExternalManager({ nc: conn, metadata: md, instanceId: `e${i + 1}`, log: pino({ level: 'silent' }), options: { leaseTimeoutMs: 1000, moveAfterMs: 600_000 } }));
    t.teardown(async () => {
      await managers[i]?.stop();
      await md.close();
      await conn.close();
    });
  }
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

  // Each cluster's active manager reports it healthy to the deployment.
  await eventually(() => [a.cluster, b.cluster].every((c) => metadata.cluster(c)?.value.health === 'healthy'), { timeoutMs: 60_000, message: 'both clusters report healthy' });
  const admin = await client();
  await eventually(() => admin.createQueue('split', { partitions: 1, replicationFactor: 3, visibilityTimeout: 5 }), { timeoutMs: 30_000, intervalMs: 500, message: 'queue created' });
  const route = await admin.split('split', 2);
  t.deepEqual(route.parts.map((p) => p.cluster).sort(), [a.cluster, b.cluster].sort());

  const history = new History();
  const workload = await startWorkload({ queue: 'split', history, connect: client, random: seededRandom(2026), ratePerSecond: 100 });
  const progress = async (count: number) => {
    const target = history.acked.size + count;
    await eventually(() => history.acked.size >= target, { timeoutMs: 60_000, intervalMs: 50, message: `${count} more acknowledged sends` });
  };
  await progress(100);

  // A node of cluster A dies; the queue keeps taking sends on both parts.
  const victim = a.node('n1');
  await history.nemesis('kill', `${a.cluster}/n1`, () => victim.kill());
  await progress(150);
  await history.nemesis('start', `${a.cluster}/n1`, () => victim.start());

  // The active external manager stops without releasing its lease: the standby takes over.
  const active = managers.find((m) => m.isActive());
  t.truthy(active, 'one external manager is active');
  await history.nemesis('kill', 'external-manager', () => (active as ExternalManagerHandle).stop());
  await eventually(() => managers.some((m) => m !== active && m.isActive()), { timeoutMs: 30_000, message: 'the standby external manager takes over' });
  await progress(100);
  // The new active manager answers: a merge back into cluster B drains A's part.
  await workload.stop();

  const drained = await drain({ queue: 'split', history, client: await client(), timeoutMs: 90_000 });
  const report = check(history.ops);
  t.log(summaryLine('deployment split queue', report));
  t.true(drained.complete, `drain incomplete: ${drained.missing.slice(0, 10).join(' ')}`);
  t.is(report.lost.count, 0, `lost: ${report.lost.values.slice(0, 10).join(' ')}`);
  t.deepEqual(report.duplicates.underLiveLease, []);
  t.true(report.acknowledged > 350);
  // Both parts took sends: the split spread them.
  const byCluster = new Map<string, number>();
  for (const op of history.ops) {
    if (op.f === 'receive' && op.type === 'ok' && Array.isArray(op.value)) {
      for (const d of op.value) {
        const cluster = d.receipt.split('.')[1] ?? '';
        byCluster.set(cluster, (byCluster.get(cluster) ?? 0) + 1);
      }
    }
  }
  t.log(`deliveries per cluster: ${[...byCluster].map(([c, n]) => `${c} ${n}`).join(', ')}`);
  t.true((byCluster.get(a.cluster) ?? 0) > 50 && (byCluster.get(b.cluster) ?? 0) > 50);

  // After the failover the new manager merges the queue back into B; A's part drains and is retired.
  const merged = await admin.merge('split', b.cluster);
  t.deepEqual(merged.parts.map((p) => `${p.cluster}:${p.state}`).sort(), [`${a.cluster}:draining`, `${b.cluster}:active`].sort());
  await eventually(() => metadata.route('split')?.value.parts.length === 1, { timeoutMs: 30_000, message: "the drained part on A is retired" });

  // The CLI shows both clusters, their model and health, and the queue on its one remaining part.
  const cli = await cliOf({ nats, cluster: a.cluster } as WharfFixture, ['deployment', 'status', DEPLOYMENT]);
  t.is(cli.code, 0, cli.stderr);
  for (const c of [a.cluster, b.cluster]) t.regex(cli.stdout, new RegExp(`${c}\\s+primary\\s+(healthy|degraded)`));
  t.regex(cli.stdout, new RegExp(`split\\s+single\\s+${b.cluster}`));
});

test.serial('a queue moves away from a cluster that lost a majority, loses nothing, and its old part is retired once drained', async (t) => {
  t.timeout(300_000);
  const deployment = `${DEPLOYMENT}m`;
  const env = { ...ENV, WHARF_DEPLOYMENT: deployment };
  const nats = await startNats(t);
  const [a, b] = await Promise.all([startWharfCluster(t, { nats, env, logLevel: 'info' }), startWharfCluster(t, { nats, env, logLevel: 'info' })]);
  const nc = await connect({ servers: nats.url });
  const metadata = await DeploymentMetadata.open(nc, deployment);
  const manager = await startExternalManager({ nc, metadata, instanceId: 'e1', log: pino({ level: 'silent' }), options: { leaseTimeoutMs: 1000, clusterTimeoutMs: 3000, moveAfterMs: 3000 } });
  const clients: DeploymentClient[] = [];
  t.teardown(async () => {
    for (const c of clients) await c.close();
    await manager.stop();
    await metadata.close();
    await nc.close();
  });
  const client = async () => {
    const c = await DeploymentClient.connect({ servers: nats.url, deployment, timeoutMs: 5_000 });
    clients.push(c);
    return c;
  };
  await eventually(() => [a.cluster, b.cluster].every((c) => metadata.cluster(c)?.value.health === 'healthy'), { timeoutMs: 60_000, message: 'both clusters report healthy' });
  const admin = await client();
  const route = await eventually(() => admin.createQueue('moving', { partitions: 1, replicationFactor: 3, visibilityTimeout: 5 }), { timeoutMs: 30_000, intervalMs: 500, message: 'queue created' });
  const home = route.parts[0]?.cluster === a.cluster ? a : b;
  const other = home === a ? b : a;

  const history = new History();
  const workload = await startWorkload({ queue: 'moving', history, connect: client, random: seededRandom(7), ratePerSecond: 60 });
  const progress = async (count: number) => {
    const target = history.acked.size + count;
    await eventually(() => history.acked.size >= target, { timeoutMs: 90_000, intervalMs: 50, message: `${count} more acknowledged sends` });
  };
  await progress(100);

  // Two of the home cluster's three nodes die: it cannot commit, and reports failing (or nothing).
  await history.nemesis('kill', `${home.cluster}/n2,n3`, () => Promise.all([home.node('n2').kill(), home.node('n3').kill()]));
  await eventually(() => metadata.route('moving')?.value.parts.some((p) => p.cluster === other.cluster && p.state === 'active'), { timeoutMs: 60_000, message: 'the queue moves to the other cluster' });
  t.deepEqual(metadata.route('moving')?.value.parts.map((p) => `${p.cluster}:${p.state}`), [`${home.cluster}:draining`, `${other.cluster}:active`]);
  await progress(100);

  // The cluster comes back; its part is drained by the consumers and then retired.
  await history.nemesis('start', `${home.cluster}/n2,n3`, () => Promise.all([home.node('n2').start(), home.node('n3').start()]));
  await progress(50);
  await workload.stop();
  const drained = await drain({ queue: 'moving', history, client: await client(), timeoutMs: 90_000 });
  const report = check(history.ops);
  t.log(summaryLine('deployment move', report));
  t.true(drained.complete, `drain incomplete: ${drained.missing.slice(0, 10).join(' ')}`);
  t.is(report.lost.count, 0, `lost: ${report.lost.values.slice(0, 10).join(' ')}`);
  t.deepEqual(report.duplicates.underLiveLease, []);
  await eventually(() => metadata.route('moving')?.value.parts.length === 1, { timeoutMs: 60_000, message: 'the drained part is retired' });
  t.deepEqual(metadata.route('moving')?.value.parts.map((p) => p.cluster), [other.cluster]);
});
