/**
 * The cluster manager (src/manager/manager.ts) on a real nats-server with JetStream and the real
 * metadata service: two managers, one active; fake nodes publishing heartbeats that follow the
 * replica side of the protocol (the model in test/unit/manager-fakes.ts, fed with the assignments
 * from KV). Drives placement, a failover, a takeover by the standby without a reset, and a drain.
 */
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { eventually } from '../helpers/eventually.ts';
import { testLogger } from '../helpers/log.ts';
import { startNats } from '../helpers/nats-server.ts';
import { Metadata } from '../../src/meta/metadata.ts';
import { startManager, type ManagerHandle } from '../../src/manager/manager.ts';
import type { ManagerStatus } from '../../src/manager/status.ts';
import { clusterName } from '../../src/names.ts';
import { subjects } from '../../src/protocol/subjects.ts';
import { keyOf } from '../../actors/manager/view.ts';
import { queueMeta, World } from '../unit/manager-fakes.ts';

const TIMINGS = { leaseTimeoutMs: 1500, failureTimeoutMs: 1000, replaceAfterMs: 60_000, tickMs: 100, retryMs: 100, maxConcurrentMoves: 2 };
const HEARTBEAT_MS = 100;

test('two managers: placement, failover to the most complete log, takeover without reset, drain', async (t) => {
  const server = await startNats(t);
  const cluster = `m${randomBytes(4).toString('hex')}`;
  const subs = subjects(clusterName(cluster));
  const log = testLogger({ test: 'manager' });
  const connections: NatsConnection[] = [];
  const open = async () => {
    const nc = await connect({ servers: server.url, maxReconnectAttempts: 2, reconnectTimeWait: 100 });
    connections.push(nc);
    return nc;
  };
  const metas: Metadata[] = [];
  const managers: ManagerHandle[] = [];
  t.teardown(async () => {
    for (const m of managers) await m.stop();
    for (const m of metas) await m.close().catch(() => undefined);
    for (const nc of connections) if (!nc.isClosed()) await nc.close();
  });

  // ---- fake nodes: registered in KV, heartbeating what their replicas would report ----
  const ncNodes = await open();
  const nodesMeta = await Metadata.open(ncNodes, cluster, { log });
  metas.push(nodesMeta);
  const world = new World(TIMINGS);
  for (const id of ['a', 'b', 'c', 'd']) {
    await nodesMeta.putNode({ id, boot: `${id}-boot`, state: 'active', registeredAt: Date.now() });
  }
  const beat = () => {
    world.assignments.clear();
    for (const a of nodesMeta.assignments()) world.assignments.set(keyOf(a.value), { ...a, since: 0 });
    world.nodes.clear();
    for (const n of nodesMeta.nodes()) world.nodes.set(n.value.id, n);
    for (const id of world.nodes.keys()) {
      if (world.down.has(id)) continue;
      ncNodes.publish(subs.heartbeat(id), JSON.stringify(world.heartbeatOf(id)));
    }
  };
  const beating = setInterval(beat, HEARTBEAT_MS);
  t.teardown(() => clearInterval(beating));

  // ---- two managers; the first to start takes the lease ----
  const startOne = async (nodeId: string) => {
    const nc = await open();
    const metadata = await Metadata.open(nc, cluster, { log });
    metas.push(metadata);
    const m = await startManager({ nc, metadata, cluster, nodeId, log: log.child({ manager: nodeId }), options: { ...TIMINGS, heartbeatMs: HEARTBEAT_MS } });
    managers.push(m);
    return { nc, metadata, m };
  };
  const m1 = await startOne('m1');
  await eventually(() => m1.m.isActive(), { message: 'm1 active' });
  const m2 = await startOne('m2');

  const status = async (): Promise<ManagerStatus & { ok: boolean }> => {
    const reply = await ncNodes.request(subs.manager('status'), '', { timeout: 2000 });
    return JSON.parse(new TextDecoder().decode(reply.data)) as ManagerStatus & { ok: boolean };
  };

  // ---- placement of a new queue ----
  await nodesMeta.createQueue({ ...queueMeta('q', 2, 3), incarnation: 42 });
  const placed = await eventually(
    () => {
      const all = nodesMeta.assignments('q');
      return all.length === 2 && all.every((a) => a.value.primary !== null) ? all : undefined;
    },
    { message: 'q placed' },
  );
  for (const { value } of placed) {
    t.is(value.replicas.length, 3);
    t.is(value.epoch, 1);
    t.is(value.incarnation, 42);
  }
  t.false(m2.m.isActive(), 'one active manager');

  const first = await eventually(
    async () => {
      const s = await status();
      return s.assignments.every((a) => a.reports.every((r) => r.role !== 'unknown')) ? s : undefined;
    },
    { message: 'status with every replica reporting' },
  );
  t.true(first.ok);
  t.like(first, { manager: 'm1', active: true, holder: 'm1', term: 1 });
  t.is(first.nodes.length, 4);
  t.true(first.nodes.every((n) => n.liveness === 'alive'));
  const primaryReport = first.assignments[0]?.reports.find((r) => r.node === first.assignments[0]?.primary);
  t.is(primaryReport?.role, 'primary');
  t.is(primaryReport?.lag, 0);

  // ---- failover: the primary of q.0 stops; the follower with the longer log wins ----
  const before = nodesMeta.assignment('q', 0)!.value;
  const old = before.primary!;
  world.append('q', 0, 20);
  await eventually(() => before.replicas.every((n) => world.log(n, 'q.0').logEnd === 20), { message: 'followers copied' });
  const [ahead, behind] = before.replicas.filter((n) => n !== old) as [string, string];
  world.down.add(old);
  world.log(behind, 'q.0').logEnd = 17;
  const stoppedAt = Date.now();
  const after = await eventually(
    () => {
      const a = nodesMeta.assignment('q', 0)?.value;
      return a !== undefined && a.primary !== null && a.primary !== old ? a : undefined;
    },
    { message: 'new primary of q.0', timeoutMs: 10_000 },
  );
  t.is(after.primary, ahead, 'the replica with the most complete log');
  t.is(after.epoch, before.epoch + 1);
  t.log(`failover in ${Date.now() - stoppedAt} ms (failure timeout ${TIMINGS.failureTimeoutMs} ms)`);
  world.down.delete(old); // it restarts and follows

  // ---- takeover: m1 loses NATS; m2 takes the lease and resumes from KV ----
  await eventually(() => nodesMeta.assignments('q').every((a) => a.value.primary !== null), { message: 'stable' });
  const settled = nodesMeta.assignments('q').map((a) => ({ ...a.value, updatedAt: 0, isr: [] }));
  await m1.nc.close();
  const takenAt = Date.now();
  await eventually(() => m2.m.isActive(), { message: 'm2 active', timeoutMs: 10_000 });
  t.log(`standby active ${Date.now() - takenAt} ms after the holder lost NATS (lease timeout ${TIMINGS.leaseTimeoutMs} ms)`);
  t.false(m1.m.isActive());
  // Another connection's cache sees the new lease a moment later.
  const lease = await eventually(() => (nodesMeta.lease()?.value.holder === 'm2' ? nodesMeta.lease()?.value : undefined), {
    message: 'the lease in KV names m2',
  });
  t.is(lease.term, 2);
  // m2 subscribes to the manager subjects when it becomes active: the server may not have that
  // subscription yet when this connection asks (no responders).
  const s2 = await eventually(() => status().catch(() => undefined), { message: 'm2 answers status' });
  t.like(s2, { manager: 'm2', active: true, holder: 'm2' });
  await new Promise((resolve) => setTimeout(resolve, 1000));
  t.deepEqual(
    nodesMeta.assignments('q').map((a) => ({ ...a.value, updatedAt: 0, isr: [] })),
    settled,
    'the new manager changed nothing that was settled',
  );

  // ---- drain through the active manager ----
  const victim = nodesMeta.assignment('q', 1)!.value.primary!;
  const reply = await ncNodes.request(subs.manager('drain'), JSON.stringify({ node: victim }), { timeout: 2000 });
  t.like(JSON.parse(new TextDecoder().decode(reply.data)), { ok: true, node: victim, state: 'draining' });
  await eventually(() => nodesMeta.node(victim)?.value.state === 'removed', { message: `${victim} drained`, timeoutMs: 20_000 });
  for (const { value } of nodesMeta.assignments('q')) {
    t.false([...value.replicas, ...value.learners, ...value.leaving].includes(victim));
    t.is(value.replicas.length, 3);
    t.not(value.primary, null);
  }
  const bad = await ncNodes.request(subs.manager('drain'), JSON.stringify({ node: 'nope' }), { timeout: 2000 });
  t.like(JSON.parse(new TextDecoder().decode(bad.data)), { ok: false, error: { code: 'not_found' } });
});

