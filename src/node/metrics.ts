/**
 * The node's Prometheus metrics (prom-client, one registry per node so several nodes can share a
 * process). Gauges are read from the actors, the replica reports and the store when scraped, so they
 * cost the hot path nothing; counters and the latency histogram are updated once per request, not
 * per message. docs/metrics.md describes every metric.
 *
 * | metric                                      | type      | labels                 |
 * | ------------------------------------------- | --------- | ---------------------- |
 * | wharf_queue_messages                        | gauge     | queue                  |
 * | wharf_queue_messages_in_flight              | gauge     | queue                  |
 * | wharf_queue_messages_delayed                | gauge     | queue                  |
 * | wharf_queue_oldest_message_age_seconds      | gauge     | queue                  |
 * | wharf_queue_partitions_serving              | gauge     | queue                  |
 * | wharf_messages_sent_total                   | counter   | queue                  |
 * | wharf_messages_received_total               | counter   | queue                  |
 * | wharf_messages_redelivered_total            | counter   | queue                  |
 * | wharf_messages_deleted_total                | counter   | queue                  |
 * | wharf_messages_dead_lettered_total          | counter   | queue                  |
 * | wharf_partition_role                        | gauge     | queue, partition, role |
 * | wharf_partition_epoch                       | gauge     | queue, partition       |
 * | wharf_partition_log_end                     | gauge     | queue, partition       |
 * | wharf_partition_commit_index                | gauge     | queue, partition       |
 * | wharf_partition_replication_lag_entries     | gauge     | queue, partition       |
 * | wharf_partition_in_sync_replicas            | gauge     | queue, partition       |
 * | wharf_elections_total                       | counter   | queue                  |
 * | wharf_failovers_total                       | counter   | queue                  |
 * | wharf_requests_total                        | counter   | action, code           |
 * | wharf_request_duration_seconds              | histogram | action                 |
 * | (default process and Node.js metrics)       |           |                        |
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { parseHeartbeat } from '../manager/heartbeat.ts';
import type { Assignment, ReplicaReport, ReplicaRole } from '../meta/records.ts';
import type { QueueName } from '../names.ts';
import type { Subjects } from '../protocol/subjects.ts';
import type { Store } from '../storage/store.ts';
import { oldestSentAt } from './oldest-message.ts';

export interface QueueGauges {
  name: string;
  counts(): { visible: number; inflight: number; delayed: number } | undefined;
  serving(): number;
}

/** What the partition and cluster metrics are read from; without it only the queue metrics exist. */
export interface NodeSources {
  self: string;
  /** This node's replicas, as its heartbeat reports them. */
  replicas(): ReplicaReport[];
  store: Store;
  /** The metadata service: elections are counted from assignment changes, on the node they land on. */
  metadata: {
    assignments(): ReadonlyArray<{ value: Assignment }>;
    onAssignment(listener: (key: string, entry: { value: Assignment } | undefined) => void): () => void;
  };
  /** The other nodes' heartbeats give each partition's primary log end, for the lag. */
  nc: NatsConnection;
  subs: Subjects;
  /** Wall clock, ms. */
  now(): number;
  /** Whether the node considers itself cut off from its cluster (peer-watch.ts). */
  cutOff?(): boolean;
}

const ROLES: readonly ReplicaRole[] = ['loading', 'primary', 'follower', 'learner', 'fenced', 'failed'];

export class NodeMetrics {
  readonly registry = new Registry();
  readonly sent: Counter<'queue'>;
  readonly received: Counter<'queue'>;
  readonly redelivered: Counter<'queue'>;
  readonly deleted: Counter<'queue'>;
  readonly deadLettered: Counter<'queue'>;
  readonly elections: Counter<'queue'>;
  readonly failovers: Counter<'queue'>;
  readonly leaseWaits: Counter<'queue' | 'outcome'>;
  readonly requests: Counter<'action' | 'code'>;
  readonly duration: Histogram<'action'>;
  /** Each partition's primary log end as its primary last reported it ("queue/partition" → entries). */
  private readonly primaryEnds = new Map<string, number>();
  private readonly stops: Array<() => void> = [];

