/**
 * What the cluster manager decides from: one snapshot of the metadata (queues, assignments, node
 * records) joined with what the nodes last reported in their heartbeats, at one instant of the
 * manager's monotonic clock. Every decision function in this folder is a pure function of a
 * `ManagerView`; the machine builds one per decision round.
 */
import type { Assignment, NodeRecord, NodeState, PartitionLayout, QueueMeta, ReplicaReport } from '../../src/meta/records.ts';
import { assignmentKey } from '../../src/meta/records.ts';
import { storeReplaced } from '../../src/meta/store-identity.ts';

export interface Versioned<T> {
  value: T;
  /** The KV revision of the key: the token every compare-and-swap names. */
  revision: number;
}

/** Timings and limits of the decisions (the machine adds the lease timings). */
export interface DecisionOptions {
  /** A node silent this long is dead (suspected after half of it). */
  failureTimeoutMs: number;
  /** A replica whose node has been dead this long is replaced on another node. */
  replaceAfterMs: number;
  /** Learners added for rebalancing or draining at once (repairs are not limited). */
  maxConcurrentMoves: number;
}

export const DEFAULT_DECISION_OPTIONS: DecisionOptions = {
  failureTimeoutMs: 3000,
  replaceAfterMs: 30_000,
  maxConcurrentMoves: 2,
};

export type Liveness = 'alive' | 'suspected' | 'dead';

export interface NodeView {
  id: string;
  state: NodeState;
  /** The boot id of the last heartbeat, or of the record when none was heard. */
  boot: string | undefined;
  liveness: Liveness;
  /** Since the last heartbeat, or since the manager started listening when none was heard. */
  silentMs: number;
  record: Versioned<NodeRecord> | undefined;
  /**
   * The store ids the node is known to have now: its last heartbeat's and its record's. Two
   * different ones mean it has just started on a new store and the other source has not caught up.
   */
  stores: readonly string[];
  /** The node asked to hand its primaries over before it stops (a graceful stop under way). */
  stopping: boolean;
}

export interface AssignmentView extends Versioned<Assignment> {
  /** Manager time this revision was first seen: reports older than it say nothing about it. */
  since: number;
}

export interface ReportView extends ReplicaReport {
  /** Manager time the heartbeat carrying it arrived. */
  at: number;
}

export interface ManagerView {
  /** The manager's monotonic clock, ms. */
  now: number;
  /** Wall time for `updatedAt` fields (informational only). */
  wall: number;
  options: DecisionOptions;
  nodes: ReadonlyMap<string, NodeView>;
  queues: ReadonlyMap<string, QueueMeta>;
  /** By `assignmentKey(queue, partition)`. */
  assignments: ReadonlyMap<string, AssignmentView>;
  /** Node → assignment key → its latest report. */
  reports: ReadonlyMap<string, ReadonlyMap<string, ReportView>>;
  /**
   * Partitions whose primary this manager fenced on purpose (drain, balance): the election prefers
   * any other safe candidate than `from`, and `to` among equals. Kept in memory only: lost on a
   * takeover, which only means a plain election.
   */
  moves: ReadonlyMap<string, PlannedMove>;
}

/** A node's request to hand its primaries over: good until `until` (manager clock), for its boot `boot`. */
export interface Handover {
  boot: string | undefined;
  until: number;
}

export interface PlannedMove {
  from: string;
  to?: string;
}

/** One write the manager wants, each a compare-and-swap on `revision` (0: the key must not exist). */
export type Decision =
  | { kind: 'create'; assignment: Assignment; revision: 0; reason: string }
  | {
      kind: 'update';
      assignment: Assignment;
      revision: number;
      reason: string;
      /** Set by a planned fence: where the election should move the primary from, and to. */
      move?: PlannedMove;
    }
  | { kind: 'delete'; assignment: Assignment; revision: number; reason: string }
  | { kind: 'node'; record: NodeRecord; revision: number; reason: string };

/** A queue's new partition layout (autoscale.ts), written only over the generation it was decided from. */
export interface LayoutChange {
  kind: 'layout';
  queue: string;
  incarnation: number;
  generation: number;
  layout: PartitionLayout;
  reason: string;
}

/** Every write of a decision round. */
export type Write = Decision | LayoutChange;

export const keyOf = (a: { queue: string; partition: number }) => assignmentKey(a.queue, a.partition);

/**
 * An update of one assignment, CAS on the revision it was decided from. Recorded stores are kept
 * for voting replicas only: a node voted in again later gets the store it has then.
 */
export function updateOf(view: ManagerView, a: AssignmentView, next: Partial<Assignment>, reason: string): Decision {
  const value: Assignment = { ...a.value, ...next, updatedAt: view.wall };
  if (value.stores !== undefined) {
    value.stores = Object.fromEntries(Object.entries(value.stores).filter(([node]) => value.replicas.includes(node)));
  }
  return { kind: 'update', assignment: value, revision: a.revision, reason };
}

/** The assignment of a retired partition: no replica holds it any more. */
export const isTombstone = (a: Assignment): boolean => a.replicas.length === 0 && a.learners.length === 0 && a.primary === null;