test('a deleted queue loses its assignments', async (t) => {
  const server = await startNats(t);
  const cluster = `m${randomBytes(4).toString('hex')}`;
  const log = testLogger({ test: 'manager-delete' });
  const nc = await connect({ servers: server.url });
  const metadata = await Metadata.open(nc, cluster, { log });
  t.teardown(async () => {
    await manager.stop();
    await metadata.close();
    await nc.close();
  });
  const subs = subjects(clusterName(cluster));
  const world = new World(TIMINGS);
  await metadata.putNode({ id: 'a', boot: 'a-boot', state: 'active', registeredAt: Date.now() });
  const beating = setInterval(() => {
    world.assignments.clear();
    for (const a of metadata.assignments()) world.assignments.set(keyOf(a.value), { ...a, since: 0 });
    nc.publish(subs.heartbeat('a'), JSON.stringify(world.heartbeatOf('a')));
  }, HEARTBEAT_MS);
  t.teardown(() => clearInterval(beating));
  const manager = await startManager({ nc, metadata, cluster, nodeId: 'a', log, options: TIMINGS });
  const { entry } = await metadata.createQueue(queueMeta('gone', 3, 1));
  await eventually(() => metadata.assignments('gone').length === 3, { message: 'placed' });
  await metadata.deleteQueue('gone', entry.revision);
  await eventually(() => metadata.assignments('gone').length === 0, { message: 'assignments deleted' });
  t.pass();
});
