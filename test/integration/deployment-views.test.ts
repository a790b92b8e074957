/**
 * What operators see of a deployment: a primary–secondary cluster (one node process) and a cluster
 * of independent hosts (two node processes) on one nats-server, with an external manager. Through
 * the CLI (`wharf deployment status`, run as a process) and the inspector's HTTP API
 * (`/api/clusters`): each cluster with its model and health, the external manager's own view of
 * each cluster, queue → cluster routes, a split queue and a part draining after a merge. When
 * every host of the hosts cluster is killed its last report still says healthy, and both show the
 * external manager's verdict, unreachable. A cluster outside the deployment's view (the inspector
 * or the CLI without a deployment) shows itself alone, with its model.
 */
import test from 'ava';
import { connect } from '@nats-io/transport-node';
import pino from 'pino';
import { DeploymentClient } from '../../src/client/deployment-client.ts';
import type { DeploymentView } from '../../src/deployment/deployment-view.ts';
import { startExternalManager } from '../../src/deployment/external-manager.ts';
import { DeploymentMetadata } from '../../src/meta/deployment-metadata.ts';
import { startInspector } from '../../src/inspect/server.ts';
import { cliOf } from '../helpers/cli.ts';
import { startWharfCluster } from '../helpers/cluster.ts';
import { eventually } from '../helpers/eventually.ts';
import { startNats } from '../helpers/nats-server.ts';
import type { WharfFixture } from '../helpers/wharf.ts';

const DEPLOYMENT = `v${Math.floor(Math.random() * 1e9).toString(36)}`;
const ENV = {
  WHARF_DEPLOYMENT: DEPLOYMENT,
  WHARF_CLUSTER_REPORT_MS: '200',
  WHARF_HEARTBEAT_MS: '100',
  WHARF_FAILURE_TIMEOUT_MS: '1500',
  WHARF_LEASE_MS: '500',
  WHARF_MANAGER_LEASE_MS: '1000',
};