export function livenessOf(silentMs: number, failureTimeoutMs: number): Liveness {
  if (silentMs >= failureTimeoutMs) return 'dead';
  if (silentMs >= failureTimeoutMs / 2) return 'suspected';
  return 'alive';
}

/** The latest report of `node` about one partition. */
export function reportOf(view: ManagerView, node: string | null, key: string): ReportView | undefined {
  return node === null ? undefined : view.reports.get(node)?.get(key);
}

/** Nodes new replicas and primaries may go to: active (not draining, removed or stopping) and heard from recently. */
export function isEligible(node: NodeView | undefined): node is NodeView {
  return node !== undefined && node.state === 'active' && node.liveness === 'alive' && !node.stopping;
}

/**
 * Whether `node`'s voting replica of `a` lost its copy: the assignment recorded it in a store the
 * node no longer has. Such a replica is a learner until it has caught up: its report is not a
 * frozen log of an election, it cannot be elected, and it is not in sync.
 */
export function hasNewStore(view: ManagerView, a: Assignment, node: string): boolean {
  const stores = view.nodes.get(node)?.stores ?? [];
  return stores.some((store) => storeReplaced(a, node, store));
}

/** The store a node's reports come from, when every source agrees on one. */
export function settledStore(view: ManagerView, node: string): string | undefined {
  const stores = view.nodes.get(node)?.stores ?? [];
  return stores.length > 0 && stores.every((s) => s === stores[0]) ? stores[0] : undefined;
}

/** Copies each partition of the queue should have. Records written before the attribute existed get 3. */
export function replicationFactorOf(meta: QueueMeta): number {
  const rf = (meta.attributes as { replicationFactor?: number }).replicationFactor ?? 3;
  return Math.max(1, Math.floor(rf));
}

/** Primaries per node, over every assignment. */
export function primaryCounts(view: ManagerView): Map<string, number> {
  const counts = new Map<string, number>();
  for (const { value } of view.assignments.values()) {
    if (value.primary !== null) counts.set(value.primary, (counts.get(value.primary) ?? 0) + 1);
  }
  return counts;
}

/** A heartbeat as the manager keeps it. */
export interface Heard {
  boot: string;
  state: NodeState;
  store?: string;
  /** Manager time of arrival. */
  at: number;
  reports: ReadonlyMap<string, ReplicaReport>;
}

export interface ViewParts {
  now: number;
  wall: number;
  options: DecisionOptions;
  /**
   * Since when the manager's view of heartbeats is complete (its start, or its last reconnection to
   * NATS): silence is counted from no earlier than this, so what it missed while cut off does not
   * make live nodes look dead.
   */
  listeningSince: number;
  queues: ReadonlyMap<string, QueueMeta>;
  records: ReadonlyMap<string, Versioned<NodeRecord>>;
  assignments: ReadonlyMap<string, AssignmentView>;
  heard: ReadonlyMap<string, Heard>;
  moves: ReadonlyMap<string, PlannedMove>;
  /** Nodes stopping gracefully. @default none */
  handovers?: ReadonlyMap<string, Handover>;
}

/**
 * Joins records and heartbeats. A node is known from its record, its heartbeats, or an assignment
 * naming it (a node that vanished from the registry is still a replica until moved off).
 */
export function buildView(parts: ViewParts): ManagerView {
  const ids = new Set<string>([...parts.records.keys(), ...parts.heard.keys()]);
  for (const { value } of parts.assignments.values()) {
    for (const id of [...value.replicas, ...value.learners, ...value.leaving]) ids.add(id);
  }
  const nodes = new Map<string, NodeView>();
  for (const id of [...ids].sort()) {
    const record = parts.records.get(id);
    const heard = parts.heard.get(id);
    const silentMs = Math.max(0, parts.now - Math.max(heard?.at ?? parts.listeningSince, parts.listeningSince));
    const boot = heard?.boot ?? record?.value.boot;
    const handover = parts.handovers?.get(id);
    const stores = [...new Set([heard?.store, record?.value.store].filter((s): s is string => s !== undefined))];
    nodes.set(id, {
      id,
      // The record is the manager's and the operator's word (drain, remove); a heartbeat only fills in.
      state: record?.value.state ?? heard?.state ?? 'active',
      boot,
      liveness: livenessOf(silentMs, parts.options.failureTimeoutMs),
      silentMs,
      record,
      stores,
      // A restart (another boot) ends it: the node no longer stops.
      stopping: handover !== undefined && parts.now < handover.until && handover.boot === boot,
    });
  }
  const reports = new Map<string, Map<string, ReportView>>();
  for (const [id, heard] of parts.heard) {
    const byKey = new Map<string, ReportView>();
    for (const [key, report] of heard.reports) byKey.set(key, { ...report, at: heard.at });
    reports.set(id, byKey);
  }
  return {
    now: parts.now,
    wall: parts.wall,
    options: parts.options,
    nodes,
    queues: parts.queues,
    assignments: parts.assignments,
    reports,
    moves: parts.moves,
  };
}
