/**
 * The cluster the scenarios run on, as it would be on separate machines: three NATS servers
 * (hosts s1..s3, a JetStream cluster routed over the bridge) and three Wharf nodes (hosts n1..n3),
 * each in its own network namespace (netns.ts). Node nK talks to its "own" server sK (as a node and
 * the server next to it on one machine would) through a fault proxy (proxy.ts) that the harness runs
 * in the root namespace; the workload's clients connect to all three servers directly.
 *
 * Options a scenario may ask for: a node whose data dir is a small tmpfs (the full-disk fault) and
 * nodes started under libfaketime with a clock the nemesis can move (clock jumps).
 *
 * `close()` stops every process, the proxies and the mounts, and removes the namespaces; it runs
 * even after a failure (and from an `exit` hook for the network).
 */
import { execFileSync } from 'node:child_process';
import { access, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Kvm, type KV } from '@nats-io/kv';
import { WharfClient } from '../src/client/client.ts';
import { buckets, assignmentKey, type Assignment, type Heartbeat, type NodeRecord } from '../src/meta/records.ts';
import { clusterName } from '../src/names.ts';
import { subjects } from '../src/protocol/subjects.ts';
import { findNatsServer } from '../test/helpers/nats-server.ts';
import { isReadyLine } from '../test/helpers/node-process.ts';
import { dumpStore, replicasInSync } from '../test/helpers/cluster.ts';
import type { ReplicaDump } from '../test/chaos/checker.ts';
import { eventually } from '../test/helpers/eventually.ts';
import { HostProcess } from './host-process.ts';
import { Net } from './netns.ts';
import { FaultProxy } from './proxy.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const FAKETIME_LIBS = ['/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1', '/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1', '/usr/lib/faketime/libfaketime.so.1'];

export interface TopologyOptions {
  /** Where data dirs, logs and configs go. */
  dir: string;
  cluster: string;
  random: () => number;
  /** Node whose data dir is a tmpfs of `diskMb` MiB. */
  smallDisk?: { node: string; diskMb: number };
  /** Start nodes under libfaketime (clock jumps). */
  fakeTime?: boolean;
  /** More WHARF_* environment of every node. */
  env?: Record<string, string>;
}

export interface NatsHost {
  readonly name: string;
  readonly ip: string;
  readonly url: string;
  readonly process: HostProcess;
}

export interface BrokerNode {
  readonly id: string;
  readonly ip: string;
  readonly dataDir: string;
  readonly proxy: FaultProxy;
  readonly process: HostProcess;
  /** The file libfaketime reads its offset from, when the node runs under it. */
  readonly clockFile: string | undefined;
  /** Its NATS server. */
  readonly server: string;
}

export const NODE_IDS = ['n1', 'n2', 'n3'] as const;
export const SERVER_NAMES = ['s1', 's2', 's3'] as const;

export class Topology {
  readonly servers: NatsHost[] = [];
  readonly nodes: BrokerNode[] = [];
  private nc: NatsConnection | undefined;
  private partitionsKv: KV | undefined;
  private readonly clients: WharfClient[] = [];
  private readonly mounts: string[] = [];
  private readonly counts = new Map<string, number>();
  /** Unmounts the tmpfs data dirs if the process exits without close() (the network has its own hook). */
  private readonly exitHook = () => this.unmount();

  readonly net: Net;
  readonly options: TopologyOptions;

  private constructor(net: Net, options: TopologyOptions) {
    this.net = net;
    this.options = options;
  }

  /** Builds the network, starts the NATS cluster, the proxies and the nodes. Cleans up after itself if that fails. */
  static async start(options: TopologyOptions): Promise<Topology> {
    const net = await Net.create([...SERVER_NAMES, ...NODE_IDS]);
    const topology = new Topology(net, options);
    process.once('exit', topology.exitHook);
    try {
      await topology.startServers();
      await topology.startNodes();
      topology.nc = await connect({ servers: topology.serverUrls, name: 'wharf-chaos-harness', maxReconnectAttempts: -1, pingInterval: 2000 });
    } catch (err) {
      await topology.close();
      throw err;
    }
    return topology;
  }

