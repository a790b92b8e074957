/**
 * A simulated cluster for the manager's unit tests: an in-memory KV with revisions and
 * compare-and-swap (the metadata), and nodes whose replicas follow the assignments the way the
 * replica side of the protocol says they do (fenced replicas freeze their logs and report them;
 * followers and learners copy the primary's log; the primary reports its commit index and in-sync
 * set). Time is a number moved by hand.
 */
import type { MetadataSnapshot, WriteOutcome } from '../../actors/manager/manager.events.ts';
import {
  buildView,
  DEFAULT_DECISION_OPTIONS,
  keyOf,
  type AssignmentView,
  type DecisionOptions,
  type Handover,
  type Heard,
  type ManagerView,
  type PlannedMove,
  type Versioned,
  type Write,
} from '../../actors/manager/view.ts';
import {
  quorum,
  type Assignment,
  type Heartbeat,
  type ManagerLease,
  type NodeRecord,
  type PartitionLoad,
  type QueueMeta,
  type ReplicaReport,
  type ReplicaRole,
} from '../../src/meta/records.ts';
import type { QueueAttributes } from '../../src/protocol/messages.ts';
import { asSeenByStore } from '../../src/meta/store-identity.ts';

export const WALL = 1_700_000_000_000;

export function queueMeta(name: string, partitions = 1, replicationFactor = 3, incarnation = 7): QueueMeta {
  const attributes: QueueAttributes = {
    visibilityTimeout: 30,
    retentionPeriod: 345_600,
    maximumMessageSize: 262_144,
    delaySeconds: 0,
    receiveWaitTime: 0,
    replication: 'sync',
    deduplicationWindow: 300,
    deduplicationScope: 'queue',
    contentBasedDeduplication: false,
    fifo: false,
    retentionBytes: 0,
    mode: 'queue',
    partitions,
    replicationFactor,
  };
  return { name, attributes, incarnation, createdAt: WALL, modifiedAt: WALL };
}

export function assignment(queue: string, partition: number, replicas: string[], extra: Partial<Assignment> = {}): Assignment {
  return {
    queue,
    partition,
    incarnation: 7,
    replicas,
    learners: [],
    primary: replicas[0] ?? null,
    epoch: 1,
    isr: [...replicas],
    leaving: [],
    updatedAt: WALL,
    ...extra,
  };
}

export function report(queue: string, partition: number, role: ReplicaRole, fields: Partial<ReplicaReport> = {}): ReplicaReport {
  return { queue, partition, role, epoch: 1, lastEpoch: 1, logEnd: 0, commitIndex: 0, ...fields };
}

/** One replica's durable state on one node. */
interface Log {
  epoch: number;
  lastEpoch: number;
  logEnd: number;
  commitIndex: number;
  /** Set when the replica lost its tail (amnesia): it reports 'learner' until it caught up again. */
  role?: ReplicaRole;
}

export class World {
  now = 0;
  options: DecisionOptions;
  readonly queues = new Map<string, Versioned<QueueMeta>>();
  readonly assignments = new Map<string, AssignmentView>();
  readonly nodes = new Map<string, Versioned<NodeRecord>>();
  lease: Versioned<ManagerLease> | undefined;
  readonly heard = new Map<string, Heard>();
  moves = new Map<string, PlannedMove>();
  handovers = new Map<string, Handover>();
  /** The store each node runs on now (nodes without one report none, like nodes from before store ids). */
  readonly stores = new Map<string, string>();
  /** Nodes that stopped heartbeating (crashed or cut off). */
  readonly down = new Set<string>();
  /** node → assignment key → log. */
  readonly logs = new Map<string, Map<string, Log>>();
  /** Assignment key → the load its primary reports (queues with autoScaling). */
  readonly loads = new Map<string, PartitionLoad>();
  /** Assignment keys whose primary reports itself fenced (lost its lease) until re-elected. */
  readonly selfFenced = new Set<string>();
  private revision = 0;
  listeningSince = 0;

