/**
 * A Wharf cluster for fault tests: one nats-server (nats-server.ts) and N node processes
 * (node-process.ts) named n1..nN, each with its own data dir, under a random cluster name. Every
 * node can be killed (SIGKILL), paused (SIGSTOP), resumed (SIGCONT) and started again on its data;
 * so can the nats-server. Signals only ever go to processes this helper started, by their handle.
 *
 * `primaryOf` reads a partition's primary from the metadata KV (`wharf-<cluster>-partitions`, see
 * src/meta/records.ts); a single-node cluster without that bucket serves every partition on n1.
 * `dumpReplicas` reads each stopped node's store for the checker's divergence report.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Kvm, type KV } from '@nats-io/kv';
import { WharfClient, type ClientOptions } from '../../src/client/client.ts';
import { buckets, assignmentKey, type Assignment, type Heartbeat } from '../../src/meta/records.ts';
import { clusterName, type QueueName } from '../../src/names.ts';
import { subjects } from '../../src/protocol/subjects.ts';
import { keys } from '../../src/storage/keys.ts';
import { decodeMessage } from '../../src/storage/records.ts';
import { openRocksStore } from '../../src/storage/store.ts';
import { rollBackLog } from '../../src/replication/replica-store.ts';
import type { ReplicaDump } from '../chaos/checker.ts';
import { eventually } from './eventually.ts';
import { startNats, type NatsServerHandle } from './nats-server.ts';
import { startNodeProcess, type NodeExit, type NodeProcessHandle } from './node-process.ts';
import { tempDir } from './temp-dir.ts';

export interface ClusterOptions {
  /** Number of nodes. @default 3 */
  nodes?: number;
  /** Environment of every node (e.g. shorter failure-detection timeouts), applied after the defaults. */
  env?: Record<string, string>;
  /** More environment for one node. */
  nodeEnv?: (id: string) => Record<string, string>;
  /** WHARF_LOG_LEVEL of the nodes; their logs go to the kept temp dir. @default 'info' */
  logLevel?: string;
  /** A nats-server shared with other clusters (a deployment of several). @default one started for this cluster */
  nats?: NatsServerHandle;
}

export interface ClusterNode {
  readonly id: string;
  readonly dataDir: string;
  /** Pid of the current process. */
  readonly pid: number;
  /** Whether a process runs (paused or not). */
  readonly running: boolean;
  /** Whether it was paused with `stop()` and not resumed. */
  readonly paused: boolean;
  /** SIGKILL, then wait for the exit. */
  kill(): Promise<NodeExit>;
  /** SIGSTOP: the process keeps its sockets and memory but runs nothing. */
  stop(): void;
  /** SIGCONT. */
  cont(): void;
  /** Starts a new process on the same data dir (after a kill or a shutdown) and waits until it is ready. */
  start(): Promise<void>;
  /** SIGTERM (graceful), wait for the exit. */
  shutdown(): Promise<NodeExit>;
}

export interface WharfCluster {
  readonly cluster: string;
  readonly nats: NatsServerHandle;
  readonly nodes: readonly ClusterNode[];
  node(id: string): ClusterNode;
  /** A client on its own NATS connection, closed on teardown. */
  connect(options?: Omit<ClientOptions, 'servers' | 'cluster' | 'connection'>): Promise<WharfClient>;
  /** The partition's primary as the metadata says now, or undefined (none recorded, election running). */
  primaryOf(queue: string, partition: number): Promise<string | undefined>;
  /** Waits (bounded) until the partition has a primary other than `not` whose process runs. */
  waitForPrimary(queue: string, partition: number, options?: { not?: string; timeoutMs?: number }): Promise<string>;
  /** Waits (bounded) until every replica of every partition of `queue` reports the same log end, all committed. */
  waitForReplicasInSync(queue: string, timeoutMs?: number): Promise<void>;
  /** Drops the last `k` entries of a stopped node's log, as if its disk lost them (amnesia). */
  rollbackLog(node: string, queue: string, partition: number, k: number): Promise<void>;
  /** The live message values each node holds per partition of `queue`. Every node must be stopped. */
  dumpReplicas(queue: string): Promise<ReplicaDump[]>;
  /** How many log lines with this message every node's runs printed so far (e.g. 'snapshot copied'). */
  logged(msg: string): number;
}

