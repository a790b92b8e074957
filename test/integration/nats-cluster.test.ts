import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import { jetstream, jetstreamManager, RetentionPolicy, StorageType, type StreamInfo } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { eventually } from '../helpers/eventually.ts';
import { startCluster, type NatsClusterHandle } from '../helpers/nats-cluster.ts';

const test = anyTest as TestFn<unknown>;

/** Elections after a kill take a few seconds on a busy machine. */
const FAILOVER_TIMEOUT_MS = 30_000;

async function json(url: string): Promise<Record<string, unknown>> {
  return (await (await fetch(url)).json()) as Record<string, unknown>;
}

async function client(t: ExecutionContext<unknown>, cluster: NatsClusterHandle): Promise<NatsConnection> {
  const nc = await connect({ servers: [...cluster.urls], reconnectTimeWait: 50, maxReconnectAttempts: -1 });
  t.teardown(() => nc.close());
  return nc;
}

/** Publishes `ids` with message ids, so a publish retried after a lost ack is stored once. */
async function publishAll(nc: NatsConnection, subject: string, ids: readonly string[]): Promise<void> {
  const js = jetstream(nc, { timeout: 2_000 });
  for (const id of ids) {
    await eventually(() => js.publish(subject, id, { msgID: id }), {
      timeoutMs: FAILOVER_TIMEOUT_MS,
      intervalMs: 100,
      message: `publish ${id}`,
    });
  }
}

async function streamInfo(nc: NatsConnection, name: string): Promise<StreamInfo> {
  return (await jetstreamManager(nc, { timeout: 2_000 })).streams.info(name);
}

test('three servers named n1..n3 form one cluster with a JetStream meta leader', async (t) => {
  const cluster = await startCluster(t, { name: 'formation' });

  t.deepEqual(
    cluster.servers.map((s) => s.name),
    ['n1', 'n2', 'n3'],
  );
  t.is(new Set(cluster.servers.flatMap((s) => [s.port, s.routePort])).size, 6);
  for (const server of cluster.servers) {
    t.regex(server.url, /^nats:\/\/127\.0\.0\.1:\d+$/);
    const varz = await json(`${server.monitoringUrl}/varz`);
    t.is(varz['server_name'], server.name);
    t.like(varz['cluster'], { name: 'formation', cluster_port: server.routePort });
    const routez = await json(`${server.monitoringUrl}/routez`);
    t.is(routez['num_routes'], 2);
  }
  const leader = await cluster.waitUntilFormed({ timeoutMs: 1_000 });
  t.true(['n1', 'n2', 'n3'].includes(leader));
});

test('an R3 stream is created and keeps its messages and taking writes when its leader is killed', async (t) => {
  const cluster = await startCluster(t, { name: 'failover' });
  const nc = await client(t, cluster);
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({
    name: 'R3',
    subjects: ['r3.>'],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    num_replicas: 3,
  });
  const before = Array.from({ length: 50 }, (_, i) => `before-${i}`);
  await publishAll(nc, 'r3.a', before);

  const info = await streamInfo(nc, 'R3');
  t.is(info.state.messages, 50);
  t.is(info.cluster?.replicas?.length, 2);
  const leaderName = info.cluster?.leader;
  if (leaderName === undefined) return t.fail('the stream has no leader');
  const leader = cluster.server(leaderName);
  const survivors = cluster.servers.filter((s) => s !== leader).map((s) => s.name);

  leader.kill('SIGKILL');
  await cluster.waitUntilFormed({ servers: survivors, timeoutMs: FAILOVER_TIMEOUT_MS });
  const after = Array.from({ length: 50 }, (_, i) => `after-${i}`);
  await publishAll(nc, 'r3.a', after);

  const failedOver = await eventually(
    async () => {
      const i = await streamInfo(nc, 'R3');
      return i.cluster?.leader !== undefined && i.cluster.leader !== leaderName ? i : undefined;
    },
    { timeoutMs: FAILOVER_TIMEOUT_MS, message: 'a new stream leader' },
  );
  t.is(failedOver.state.messages, 100);
  const first = await jsm.streams.getMessage('R3', { seq: 1 });
  t.is(first?.string(), 'before-0');
  const last = await jsm.streams.getMessage('R3', { seq: 100 });
  t.is(last?.string(), 'after-49');

  // The killed server comes back under its name and catches up.
  await leader.restart();
  await cluster.waitUntilFormed({ servers: ['n1', 'n2', 'n3'], timeoutMs: FAILOVER_TIMEOUT_MS });
  const healed = await eventually(
    async () => {
      const i = await streamInfo(nc, 'R3');
      const replicas = i.cluster?.replicas ?? [];
      return replicas.length === 2 && replicas.every((r) => r.current) ? i : undefined;
    },
    { timeoutMs: FAILOVER_TIMEOUT_MS, message: 'every replica current after the restart' },
  );
  t.is(healed.state.messages, 100);
  t.is((await json(`${leader.monitoringUrl}/varz`))['server_name'], leaderName);
});

test('a stopped server leaves a cluster that still has a meta leader; stop is idempotent', async (t) => {
  const cluster = await startCluster(t, { name: 'stop' });
  const n2 = cluster.server('n2');

  await n2.stop();
  await n2.stop();

  const leader = await cluster.waitUntilFormed({ servers: ['n1', 'n3'], timeoutMs: FAILOVER_TIMEOUT_MS });
  t.true(leader === 'n1' || leader === 'n3');
  await t.throwsAsync(fetch(`${n2.monitoringUrl}/varz`));
  t.throws(() => cluster.server('n4'), { message: /no server n4/ });
});