  constructor(options: Partial<DecisionOptions> = {}) {
    this.options = { ...DEFAULT_DECISION_OPTIONS, ...options };
  }

  addNode(id: string, state: NodeRecord['state'] = 'active', store?: string): void {
    if (store !== undefined) this.stores.set(id, store);
    const known = this.stores.get(id);
    const record: NodeRecord = { id, boot: `${id}-boot`, state, registeredAt: WALL, ...(known === undefined ? {} : { store: known }) };
    this.nodes.set(id, { value: record, revision: ++this.revision });
    this.logs.set(id, this.logs.get(id) ?? new Map());
  }

  /**
   * The node restarts on an empty store with a new id (a wiped disk): every log it had is gone, and
   * it registers again with the new store, as a node does at start.
   */
  wipe(id: string, store: string): void {
    this.stores.set(id, store);
    this.logs.set(id, new Map());
    const record = this.nodes.get(id);
    if (record === undefined) throw new Error(`no node ${id}`);
    this.nodes.set(id, { value: { ...record.value, boot: `${id}-boot-${store}`, store }, revision: ++this.revision });
  }

  setNodeState(id: string, state: NodeRecord['state']): void {
    const record = this.nodes.get(id);
    if (record === undefined) throw new Error(`no node ${id}`);
    this.nodes.set(id, { value: { ...record.value, state }, revision: ++this.revision });
  }

  addQueue(name: string, partitions = 1, replicationFactor = 3, incarnation = 7): void {
    this.queues.set(name, { value: queueMeta(name, partitions, replicationFactor, incarnation), revision: ++this.revision });
  }

  deleteQueue(name: string): void {
    this.queues.delete(name);
    ++this.revision;
  }

  /** Puts an assignment as if an earlier manager had written it. */
  put(a: Assignment): AssignmentView {
    const entry = { value: a, revision: ++this.revision, since: this.now };
    this.assignments.set(keyOf(a), entry);
    return entry;
  }

  get(queue: string, partition = 0): Assignment {
    const a = this.assignments.get(keyOf({ queue, partition }));
    if (a === undefined) throw new Error(`no assignment ${queue}.${partition}`);
    return a.value;
  }

  log(node: string, key: string): Log {
    const logs = this.logs.get(node) ?? new Map<string, Log>();
    this.logs.set(node, logs);
    let log = logs.get(key);
    if (log === undefined) {
      log = { epoch: 0, lastEpoch: 0, logEnd: 0, commitIndex: 0 };
      logs.set(key, log);
    }
    return log;
  }

  view(): ManagerView {
    return buildView({
      now: this.now,
      wall: WALL + this.now,
      options: this.options,
      listeningSince: this.listeningSince,
      queues: new Map([...this.queues].map(([k, v]) => [k, v.value])),
      records: this.nodes,
      assignments: this.assignments,
      heard: this.heard,
      moves: this.moves,
      handovers: this.handovers,
    });
  }

  snapshot(): MetadataSnapshot {
    return {
      queues: new Map([...this.queues].map(([k, v]) => [k, v.value])),
      assignments: new Map([...this.assignments].map(([k, v]) => [k, { value: v.value, revision: v.revision }])),
      nodes: new Map(this.nodes),
      lease: this.lease,
    };
  }