export async function startWharfCluster(t: ExecutionContext<unknown>, options: ClusterOptions = {}): Promise<WharfCluster> {
  const count = options.nodes ?? 3;
  const nats = options.nats ?? (await startNats(t));
  const cluster = `c${randomBytes(4).toString('hex')}`;
  const logDir = await tempDir(t, 'wharf-cluster-logs-');
  const ids = Array.from({ length: count }, (_, i) => `n${i + 1}`);
  const messages = new Map<string, number>();
  const countMessage = (line: string) => {
    const msg = /"msg":"([^"]*)"/.exec(line)?.[1];
    if (msg !== undefined) messages.set(msg, (messages.get(msg) ?? 0) + 1);
  };
  const nodes = await Promise.all(
    ids.map(async (id) => {
      const dataDir = await tempDir(t, `wharf-data-${id}-`);
      const handle = await startNodeProcess(t, {
        nodeId: id,
        cluster,
        natsUrl: nats.url,
        dataDir,
        logLevel: options.logLevel ?? 'info',
        logFile: join(logDir, `node-${id}.log`),
        onStdoutLine: countMessage,
        env: { ...options.env, ...options.nodeEnv?.(id) },
      });
      return clusterNode(id, dataDir, handle);
    }),
  );
  // A paused process ignores SIGTERM until resumed: resume before node-process.ts's teardown stops it.
  t.teardown(() => nodes.forEach((n) => n.paused && n.cont()));

  const nc = await connect({ servers: nats.url, name: 'wharf-cluster-helper', maxReconnectAttempts: -1 });
  const clients: WharfClient[] = [];
  t.teardown(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await nc.close();
  });
  let partitions: KV | undefined;

  const node = (id: string) => {
    const n = nodes.find((x) => x.id === id);
    if (!n) throw new Error(`no node ${id} in this cluster (${ids.join(', ')})`);
    return n;
  };

  const assignment = async (queue: string, partition: number): Promise<Assignment | undefined> => {
    try {
      partitions ??= await new Kvm(nc).open(buckets(cluster).partitions);
      const entry = await partitions.get(assignmentKey(queue, partition));
      return entry?.operation === 'PUT' ? (entry.json() as Assignment) : undefined;
    } catch {
      partitions = undefined;
      return undefined; // no bucket (yet): a cluster without the metadata service
    }
  };

  const primaryOf = async (queue: string, partition: number) => {
    const a = await assignment(queue, partition);
    if (a) return a.primary ?? undefined;
    return nodes.length === 1 ? ids[0] : undefined;
  };

  return {
    cluster,
    nats,
    nodes,
    node,
    logged: (msg) => messages.get(msg) ?? 0,
    async connect(more = {}) {
      const client = await WharfClient.connect({ ...more, servers: nats.url, cluster });
      clients.push(client);
      return client;
    },
    primaryOf,
    waitForPrimary: (queue, partition, { not, timeoutMs = 30_000 } = {}) =>
      eventually(
        async () => {
          const p = await primaryOf(queue, partition);
          return p !== undefined && p !== not && node(p).running ? p : undefined;
        },
        { timeoutMs, intervalMs: 100, message: `a primary of ${queue}.${partition}${not ? ` other than ${not}` : ''}` },
      ),
    waitForReplicasInSync: (queue, timeoutMs = 20_000) => replicasInSync(nc, cluster, queue, ids, timeoutMs),
    rollbackLog: (id, queue, partition, k) => rollbackLog(node(id).dataDir, queue, partition, k),
    async dumpReplicas(queue) {
      const running = nodes.filter((n) => n.running).map((n) => n.id);
      if (running.length > 0) throw new Error(`stop every node before reading their stores (running: ${running.join(', ')})`);
      return (await Promise.all(nodes.map((n) => dumpStore(n.id, n.dataDir, queue)))).flat();
    },
  };
}