test('the CLI and the inspector show the clusters, their models and health, the routes and split queues', async (t) => {
  t.timeout(240_000);
  const nats = await startNats(t);
  const [p, h] = await Promise.all([
    startWharfCluster(t, { nats, nodes: 1, env: ENV }),
    startWharfCluster(t, { nats, nodes: 2, env: { ...ENV, WHARF_CLUSTER_MODEL: 'hosts' } }),
  ]);
  const nc = await connect({ servers: nats.url });
  const metadata = await DeploymentMetadata.open(nc, DEPLOYMENT);
  const managerMetadata = await DeploymentMetadata.open(nc, DEPLOYMENT);
  // No moves: the test looks at the manager's verdict on a silent cluster, not at what it does about it.
  const external = await startExternalManager({ nc, metadata: managerMetadata, instanceId: 'e1', log: pino({ level: 'silent' }), options: { leaseTimeoutMs: 1000, clusterTimeoutMs: 2000, moveAfterMs: 600_000 } });
  const client = await DeploymentClient.connect({ servers: nats.url, deployment: DEPLOYMENT, timeoutMs: 5_000 });
  const inspector = await startInspector({ nc, cluster: p.cluster, port: 0, deployment: DEPLOYMENT });
  const lone = await startInspector({ nc, cluster: h.cluster, port: 0, failureTimeoutMs: 1500 });
  t.teardown(async () => {
    await lone.close();
    await inspector.close();
    await client.close();
    await external.stop();
    await managerMetadata.close();
    await metadata.close();
    await nc.close();
  });
  const cli = (cluster: string, args: string[]) => cliOf({ nats, cluster } as WharfFixture, args);
  const clusters = async (url: string): Promise<DeploymentView> => {
    const res = await fetch(new URL('/api/clusters', url));
    t.is(res.status, 200);
    return (await res.json()) as DeploymentView;
  };

  await eventually(() => [p.cluster, h.cluster].every((c) => metadata.cluster(c)?.value.health === 'healthy'), { timeoutMs: 60_000, message: 'both clusters report healthy' });
  await eventually(() => external.isActive(), { timeoutMs: 30_000, message: 'the external manager is active' });
  const attributes = { partitions: 1, replicationFactor: 1 };
  await eventually(() => client.createQueue('single', attributes), { timeoutMs: 30_000, intervalMs: 500, message: 'queue created' });
  await client.createQueue('spread', attributes);
  const split = await client.split('spread', 2);
  t.deepEqual(split.parts.map((part) => part.cluster).sort(), [p.cluster, h.cluster].sort());
  // One message on each part: the part that drains after the merge is not empty, so it stays.
  await client.send('spread', 'one');
  await client.send('spread', 'two');
  const merged = await client.merge('spread', p.cluster);
  t.deepEqual(merged.parts.map((part) => [part.cluster, part.state]).sort(), [[h.cluster, 'draining'], [p.cluster, 'active']].sort());
  const single = metadata.route('single')?.value.parts[0]?.cluster ?? '';

  // The inspector: both clusters, each model, the manager's view, and the routes with their state.
  const view = await eventually(async () => {
    const v = await clusters(inspector.url);
    return v.clusters.length === 2 && v.clusters.every((c) => c.managerStatus === 'healthy') && v.routes.length === 2 ? v : undefined;
  }, { timeoutMs: 30_000, message: 'the inspector shows both clusters healthy in the manager view' });
  t.is(view.deployment, DEPLOYMENT);
  t.like(view.external, { holder: 'e1', answered: true });
  t.deepEqual(view.clusters.map((c) => [c.name, c.model, c.health]).sort(), [[p.cluster, 'primary', 'healthy'], [h.cluster, 'hosts', 'healthy']].sort());
  t.like(view.clusters.find((c) => c.name === h.cluster), { nodes: 2, alive: 2 });
  t.deepEqual(
    view.routes.map((r) => [r.queue, r.state, r.parts.map((part) => `${part.cluster}:${part.state}`).sort().join()]),
    [['single', 'single', `${single}:active`], ['spread', 'draining', [`${h.cluster}:draining`, `${p.cluster}:active`].sort().join()]],
  );

  // The CLI says the same.
  const status = await cli(p.cluster, ['deployment', 'status', DEPLOYMENT]);
  t.is(status.code, 0, status.stderr);
  t.regex(status.stdout, /external manager: e1 \(term \d+\)\n/);
  t.regex(status.stdout, new RegExp(`${p.cluster}\\s+primary\\s+healthy\\s+healthy\\s+1/1`));
  t.regex(status.stdout, new RegExp(`${h.cluster}\\s+hosts\\s+healthy\\s+healthy\\s+2/2`));
  t.regex(status.stdout, new RegExp(`single\\s+single\\s+${single}\\n`));
  t.regex(status.stdout, new RegExp(`spread\\s+draining\\s+(${p.cluster}, ${h.cluster} \\(draining\\)|${h.cluster} \\(draining\\), ${p.cluster})\\n`));
  const json = await cli(p.cluster, ['deployment', 'status', DEPLOYMENT, '--json']);
  t.is(json.code, 0, json.stderr);
  t.deepEqual((JSON.parse(json.stdout) as DeploymentView).routes.map((r) => r.state), ['single', 'draining']);

  // A cluster seen without its deployment: itself alone, with its model, its health from its heartbeats.
  const alone = await eventually(async () => {
    const v = await clusters(lone.url);
    return v.clusters[0]?.alive === 2 ? v : undefined;
  }, { timeoutMs: 15_000, message: 'the lone inspector hears both hosts' });
  t.like(alone, { deployment: null, external: null, routes: [] });
  t.like(alone.clusters[0], { name: h.cluster, model: 'hosts', health: 'healthy', nodes: 2, managerStatus: null });
  const soloCli = await cli(h.cluster, ['deployment', 'status']);
  t.is(soloCli.code, 0, soloCli.stderr);
  t.regex(soloCli.stdout, new RegExp(`cluster ${h.cluster}: no deployment`));
  t.regex(soloCli.stdout, new RegExp(`${h.cluster}\\s+hosts\\s+healthy\\s+-\\s+2/2`));

  // Every host of H dies: its last report stands (healthy), the manager counts it unreachable.
  await Promise.all(h.nodes.map((n) => n.kill()));
  const silent = await eventually(async () => {
    const v = await clusters(inspector.url);
    // With how long it has been so: at the turn that found it unreachable that is still 0 ms.
    const seen = v.clusters.find((c) => c.name === h.cluster);
    return seen?.managerStatus === 'unreachable' && seen.badForMs > 0 ? v : undefined;
  }, { timeoutMs: 30_000, message: 'the inspector shows H unreachable in the manager view, for some time' });
  t.like(silent.clusters.find((c) => c.name === h.cluster), { health: 'healthy', model: 'hosts' });
  const after = await cli(p.cluster, ['deployment', 'status', DEPLOYMENT]);
  t.is(after.code, 0, after.stderr);
  t.regex(after.stdout, new RegExp(`${h.cluster}\\s+hosts\\s+healthy\\s+unreachable \\d+s`));
});