  get serverUrls(): string[] {
    return this.servers.map((s) => s.url);
  }

  node(id: string): BrokerNode {
    const n = this.nodes.find((x) => x.id === id);
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  }

  server(name: string): NatsHost {
    const s = this.servers.find((x) => x.name === name);
    if (s === undefined) throw new Error(`no server ${name}`);
    return s;
  }

  /** How many log lines with this `msg` the nodes printed so far (e.g. 'snapshot copied'). */
  logged(msg: string): number {
    return this.counts.get(msg) ?? 0;
  }

  private async startServers(): Promise<void> {
    const bin = await findNatsServer();
    const hosts = SERVER_NAMES.map((n) => this.net.host(n));
    for (const h of hosts) {
      const dir = join(this.options.dir, h.name);
      await mkdir(dir, { recursive: true });
      const routes = hosts.filter((o) => o !== h).map((o) => JSON.stringify(`nats-route://${o.ip}:6222`));
      const conf = join(dir, 'nats.conf');
      await writeFile(
        conf,
        [
          `server_name: ${h.name}`,
          `listen: "${h.ip}:4222"`,
          `http: "${h.ip}:8222"`,
          'max_payload: 8MB',
          // A partition drops packets silently: pings are what notice it, on routes and clients.
          'ping_interval: "1s"',
          'ping_max: 3',
          `jetstream { store_dir: ${JSON.stringify(join(dir, 'js'))} }`,
          `cluster { name: wharf-chaos, listen: "${h.ip}:6222", routes: [${routes.join(', ')}] }`,
          '',
        ].join('\n'),
      );
      const proc = new HostProcess({
        ns: h.ns,
        command: bin,
        args: ['-c', conf],
        logFile: join(dir, 'nats.log'),
        ready: (line) => line.includes('Server is ready'),
      });
      this.servers.push({ name: h.name, ip: h.ip, url: `nats://${h.ip}:4222`, process: proc });
    }
    await Promise.all(this.servers.map((s) => s.process.start()));
    await this.waitForNatsCluster();
  }

  /** Waits (bounded) until every running server names the same JetStream meta leader. */
  async waitForNatsCluster(timeoutMs = 60_000): Promise<string> {
    return eventually(
      async () => {
        const leaders = await Promise.all(
          this.servers
            .filter((s) => s.process.running)
            .map(async (s) => {
              const res = await fetch(`http://${s.ip}:8222/jsz`, { signal: AbortSignal.timeout(1000) });
              const body = (await res.json()) as { meta_cluster?: { leader?: string } };
              return body.meta_cluster?.leader ?? '';
            }),
        );
        const first = leaders[0];
        if (first === undefined || first === '' || !leaders.every((l) => l === first)) return undefined;
        // A server answers "jetstream is not enabled" until its JetStream is current: /healthz says when.
        const healthy = await Promise.all(
          this.servers
            .filter((s) => s.process.running)
            .map(async (s) => (await fetch(`http://${s.ip}:8222/healthz`, { signal: AbortSignal.timeout(1000) })).ok),
        );
        return healthy.every(Boolean) ? first : undefined;
      },
      { timeoutMs, intervalMs: 250, message: 'the NATS cluster agrees on a JetStream meta leader' },
    );
  }

