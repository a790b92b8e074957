/**
 * The cluster map the inspector page draws, kept live: the metadata (queues, assignments, nodes,
 * the manager's lease, through the metadata cache and its watches) joined with what every node's
 * heartbeat reports about its replicas. Liveness is judged the way the cluster manager judges it
 * (docs/design.md, Liveness): silent for half the failure timeout is suspected, for all of it dead;
 * silence counts from the inspector's own start at the earliest.
 */
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { parseHeartbeat } from '../../manager/heartbeat.ts';
import type { Metadata } from '../../meta/metadata.ts';
import { modelOf, type Assignment, type ClusterModel, type Heartbeat, type NodeState, type ReplicaReport, type ReplicaRole } from '../../meta/records.ts';
import type { QueueAttributes } from '../../protocol/messages.ts';
import type { Subjects } from '../../protocol/subjects.ts';

export type Liveness = 'alive' | 'suspected' | 'dead';

export interface NodeView {
  id: string;
  /** The node record's state; 'unregistered' for a node heard from but not in the metadata. */
  state: NodeState | 'unregistered';
  liveness: Liveness;
  boot: string | null;
  /** Replicas its last heartbeat reported, and how many of them as primary. */
  replicas: number;
  primaries: number;
  /** Holds the cluster manager's lease. */
  manager: boolean;
}

export interface ReplicaView {
  node: string;
  /** The liveness of the replica's node: a dead node's report is the last it sent. */
  liveness: Liveness;
  /** 'unknown' when the node has not reported this partition. */
  role: ReplicaRole | 'unknown';
  learner: boolean;
  inSync: boolean;
  epoch: number | null;
  logEnd: number | null;
  commitIndex: number | null;
  /** Entries behind the primary's log end; null when either end is unknown. */
  lag: number | null;
}

/** The assignment as the metadata holds it, with the in-sync set the primary reported last. */
export interface PartitionView extends Pick<Assignment, 'queue' | 'partition' | 'epoch' | 'primary' | 'replicas' | 'learners' | 'isr' | 'leaving'> {
  /** The primary's commit index and log end, as it last reported them. */
  commitIndex: number | null;
  logEnd: number | null;
  reports: ReplicaView[];
}

export interface QueueView {
  name: string;
  incarnation: number;
  attributes: QueueAttributes;
  createdAt: number;
  partitions: PartitionView[];
}

export interface ClusterMapView {
  cluster: string;
  /** The back-end model its node records name (docs/models.md); `primary` before any node registered. */
  model: ClusterModel;
  manager: { holder: string; term: number } | null;
  nodes: NodeView[];
  queues: QueueView[];
}

export interface ClusterMapOptions {
  nc: NatsConnection;
  subjects: Subjects;
  metadata: Metadata;
  cluster: string;
  /** The cluster's WHARF_FAILURE_TIMEOUT_MS. @default 3000 */
  failureTimeoutMs?: number;
  /** Monotonic clock, ms. */
  now?: () => number;
}