  constructor(queues: () => Iterable<QueueGauges>, sources?: NodeSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'wharf_' });
    const gauge = (name: string, help: string, pick: (c: { visible: number; inflight: number; delayed: number }) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['queue'],
        registers,
        collect() {
          this.reset();
          for (const q of queues()) {
            const c = q.counts();
            if (c) this.set({ queue: q.name }, pick(c));
          }
        },
      });
    gauge('wharf_queue_messages', 'Messages receivable now.', (c) => c.visible);
    gauge('wharf_queue_messages_in_flight', 'Messages received and not yet deleted.', (c) => c.inflight);
    gauge('wharf_queue_messages_delayed', 'Messages waiting out a delay.', (c) => c.delayed);
    new Gauge({
      name: 'wharf_queue_partitions_serving',
      help: 'Partitions of the queue loaded and serving.',
      labelNames: ['queue'],
      registers,
      collect() {
        this.reset();
        for (const q of queues()) this.set({ queue: q.name }, q.serving());
      },
    });
    this.sent = new Counter({ name: 'wharf_messages_sent_total', help: 'Messages accepted.', labelNames: ['queue'], registers });
    this.received = new Counter({ name: 'wharf_messages_received_total', help: 'Deliveries, redeliveries included.', labelNames: ['queue'], registers });
    this.redelivered = new Counter({
      name: 'wharf_messages_redelivered_total',
      help: 'Deliveries of messages delivered before (receive count above 1).',
      labelNames: ['queue'],
      registers,
    });
    this.deleted = new Counter({ name: 'wharf_messages_deleted_total', help: 'Messages deleted by receipt handle.', labelNames: ['queue'], registers });
    this.deadLettered = new Counter({
      name: 'wharf_messages_dead_lettered_total',
      help: 'Messages moved to a dead-letter queue (none yet: Wharf has no dead-letter queues).',
      labelNames: ['queue'],
      registers,
      collect() {
        // Shown at 0 for every queue, so alerts on it work before the first dead letter.
        for (const q of queues()) this.inc({ queue: q.name }, 0);
      },
    });
    this.elections = new Counter({
      name: 'wharf_elections_total',
      help: 'Partitions whose primary became this node, at a new epoch, since it started.',
      labelNames: ['queue'],
      registers,
    });
    this.failovers = new Counter({
      name: 'wharf_failovers_total',
      help: 'Elections to this node that took a partition over from a primary on another node.',
      labelNames: ['queue'],
      registers,
    });
    this.leaseWaits = new Counter({
      name: 'wharf_lease_waits_total',
      help: 'How the replicated primaries of this node started serving: waited out the previous lease, released by the previous primary, or ended by the voters\' silence.',
      labelNames: ['queue', 'outcome'],
      registers,
    });
    this.requests = new Counter({ name: 'wharf_requests_total', help: 'API requests by outcome.', labelNames: ['action', 'code'], registers });
    this.duration = new Histogram({
      name: 'wharf_request_duration_seconds',
      help: 'Time from an API request to its reply.',
      labelNames: ['action'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25],
      registers,
    });
    if (sources) this.partitionMetrics(sources);
  }

  /** The message counters per queue (sent, received, deleted since the node started), for inspectors. */
  async messageCounters(): Promise<Record<string, { sent: number; received: number; deleted: number }>> {
    const out: Record<string, { sent: number; received: number; deleted: number }> = {};
    const add = async (counter: Counter<'queue'>, field: 'sent' | 'received' | 'deleted') => {
      for (const { labels, value } of (await counter.get()).values) {
        const queue = labels.queue;
        if (typeof queue !== 'string') continue;
        out[queue] ??= { sent: 0, received: 0, deleted: 0 };
        out[queue][field] = value;
      }
    };
    await Promise.all([add(this.sent, 'sent'), add(this.received, 'received'), add(this.deleted, 'deleted')]);
    return out;
  }

  /** Stops listening to assignments and heartbeats. */
  close(): void {
    for (const stop of this.stops.splice(0)) stop();
  }

  private partitionMetrics(sources: NodeSources): void {
    const registers = [this.registry];
    const perReplica = (name: string, help: string, pick: (r: ReplicaReport) => number | undefined) =>
      new Gauge({
        name,
        help,
        labelNames: ['queue', 'partition'],
        registers,
        collect() {
          this.reset();
          for (const r of sources.replicas()) {
            const value = pick(r);
            if (value !== undefined) this.set({ queue: r.queue, partition: String(r.partition) }, value);
          }
        },
      });
    new Gauge({
      name: 'wharf_node_cut_off',
      help: '1 while the node hears no other node and holds no manager lease, and answers clients node_isolated.',
      registers,
      collect() {
        this.set(sources.cutOff?.() === true ? 1 : 0);
      },
    });
    new Gauge({
      name: 'wharf_partition_role',
      help: "1 for the role this node's replica of the partition has now.",
      labelNames: ['queue', 'partition', 'role'],
      registers,
      collect() {
        this.reset();
        for (const r of sources.replicas()) {
          for (const role of ROLES) this.set({ queue: r.queue, partition: String(r.partition), role }, r.role === role ? 1 : 0);
        }
      },
    });
    perReplica('wharf_partition_epoch', 'The highest epoch the replica has persisted.', (r) => r.epoch);
    perReplica('wharf_partition_log_end', 'Index after the last entry of the replica’s log.', (r) => r.logEnd);
    perReplica('wharf_partition_commit_index', 'Index below which the replica knows entries are committed.', (r) => r.commitIndex);
    perReplica('wharf_partition_replication_lag_entries', 'Entries the replica is behind its primary’s log end (0 on the primary).', (r) => {
      if (r.role === 'primary') return 0;
      const primaryEnd = this.primaryEnds.get(`${r.queue}/${r.partition}`);
      return primaryEnd === undefined ? undefined : Math.max(0, primaryEnd - r.logEnd);
    });
    perReplica('wharf_partition_in_sync_replicas', 'Replicas in sync with the primary, itself included (primary only).', (r) =>
      r.role === 'primary' ? (r.isr?.length ?? 1) : undefined,
    );
    const store = sources.store;
    new Gauge({
      name: 'wharf_queue_oldest_message_age_seconds',
      help: 'Age of the oldest message (ready, in flight or delayed) in the partitions this node serves as primary.',
      labelNames: ['queue'],
      registers,
      async collect() {
        this.reset();
        const oldest = new Map<string, number>();
        for (const r of sources.replicas()) {
          if (r.role !== 'primary') continue;
          const sentAt = await oldestSentAt(store, r.queue as QueueName, r.partition);
          const known = oldest.get(r.queue);
          if (sentAt !== undefined && (known === undefined || sentAt < known)) oldest.set(r.queue, sentAt);
          else if (known === undefined) oldest.set(r.queue, Infinity);
        }
        const now = sources.now();
        for (const [queue, sentAt] of oldest) this.set({ queue }, sentAt === Infinity ? 0 : Math.max(0, (now - sentAt) / 1000));
      },
    });

    const heartbeats = sources.nc.subscribe(sources.subs.allHeartbeats, {
      callback: (err, msg) => {
        if (err) return;
        const hb = parseHeartbeat(msg.data);
        for (const r of hb?.replicas ?? []) if (r.role === 'primary') this.primaryEnds.set(`${r.queue}/${r.partition}`, r.logEnd);
      },
    });
    this.stops.push(() => heartbeats.unsubscribe());
    this.stops.push(this.countElections(sources));
  }

  /**
   * Counts, on the node that won it, every assignment change that makes this node the primary at a
   * new epoch, a new partition's first primary included. The assignments there at start are the
   * baseline.
   */
  private countElections(sources: NodeSources): () => void {
    const seen = new Map<string, { primary: string | null; lastPrimary: string | null; epoch: number }>();
    for (const { value: a } of sources.metadata.assignments()) {
      seen.set(`${a.queue}/${a.partition}`, { primary: a.primary, lastPrimary: a.primary, epoch: a.epoch });
    }
    return sources.metadata.onAssignment((_key, entry) => {
      if (!entry) return;
      const a = entry.value;
      const key = `${a.queue}/${a.partition}`;
      const before = seen.get(key) ?? { primary: null, lastPrimary: null, epoch: -1 };
      seen.set(key, { primary: a.primary, lastPrimary: a.primary ?? before.lastPrimary, epoch: a.epoch });
      if (a.epoch <= before.epoch || a.primary !== sources.self || before.primary === sources.self) return;
      this.elections.inc({ queue: a.queue });
      if (before.lastPrimary !== null && before.lastPrimary !== sources.self) this.failovers.inc({ queue: a.queue });
    });
  }
}