function clusterNode(id: string, dataDir: string, handle: NodeProcessHandle): ClusterNode {
  let paused = false;
  return {
    id,
    dataDir,
    get pid() {
      return handle.pid;
    },
    get running() {
      return handle.running;
    },
    get paused() {
      return paused && handle.running;
    },
    async kill() {
      handle.kill('SIGKILL');
      paused = false;
      return handle.exited;
    },
    stop() {
      if (!handle.running) throw new Error(`node ${id} is not running`);
      handle.kill('SIGSTOP');
      paused = true;
    },
    cont() {
      handle.kill('SIGCONT');
      paused = false;
    },
    async start() {
      if (handle.running) throw new Error(`node ${id} is running (pid ${handle.pid})`);
      await handle.restart();
    },
    async shutdown() {
      if (paused) this.cont();
      return handle.stop();
    },
  };
}

/**
 * Amnesia on a stopped node: drops the last `k` entries of a replica's log, keeping the mark of what
 * it had acknowledged (src/replication/replica-store.ts rollBackLog).
 */
export async function rollbackLog(dataDir: string, queue: string, partition: number, k: number): Promise<void> {
  const store = await openRocksStore(dataDir);
  try {
    await rollBackLog(store, queue as QueueName, partition, k);
  } finally {
    await store.close();
  }
}

/**
 * Waits until the heartbeats of every node report, for each partition of `queue`, the same log end
 * on every replica and a commit index at that end: then the stores hold the same committed state.
 * Nodes that do not report replicas (no replication) have nothing to wait for.
 */
export async function replicasInSync(nc: NatsConnection, cluster: string, queue: string, ids: readonly string[], timeoutMs: number): Promise<void> {
  const latest = new Map<string, Heartbeat>();
  const sub = nc.subscribe(subjects(clusterName(cluster)).allHeartbeats, {
    callback: (err, msg) => {
      if (err) return;
      try {
        const hb = msg.json<Heartbeat>();
        latest.set(hb.node, hb);
      } catch {
        // not a heartbeat we can read
      }
    },
  });
  try {
    await eventually(
      () => {
        if (ids.some((id) => !latest.has(id))) return false;
        const reports = [...latest.values()].flatMap((hb) => (hb.replicas ?? []).filter((r) => r.queue === queue));
        const byPartition = new Map<number, Array<{ logEnd: number; commitIndex: number }>>();
        for (const r of reports) byPartition.set(r.partition, [...(byPartition.get(r.partition) ?? []), r]);
        return [...byPartition.values()].every((rs) => rs.every((r) => r.logEnd === rs[0]?.logEnd && r.commitIndex === r.logEnd));
      },
      { timeoutMs, intervalMs: 100, message: `replicas of ${queue} in sync` },
    );
  } finally {
    sub.unsubscribe();
  }
}

/** The values of the messages (ready, in flight or delayed) a node's store holds, per partition. */
export async function dumpStore(node: string, dataDir: string, queue: string): Promise<ReplicaDump[]> {
  const store = await openRocksStore(dataDir);
  try {
    const q = queue as QueueName;
    const out: ReplicaDump[] = [];
    for (let p = 0; p < 64; p++) {
      const [state] = await store.getMany([keys.partition(q, p)]);
      if (state === undefined) continue;
      const rows = [...(await store.scan(keys.messages(q, p), 10_000_000)), ...(await store.scan(keys.delayedAll(q, p), 10_000_000))];
      const values = rows.map(([, bytes]) => Buffer.from(decodeMessage(bytes).body).toString('utf8'));
      out.push({ node, partition: `${queue}.${p}`, values });
    }
    return out;
  } finally {
    await store.close();
  }
}