  /** Applies decisions as compare-and-swaps, the way the metadata service does. */
  apply(decisions: readonly Write[]): WriteOutcome[] {
    return decisions.map((d) => {
      if (d.kind === 'layout') {
        const current = this.queues.get(d.queue);
        if (current === undefined || current.value.incarnation !== d.incarnation || (current.value.layout?.generation ?? 0) !== d.generation) return { kind: 'conflict' };
        this.queues.set(d.queue, { value: { ...current.value, layout: d.layout }, revision: ++this.revision });
        return { kind: 'written', revision: this.revision };
      }
      if (d.kind === 'node') {
        const current = this.nodes.get(d.record.id);
        if (current === undefined || current.revision !== d.revision) return { kind: 'conflict' };
        this.nodes.set(d.record.id, { value: d.record, revision: ++this.revision });
        return { kind: 'written', revision: this.revision };
      }
      const key = keyOf(d.assignment);
      const current = this.assignments.get(key);
      if ((current?.revision ?? 0) !== d.revision) return { kind: 'conflict' };
      if (d.kind === 'delete') {
        this.assignments.delete(key);
        ++this.revision;
        this.moves.delete(key);
        return { kind: 'deleted' };
      }
      this.assignments.set(key, { value: d.assignment, revision: ++this.revision, since: this.now });
      if (d.kind === 'update' && d.move !== undefined) this.moves.set(key, d.move);
      else if (d.assignment.primary !== null) this.moves.delete(key);
      if (d.assignment.primary !== null) this.selfFenced.delete(key);
      return { kind: 'written', revision: this.revision };
    });
  }

  casLease(lease: ManagerLease, revision: number): number | undefined {
    if ((this.lease?.revision ?? 0) !== revision) return undefined;
    this.lease = { value: lease, revision: ++this.revision };
    return this.revision;
  }

  /** The primary of a partition appends `count` entries; followers copy them at the next heartbeat. */
  append(queue: string, partition: number, count: number): void {
    const a = this.get(queue, partition);
    if (a.primary === null) throw new Error('no primary');
    const log = this.log(a.primary, keyOf(a));
    log.lastEpoch = a.epoch;
    log.logEnd += count;
  }

  /** What a node says in its heartbeat, following the replica side of the protocol. */
  heartbeatOf(node: string): Heartbeat {
    const replicas: ReplicaReport[] = [];
    const store = this.stores.get(node);
    for (const recorded of [...this.assignments.values()].map((e) => e.value)) {
      // As the node acts on it: a voter recorded in another store acts as a learner.
      const a = store === undefined ? recorded : asSeenByStore(recorded, node, store);
      const key = keyOf(a);
      const voter = a.replicas.includes(node);
      if (!voter && !a.learners.includes(node)) continue;
      const log = this.log(node, key);
      log.epoch = Math.max(log.epoch, a.epoch);
      let role: ReplicaRole;
      let isr: string[] | undefined;
      if (a.primary === node && !voter) {
        // Named primary but acting as a learner: it fetches from itself, which serves nothing.
        role = 'learner';
      } else if (a.primary === node) {
        if (this.selfFenced.has(key)) role = 'fenced';
        else {
          role = 'primary';
          const ends = a.replicas
            .filter((n) => !this.down.has(n) || n === node)
            .map((n) => (n === node ? log.logEnd : this.counted(n, a) ? this.log(n, key).logEnd : 0))
            .sort((x, y) => y - x);
          log.commitIndex = ends[quorum(a.replicas.length) - 1] ?? 0;
          isr = a.replicas.filter((n) => !this.down.has(n) && this.counted(n, a) && this.log(n, key).logEnd === log.logEnd);
        }
      } else if (a.primary === null || this.down.has(a.primary)) {
        // Fenced, or the primary is gone: the log stays as it is.
        role = log.role ?? (voter ? 'follower' : 'learner');
      } else {
        const primary = this.log(a.primary, key);
        // Catching up (after truncating to the primary's history): instant in this world.
        log.lastEpoch = primary.lastEpoch;
        log.logEnd = primary.logEnd;
        log.commitIndex = primary.commitIndex;
        delete log.role;
        role = voter ? 'follower' : 'learner';
      }
      replicas.push({
        queue: a.queue,
        partition: a.partition,
        role,
        epoch: log.epoch,
        lastEpoch: log.lastEpoch,
        logEnd: log.logEnd,
        commitIndex: log.commitIndex,
        ...(isr === undefined ? {} : { isr }),
        ...(role === 'primary' && this.loads.has(key) ? { load: this.loads.get(key) as PartitionLoad } : {}),
      });
    }
    const record = this.nodes.get(node)?.value;
    return {
      node,
      boot: record?.boot ?? `${node}-boot`,
      at: WALL + this.now,
      state: record?.state ?? 'active',
      ...(store === undefined ? {} : { store }),
      replicas,
    };
  }

