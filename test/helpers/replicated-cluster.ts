/**
 * Three real Wharf nodes in the test process on one nats-server, with the assignments written by the
 * test instead of a cluster manager (`manager: false`): the replica side alone, and the test decides
 * who is primary (`elect` runs the manager's two-step election by hand).
 */
import { randomBytes } from 'node:crypto';
import type { ExecutionContext } from 'ava';
import { connect } from '@nats-io/transport-node';
import { WharfClient } from '../../src/client/client.ts';
import { Metadata } from '../../src/meta/metadata.ts';
import type { Assignment, QueueMeta, ReplicaReport } from '../../src/meta/records.ts';
import { creationAttributes } from '../../src/protocol/attributes.ts';
import { decodeReply, encode } from '../../src/protocol/codec.ts';
import type { ReleaseFrame, SilenceFrame } from '../../src/protocol/internal.ts';
import { subjects } from '../../src/protocol/subjects.ts';
import type { ClusterName } from '../../src/names.ts';
import { startNode, type WharfNode } from '../../src/node/node.ts';
import type { NodeOptions } from '../../src/node/config.ts';
import { eventually } from './eventually.ts';
import { startNats, type NatsServerHandle } from './nats-server.ts';
import { tempDir } from './temp-dir.ts';

export const IDS = ['n1', 'n2', 'n3'];

export interface Cluster {
  nats: NatsServerHandle;
  cluster: string;
  nodes: Map<string, WharfNode>;
  metadata: Metadata;
  client: WharfClient;
  dirs: Map<string, string>;
  /** Starts node `id` (again), with `overrides` of the cluster's options. */
  start(id: string, overrides?: Partial<NodeOptions>): Promise<WharfNode>;
}

export async function startCluster(t: ExecutionContext<unknown>, options: Partial<NodeOptions> = {}): Promise<Cluster> {
  const nats = await startNats(t);
  const cluster = `t${randomBytes(4).toString('hex')}`;
  const dirs = new Map<string, string>();
  for (const id of IDS) dirs.set(id, await tempDir(t, `wharf-${id}-`));
  const nodes = new Map<string, WharfNode>();
  const start = async (id: string, overrides: Partial<NodeOptions> = {}) => {
    const node = await startNode({
      nodeId: id,
      cluster,
      natsUrl: nats.url,
      dataDir: dirs.get(id) as string,
      logLevel: process.env['LOG_LEVEL'] ?? 'silent',
      tickMs: 20,
      httpPort: 0,
      manager: false,
      leaseMs: 300,
      heartbeatMs: 100,
      failureTimeoutMs: 1000,
      ...options,
      ...overrides,
    });
    nodes.set(id, node);
    return node;
  };
  for (const id of IDS) await start(id);
  const nc = await connect({ servers: nats.url });
  const metadata = await Metadata.open(nc, cluster);
  const client = await WharfClient.connect({ servers: nats.url, cluster });
  t.teardown(async () => {
    await client.close();
    await Promise.all([...nodes.values()].map((n) => n.stop()));
    await metadata.close();
    await nc.close();
  });
  return { nats, cluster, nodes, metadata, client, dirs, start };
}

/** A queue with replication factor 3 on the three nodes; partition p's primary is `primaries[p]`. */
export async function createReplicatedQueue(
  c: Cluster,
  name: string,
  replication: 'sync' | 'async' = 'sync',
  primaries: readonly string[] = ['n1'],
): Promise<QueueMeta> {
  const meta: QueueMeta = {
    name,
    attributes: { ...creationAttributes({ replicationFactor: 3, partitions: primaries.length }), replication },
    incarnation: 7,
    createdAt: Date.now(),
    modifiedAt: Date.now(),
  };
  await c.metadata.createQueue(meta);
  for (const [partition, primary] of primaries.entries()) {
    const a: Assignment = {
      queue: name,
      partition,
      incarnation: 7,
      replicas: IDS,
      learners: [],
      primary,
      epoch: 1,
      isr: IDS,
      leaving: [],
      updatedAt: Date.now(),
    };
    t_ok(await c.metadata.casAssignment(a, 0));
  }
  return meta;
}

export function t_ok<T>(value: T | undefined): T {
  if (value === undefined) throw new Error('CAS failed');
  return value;
}

export const report = (node: WharfNode, queue: string, partition = 0): ReplicaReport | undefined =>
  node.reports().find((r) => r.queue === queue && r.partition === partition);

/** The two-step election a cluster manager runs: fence the epoch, then name the most complete replica. */
export async function elect(c: Cluster, queue: string, alive: string[]): Promise<string> {
  const current = c.metadata.assignment(queue, 0);
  if (!current) throw new Error('no assignment');
  const { primary, epoch } = current.value;
  // As the manager's fence does (election.ts fenced): the new primary asks the old one to release its lease.
  const fenced = { ...current.value, primary: null, epoch: epoch + 1, ...(primary === null ? {} : { previous: { primary, epoch } }) };
  const revision = t_ok(await c.metadata.casAssignment(fenced, current.revision));
  const reports = await eventually(() => {
    const rs = alive.map((id) => [id, report(c.nodes.get(id) as WharfNode, queue)] as const);
    return rs.every(([, r]) => r?.epoch === fenced.epoch && r.role === 'follower') ? rs : undefined;
  }, { message: 'replicas report the fenced epoch' });
  const [winner] = [...reports].sort(([, a], [, b]) => (b?.lastEpoch ?? 0) - (a?.lastEpoch ?? 0) || (b?.logEnd ?? 0) - (a?.logEnd ?? 0))[0] as readonly [string, ReplicaReport];
  t_ok(await c.metadata.casAssignment({ ...fenced, primary: winner }, revision));
  return winner;
}

/** Asks node `id` a question between replicas on its `replica` subject, as a new primary does (a connection of the test's own). */
export async function replicaQuestions(t: ExecutionContext<unknown>, c: Cluster): Promise<<T>(id: string, frame: ReleaseFrame | SilenceFrame) => Promise<T>> {
  const nc = await connect({ servers: c.nats.url });
  t.teardown(() => nc.close());
  const api = subjects(c.cluster as ClusterName);
  return async <T>(id: string, frame: ReleaseFrame | SilenceFrame) => decodeReply<T>((await nc.request(api.replica(id), encode(frame), { timeout: 5000 })).data);
}