interface Heard {
  beat: Heartbeat;
  at: number;
}

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export class ClusterMap {
  private readonly heard = new Map<string, Heard>();
  private readonly sub: Subscription;
  private readonly listeners = new Set<() => void>();
  private readonly unwatch: Array<() => void>;
  private readonly started: number;
  private readonly failureTimeoutMs: number;
  private readonly now: () => number;
  private readonly options: ClusterMapOptions;

  constructor(options: ClusterMapOptions) {
    this.options = options;
    this.now = options.now ?? (() => performance.now());
    this.started = this.now();
    this.failureTimeoutMs = options.failureTimeoutMs ?? 3000;
    this.sub = options.nc.subscribe(options.subjects.allHeartbeats, {
      callback: (err, msg) => {
        if (err) return;
        const beat = parseHeartbeat(msg.data);
        if (beat === undefined) return;
        const before = this.heard.get(beat.node);
        this.heard.set(beat.node, { beat, at: this.now() });
        if (before === undefined || reportsChanged(before.beat, beat)) this.changed();
      },
    });
    const { metadata } = options;
    this.unwatch = [
      metadata.onQueue(() => this.changed()),
      metadata.onAssignment(() => this.changed()),
      metadata.onNode(() => this.changed()),
      metadata.onLease(() => this.changed()),
    ];
  }

  /** Called when the metadata or a heartbeat's reports changed (liveness changes are seen by polling `view`). */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The latest heartbeat of every node heard from. */
  heartbeats(): Heartbeat[] {
    return [...this.heard.values()].map((h) => h.beat);
  }

  view(): ClusterMapView {
    const { metadata, cluster } = this.options;
    const lease = metadata.lease()?.value;
    const records = new Map(metadata.nodes().map(({ value }) => [value.id, value]));
    const ids = [...new Set([...records.keys(), ...this.heard.keys()])].sort(byName);
    const nodes = ids.map((id): NodeView => {
      const record = records.get(id);
      const heard = this.heard.get(id);
      const reports = heard?.beat.replicas ?? [];
      return {
        id,
        state: record?.state ?? 'unregistered',
        liveness: this.livenessOf(heard),
        boot: heard?.beat.boot ?? record?.boot ?? null,
        replicas: reports.length,
        primaries: reports.filter((r) => r.role === 'primary').length,
        manager: lease?.holder === id,
      };
    });
    const assignments = metadata.assignments().map(({ value }) => value);
    const queues = metadata
      .queues()
      .map(({ value: q }): QueueView => ({
        name: q.name,
        incarnation: q.incarnation,
        attributes: q.attributes,
        createdAt: q.createdAt,
        partitions: assignments
          .filter((a) => a.queue === q.name && a.incarnation === q.incarnation)
          .sort((a, b) => a.partition - b.partition)
          .map((a) => this.partitionView(a)),
      }))
      .sort((a, b) => byName(a.name, b.name));
    // Nodes refuse to start configured for another model than the registered ones, so they agree.
    const model = [...records.values()].find((r) => r.state !== 'removed');
    return { cluster, model: model === undefined ? 'primary' : modelOf(model), manager: lease ? { holder: lease.holder, term: lease.term } : null, nodes, queues };
  }

  close(): void {
    this.sub.unsubscribe();
    for (const stop of this.unwatch) stop();
    this.listeners.clear();
  }

  private livenessOf(heard: Heard | undefined): Liveness {
    const silentMs = this.now() - Math.max(heard?.at ?? this.started, this.started);
    if (heard === undefined && silentMs < this.failureTimeoutMs) return 'suspected';
    if (silentMs >= this.failureTimeoutMs) return 'dead';
    return silentMs >= this.failureTimeoutMs / 2 ? 'suspected' : 'alive';
  }

  private report(node: string | null, a: Assignment): ReplicaReport | undefined {
    if (node === null) return undefined;
    return this.heard.get(node)?.beat.replicas.find((r) => r.queue === a.queue && r.partition === a.partition);
  }

  private partitionView(a: Assignment): PartitionView {
    const primary = this.report(a.primary, a);
    const { queue, partition, epoch, replicas, learners, leaving } = a;
    return {
      ...{ queue, partition, epoch, replicas, learners, leaving },
      primary: a.primary,
      isr: primary?.isr ?? a.isr,
      commitIndex: primary?.commitIndex ?? null,
      logEnd: primary?.logEnd ?? null,
      reports: [...new Set([...a.replicas, ...a.learners])].map((node): ReplicaView => {
        const r = this.report(node, a);
        return {
          node,
          liveness: this.livenessOf(this.heard.get(node)),
          role: r?.role ?? 'unknown',
          learner: a.learners.includes(node),
          inSync: (primary?.isr ?? a.isr).includes(node),
          epoch: r?.epoch ?? null,
          logEnd: r?.logEnd ?? null,
          commitIndex: r?.commitIndex ?? null,
          lag: r !== undefined && primary !== undefined ? Math.max(0, primary.logEnd - r.logEnd) : null,
        };
      }),
    };
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }
}

/** Whether what a node reports about itself or its replicas differs (its send time aside). */
function reportsChanged(a: Heartbeat, b: Heartbeat): boolean {
  return a.boot !== b.boot || a.state !== b.state || JSON.stringify(a.replicas) !== JSON.stringify(b.replicas);
}
