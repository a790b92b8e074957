/** The cluster manager machine's input, events and effects. */
import type { Assignment, Heartbeat, ManagerLease, NodeRecord, QueueMeta } from '../../src/meta/records.ts';
import { DEFAULT_DECISION_OPTIONS, type DecisionOptions, type Versioned, type Write } from './view.ts';

export interface ManagerOptions extends DecisionOptions {
  /**
   * A lease whose revision has not changed for this long (by a standby's own monotonic clock) may
   * be taken over. The holder renews it every third of it and stops deciding a sixth of it before
   * it could have expired anywhere else.
   */
  leaseTimeoutMs: number;
  /** Decisions are looked at again at least this often (liveness changes with time alone). */
  tickMs: number;
  /** Pause before deciding again after a lost compare-and-swap or a failed write. */
  retryMs: number;
  /**
   * How long a node's request to hand its primaries over (a graceful stop) holds: meanwhile no
   * primary or replica is moved to it. A restart of the node ends it sooner.
   */
  handoverMs: number;
}

export const DEFAULT_MANAGER_OPTIONS: ManagerOptions = {
  ...DEFAULT_DECISION_OPTIONS,
  leaseTimeoutMs: 3000,
  tickMs: 500,
  retryMs: 200,
  handoverMs: 30_000,
};

export interface ManagerInput {
  nodeId: string;
  options: ManagerOptions;
  /** Monotonic milliseconds (performance.now in production): every duration is measured on it. */
  now: () => number;
  /** Wall milliseconds, only for the informational `updatedAt` and `renewedAt` fields. */
  wall: () => number;
}

/** The metadata cache as one consistent picture. */
export interface MetadataSnapshot {
  queues: ReadonlyMap<string, QueueMeta>;
  /** By assignmentKey(queue, partition). */
  assignments: ReadonlyMap<string, Versioned<Assignment>>;
  nodes: ReadonlyMap<string, Versioned<NodeRecord>>;
  lease: Versioned<ManagerLease> | undefined;
}

export type ManagerEvent =
  | { type: 'heartbeat'; heartbeat: Heartbeat }
  | { type: 'metadata'; snapshot: MetadataSnapshot }
  /** The manager's NATS connection came back: heartbeats may have been missed meanwhile. */
  | { type: 'reconnected' }
  /** The node is about to stop gracefully: move its primaries to caught-up followers now. */
  | { type: 'handover'; node: string }
  | { type: 'stop' };

/** A compare-and-swap of the lease: the new revision, or undefined when someone else wrote first. */
export interface LeaseWriteInput {
  lease: ManagerLease;
  revision: number;
}
export type LeaseWriteOutput = number | undefined;

export type WriteOutcome =
  | { kind: 'written'; revision: number }
  | { kind: 'deleted' }
  | { kind: 'conflict' }
  | { kind: 'failed'; error: string };

export interface WriteInput {
  decisions: Write[];
  term: number;
}
/** One outcome per decision, in order, and the metadata as it is after the writes. */
export interface WriteOutput {
  outcomes: WriteOutcome[];
  snapshot: MetadataSnapshot;
}

export type ManagerEmitted = { type: 'leadership'; active: boolean; term: number; reason: string };
