/**
 * The inspector's cluster map (src/inspect/server/cluster-map.ts) against a real nats-server and
 * metadata buckets, with heartbeats published by the test and a clock it moves: liveness by the
 * manager's rule, each replica's role and lag from the heartbeats, the in-sync set the primary
 * reported, and a dead node's replicas marked as such.
 */
import { randomUUID } from 'node:crypto';
import test from 'ava';
import { connect } from '@nats-io/transport-node';
import type { Heartbeat, ReplicaReport } from '../../src/meta/records.ts';
import { Metadata } from '../../src/meta/metadata.ts';
import { clusterName } from '../../src/names.ts';
import { DEFAULT_ATTRIBUTES } from '../../src/protocol/attributes.ts';
import { subjects } from '../../src/protocol/subjects.ts';
import { ClusterMap } from '../../src/inspect/server/cluster-map.ts';
import { eventually } from '../helpers/eventually.ts';
import { startNats } from '../helpers/nats-server.ts';

const report = (partition: number, role: ReplicaReport['role'], logEnd: number, isr?: string[]): ReplicaReport => ({
  queue: 'orders',
  partition,
  role,
  epoch: 2,
  lastEpoch: 2,
  logEnd,
  commitIndex: Math.min(logEnd, 90),
  ...(isr === undefined ? {} : { isr }),
});

test('the map joins metadata and heartbeats: liveness, roles, lag, in-sync set, dead replicas', async (t) => {
  const nats = await startNats(t);
  const nc = await connect({ servers: nats.url });
  t.teardown(() => nc.close());
  const cluster = clusterName(`t${randomUUID().slice(0, 8)}`);
  const subs = subjects(cluster);
  const metadata = await Metadata.open(nc, cluster);
  t.teardown(() => metadata.close());
  let now = 1_000;
  const map = new ClusterMap({ nc, subjects: subs, metadata, cluster, failureTimeoutMs: 3000, now: () => now });
  t.teardown(() => map.close());

  for (const id of ['n1', 'n2', 'n3']) await metadata.putNode({ id, boot: `boot-${id}`, state: 'active', registeredAt: 0 });
  await metadata.createQueue({ name: 'orders', attributes: { ...DEFAULT_ATTRIBUTES, partitions: 1 }, incarnation: 7, createdAt: 0, modifiedAt: 0 });
  await metadata.casAssignment(
    { queue: 'orders', partition: 0, incarnation: 7, replicas: ['n1', 'n2', 'n3'], learners: [], primary: 'n1', epoch: 2, isr: ['n1', 'n2', 'n3'], leaving: [], updatedAt: 0 },
    0,
  );
  const beat = (node: string, replicas: ReplicaReport[]) => {
    const hb: Heartbeat = { node, boot: `boot-${node}`, at: Date.now(), state: 'active', replicas };
    nc.publish(subs.heartbeat(node), JSON.stringify(hb));
  };
  let changes = 0;
  map.onChange(() => changes++);
  beat('n1', [report(0, 'primary', 100, ['n1', 'n2'])]);
  beat('n2', [report(0, 'follower', 95)]);
  beat('n3', [report(0, 'follower', 60)]);
  beat('n9', []);

  const view = await eventually(() => {
    const v = map.view();
    return v.nodes.length === 4 && v.nodes.every((n) => n.liveness === 'alive') ? v : undefined;
  }, { message: 'four nodes heard' });
  t.true(changes >= 4);
  t.deepEqual(
    view.nodes.map((n) => [n.id, n.state, n.primaries, n.replicas]),
    [['n1', 'active', 1, 1], ['n2', 'active', 0, 1], ['n3', 'active', 0, 1], ['n9', 'unregistered', 0, 0]],
  );
  const [orders] = view.queues;
  const [p0] = orders?.partitions ?? [];
  t.is(orders?.name, 'orders');
  t.like(p0, { primary: 'n1', epoch: 2, isr: ['n1', 'n2'], logEnd: 100, commitIndex: 90 });
  t.deepEqual(
    p0?.reports.map((r) => [r.node, r.role, r.lag, r.inSync]),
    [['n1', 'primary', 0, true], ['n2', 'follower', 5, true], ['n3', 'follower', 40, false]],
  );

  // n3 falls silent: suspected after half the failure timeout, dead after all of it.
  now += 1600;
  beat('n1', [report(0, 'primary', 100, ['n1', 'n2'])]);
  beat('n2', [report(0, 'follower', 100)]);
  beat('n9', []);
  await eventually(() => map.view().queues[0]?.partitions[0]?.reports[1]?.lag === 0, { message: 'n2 caught up' });
  t.is(map.view().nodes.find((n) => n.id === 'n3')?.liveness, 'suspected');
  now += 1500;
  beat('n1', [report(0, 'primary', 101, ['n1', 'n2'])]);
  const later = await eventually(() => {
    const v = map.view();
    return v.queues[0]?.partitions[0]?.logEnd === 101 ? v : undefined;
  }, { message: "n1's newer heartbeat" });
  t.is(later.nodes.find((n) => n.id === 'n3')?.liveness, 'dead');
  t.is(later.nodes.find((n) => n.id === 'n1')?.liveness, 'alive');
  t.is(later.queues[0]?.partitions[0]?.reports.find((r) => r.node === 'n3')?.liveness, 'dead');
});

test('a node never heard from is suspected until a full failure timeout has passed, then dead', async (t) => {
  const nats = await startNats(t);
  const nc = await connect({ servers: nats.url });
  t.teardown(() => nc.close());
  const cluster = clusterName(`t${randomUUID().slice(0, 8)}`);
  const metadata = await Metadata.open(nc, cluster);
  t.teardown(() => metadata.close());
  let now = 0;
  const map = new ClusterMap({ nc, subjects: subjects(cluster), metadata, cluster, failureTimeoutMs: 3000, now: () => now });
  t.teardown(() => map.close());
  await metadata.putNode({ id: 'n1', boot: 'b', state: 'draining', registeredAt: 0 });
  t.like(map.view().nodes[0], { id: 'n1', state: 'draining', liveness: 'suspected' });
  now = 3000;
  t.like(map.view().nodes[0], { id: 'n1', liveness: 'dead' });
});