  /** Whether the primary counts `node`'s copy for commit: a voter that acts as one (not in a replaced store). */
  private counted(node: string, a: Assignment): boolean {
    const store = this.stores.get(node);
    return store === undefined || asSeenByStore(a, node, store).replicas.includes(node);
  }

  /** Every node that is up heartbeats (twice: followers copy what the primary reported first). */
  heartbeat(): void {
    for (let round = 0; round < 2; round++) {
      for (const node of this.nodes.keys()) {
        if (this.down.has(node)) continue;
        this.receive(this.heartbeatOf(node));
      }
    }
  }

  receive(hb: Heartbeat): void {
    this.heard.set(hb.node, {
      boot: hb.boot,
      state: hb.state,
      at: this.now,
      reports: new Map(hb.replicas.map((r) => [keyOf(r), r])),
      ...(hb.store === undefined ? {} : { store: hb.store }),
    });
  }

  /**
   * Runs the manager until it has nothing more to do: heartbeat, decide, write, with `stepMs` of
   * time passing per round. Returns every decision that was written.
   */
  settle<W extends Write>(
    decide: (view: ManagerView) => W[],
    options: { rounds?: number; stepMs?: number; afterRound?: (w: World) => void } = {},
  ): W[] {
    const written: W[] = [];
    for (let round = 0; round < (options.rounds ?? 200); round++) {
      this.heartbeat();
      const decisions = decide(this.view());
      if (decisions.length === 0) return written;
      const outcomes = this.apply(decisions);
      decisions.forEach((d, i) => {
        if (outcomes[i]?.kind !== 'conflict') written.push(d);
      });
      options.afterRound?.(this);
      this.now += options.stepMs ?? 100;
    }
    throw new Error(`no fixed point after ${options.rounds ?? 200} rounds`);
  }

  /** Replica counts (voters and learners) per node. */
  replicaCounts(nodes: readonly string[] = [...this.nodes.keys()]): Map<string, number> {
    const counts = new Map<string, number>(nodes.map((n) => [n, 0]));
    for (const { value } of this.assignments.values()) {
      for (const n of value.replicas) if (counts.has(n)) counts.set(n, (counts.get(n) ?? 0) + 1);
    }
    return counts;
  }

  primaryCounts(nodes: readonly string[] = [...this.nodes.keys()]): Map<string, number> {
    const counts = new Map<string, number>(nodes.map((n) => [n, 0]));
    for (const { value } of this.assignments.values()) {
      if (value.primary !== null && counts.has(value.primary)) counts.set(value.primary, (counts.get(value.primary) ?? 0) + 1);
    }
    return counts;
  }
}

/**
 * Three nodes a, b, c (with stores `<node>-1` when `withStores`), one queue `q` of one partition on
 * all three with primary a, and ten entries on every replica.
 */
export function threeNodes(withStores = false): World {
  const w = new World();
  for (const n of ['a', 'b', 'c']) w.addNode(n, 'active', withStores ? `${n}-1` : undefined);
  w.addQueue('q');
  w.put(assignment('q', 0, ['a', 'b', 'c'], withStores ? { stores: { a: 'a-1', b: 'b-1', c: 'c-1' } } : {}));
  w.heartbeat();
  w.append('q', 0, 10);
  w.heartbeat();
  return w;
}

export const spread = (counts: ReadonlyMap<string, number>): number => {
  const values = [...counts.values()];
  return values.length === 0 ? 0 : Math.max(...values) - Math.min(...values);
};

/** The assignment a decision writes (undefined for node records or no decision). */
export function written(d: Write | undefined): Assignment | undefined {
  return d === undefined || d.kind === 'node' || d.kind === 'layout' ? undefined : d.assignment;
}