  private async startNodes(): Promise<void> {
    const lib = this.options.fakeTime ? await faketimeLib() : undefined;
    for (const [i, id] of NODE_IDS.entries()) {
      const host = this.net.host(id);
      const server = this.servers[i];
      if (server === undefined) throw new Error('fewer servers than nodes');
      const dataDir = join(this.options.dir, id, 'data');
      await mkdir(dataDir, { recursive: true });
      if (this.options.smallDisk?.node === id) {
        execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${this.options.smallDisk.diskMb}m`, 'tmpfs', dataDir]);
        this.mounts.push(dataDir);
      }
      const proxy = await FaultProxy.start({ listenHost: this.net.gateway, upstreamHost: server.ip, upstreamPort: 4222, random: this.options.random });
      const clockFile = lib === undefined ? undefined : join(this.options.dir, id, 'faketime');
      if (clockFile !== undefined) await writeFile(clockFile, '+0\n');
      const env: Record<string, string> = {
        WHARF_NODE_ID: id,
        WHARF_CLUSTER: this.options.cluster,
        WHARF_NATS_URL: proxy.url,
        WHARF_DATA_DIR: dataDir,
        WHARF_HTTP_HOST: host.ip,
        WHARF_HTTP_PORT: '9464',
        WHARF_LOG_LEVEL: 'info',
        ...this.options.env,
      };
      if (lib !== undefined && clockFile !== undefined) {
        Object.assign(env, {
          LD_PRELOAD: lib,
          FAKETIME_TIMESTAMP_FILE: clockFile,
          // Re-read the file once a second: a jump takes effect within a second, and Date.now()
          // does not stat a file on every call.
          FAKETIME_CACHE_DURATION: '1',
          // A clock jump moves the wall clock only, like an NTP step; timers run on the monotonic clock.
          FAKETIME_DONT_FAKE_MONOTONIC: '1',
        });
      }
      const proc = new HostProcess({
        ns: host.ns,
        command: process.execPath,
        args: ['--import', 'tsx', join('src', 'node', 'main.ts')],
        cwd: REPO,
        env,
        logFile: join(this.options.dir, id, 'node.log'),
        ready: isReadyLine,
        onLine: (line) => {
          const msg = /"msg":"([^"]*)"/.exec(line)?.[1];
          if (msg !== undefined) this.counts.set(msg, (this.counts.get(msg) ?? 0) + 1);
        },
        readyTimeoutMs: 60_000,
      });
      this.nodes.push({ id, ip: host.ip, dataDir, proxy, process: proc, clockFile, server: server.name });
    }
    await Promise.all(this.nodes.map((n) => startWithRestarts(n.process)));
  }

  /** A client on its own connection to all three servers, closed with the topology. */
  async client(): Promise<WharfClient> {
    const c = await WharfClient.connect({ servers: this.serverUrls, cluster: this.options.cluster, timeoutMs: 3_000 });
    this.clients.push(c);
    return c;
  }

  /** The partition's primary as the metadata says now (undefined: none recorded, or the metadata unreachable). */
  async primaryOf(queue: string, partition: number): Promise<string | undefined> {
    return (await this.assignment(queue, partition))?.primary ?? undefined;
  }

  private async assignment(queue: string, partition: number): Promise<Assignment | undefined> {
    try {
      if (this.nc === undefined) return undefined;
      this.partitionsKv ??= await new Kvm(this.nc).open(buckets(this.options.cluster).partitions);
      const entry = await this.partitionsKv.get(assignmentKey(queue, partition));
      return entry?.operation === 'PUT' ? (entry.json() as Assignment) : undefined;
    } catch {
      this.partitionsKv = undefined;
      return undefined;
    }
  }

  /** The node's registration (its store's identity and generation), as the metadata holds it now. */
  async nodeRecord(id: string): Promise<NodeRecord | undefined> {
    if (this.nc === undefined) return undefined;
    const kv = await new Kvm(this.nc).open(buckets(this.options.cluster).nodes);
    const entry = await kv.get(id);
    return entry?.operation === 'PUT' ? (entry.json() as NodeRecord) : undefined;
  }

  /** Waits (bounded) for a primary whose process runs, other than `not`. */
  async waitForPrimary(queue: string, partition: number, options: { not?: string; timeoutMs?: number } = {}): Promise<string> {
    return eventually(
      async () => {
        const p = await this.primaryOf(queue, partition);
        return p !== undefined && p !== options.not && this.node(p).process.running ? p : undefined;
      },
      { timeoutMs: options.timeoutMs ?? 60_000, intervalMs: 200, message: `a primary of ${queue}.${partition}${options.not ? ` other than ${options.not}` : ''}` },
    );
  }

  /** Waits (bounded) until every replica of `queue` reports the same, committed log end. */
  async waitForReplicasInSync(queue: string, timeoutMs = 60_000): Promise<void> {
    if (this.nc === undefined) throw new Error('no harness connection');
    await replicasInSync(this.nc, this.options.cluster, queue, NODE_IDS, timeoutMs);
  }

  /**
   * Waits (bounded) until the cluster is healthy again under load, the way an operator reads
   * `wharf cluster` between two restarts: heartbeats from every node, every partition of `queue`
   * with a primary whose in-sync set holds all three nodes, and no replica loading or a learner.
   * (With writes flowing, the replicas' log ends are rarely equal at one instant: the in-sync set
   * is the primary's own judgement of "caught up".)
   */
  async waitForHealthy(queue: string, timeoutMs = 60_000): Promise<void> {
    if (this.nc === undefined) throw new Error('no harness connection');
    const latest = new Map<string, Heartbeat>();
    const sub = this.nc.subscribe(subjects(clusterName(this.options.cluster)).allHeartbeats, {
      callback: (err, msg) => {
        if (err) return;
        try {
          const hb = msg.json<Heartbeat>();
          latest.set(hb.node, hb);
        } catch {
          // not a heartbeat
        }
      },
    });
    try {
      await eventually(
        () => {
          if (NODE_IDS.some((id) => !latest.has(id))) return false;
          const reports = [...latest.values()].flatMap((hb) => hb.replicas.filter((r) => r.queue === queue).map((r) => ({ ...r, node: hb.node })));
          if (reports.some((r) => r.role !== 'primary' && r.role !== 'follower')) return false;
          const partitions = new Set(reports.map((r) => r.partition));
          return [...partitions].every((p) => {
            const primaries = reports.filter((r) => r.partition === p && r.role === 'primary');
            return primaries.length === 1 && (primaries[0]?.isr?.length ?? 0) >= NODE_IDS.length;
          });
        },
        { timeoutMs, intervalMs: 100, message: `every replica of ${queue} in sync (in-sync sets of ${NODE_IDS.length})` },
      );
    } finally {
      sub.unsubscribe();
    }
  }

  /** Every node's live message values per partition; every node must be stopped. */
  async dumpReplicas(queue: string): Promise<ReplicaDump[]> {
    const running = this.nodes.filter((n) => n.process.running).map((n) => n.id);
    if (running.length > 0) throw new Error(`stop every node before reading their stores (running: ${running.join(', ')})`);
    return (await Promise.all(this.nodes.map((n) => dumpStore(n.id, n.dataDir, queue)))).flat();
  }

  async close(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.close().catch(() => undefined)));
    await this.nc?.close().catch(() => undefined);
    await Promise.all(this.nodes.map((n) => n.process.kill()));
    await Promise.all(this.servers.map((s) => s.process.kill()));
    for (const p of [...this.nodes.map((n) => n.process), ...this.servers.map((s) => s.process)]) p.close();
    await Promise.all(this.nodes.map((n) => n.proxy.close()));
    await this.net.teardown();
    this.unmount();
    process.removeListener('exit', this.exitHook);
  }

  private unmount(): void {
    for (const m of this.mounts.splice(0)) {
      try {
        execFileSync('umount', ['-l', m], { stdio: 'ignore' });
      } catch {
        // not mounted any more
      }
    }
  }
}

/**
 * Starts a node the way a supervisor with a restart policy would (Swarm's `on-failure`): on a fresh
 * NATS cluster, the metadata buckets' streams may have no leader yet when the first nodes write to
 * them, and such a node exits at start-up ("jetstream is not enabled"); it is started again, at most
 * five times.
 */
async function startWithRestarts(proc: HostProcess): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await proc.start();
      return;
    } catch (err) {
      if (attempt >= 5 || proc.running) throw err;
    }
  }
}

async function faketimeLib(): Promise<string> {
  for (const lib of FAKETIME_LIBS) {
    try {
      await access(lib);
      return lib;
    } catch {
      // next
    }
  }
  throw new Error(`libfaketime is not installed (apt-get install libfaketime); looked for ${FAKETIME_LIBS.join(', ')}`);
}
