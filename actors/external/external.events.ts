/** The external cluster manager machine's input, events, decisions and effects. */
import type { ClusterRecord, QueueRoute } from '../../src/meta/deployment-records.ts';
import type { ManagerLease } from '../../src/meta/records.ts';
import type { Versioned } from '../../src/meta/watched-bucket.ts';
import type { QueueAttributes, QueueTags } from '../../src/protocol/messages.ts';

export interface ExternalOptions {
  /** As the internal manager's (actors/lease/lease.ts): a standby takes a lease unrenewed for this long. */
  leaseTimeoutMs: number;
  /** Decisions are looked at again at least this often (clusters go stale with time alone). */
  tickMs: number;
  /** Pause before deciding again after a lost compare-and-swap or a failed write. */
  retryMs: number;
  /** A cluster whose report has not changed for this long is `unreachable`. */
  clusterTimeoutMs: number;
  /** A cluster failing or unreachable for this long without a break has its queues moved away. */
  moveAfterMs: number;
  /** How often a draining part is checked for emptiness (a GetQueueAttributes on its cluster). */
  retireCheckMs: number;
}

export const DEFAULT_EXTERNAL_OPTIONS: ExternalOptions = {
  leaseTimeoutMs: 3000,
  tickMs: 500,
  retryMs: 200,
  clusterTimeoutMs: 10_000,
  moveAfterMs: 30_000,
  retireCheckMs: 2000,
};

export interface ExternalInput {
  /** This instance: the lease's holder while it is active. */
  nodeId: string;
  options: ExternalOptions;
  /** Monotonic ms: every duration is measured on it. */
  now: () => number;
  /** Wall ms, for the informational `since`, `updatedAt` and `renewedAt` fields. */
  wall: () => number;
}

export interface DeploymentSnapshot {
  clusters: ReadonlyMap<string, Versioned<ClusterRecord>>;
  routes: ReadonlyMap<string, Versioned<QueueRoute>>;
  lease: Versioned<ManagerLease> | undefined;
}

/** What operators and clients ask of the active external manager (JSON over its subjects). */
export type ExternalRequest =
  | { kind: 'create'; queue: string; attributes: QueueAttributes; tags?: QueueTags }
  /** Spread the queue over `parts` clusters (active parts). */
  | { kind: 'split'; queue: string; parts: number }
  /** Keep one active part (on `into`, or the best cluster holding one); the others drain and go. */
  | { kind: 'merge'; queue: string; into?: string }
  | { kind: 'delete'; queue: string };

export type ExternalEvent =
  | { type: 'metadata'; snapshot: DeploymentSnapshot }
  | { type: 'request'; id: string; request: ExternalRequest }
  | { type: 'stop' };

/**
 * One write. `place` creates the queue on `cluster` (idempotent) before the route naming it is
 * written, so no client is ever sent to a part that does not exist; `retire` deletes a draining
 * part only if its cluster reports it empty, after the route stopped naming it.
 */
export type ExternalDecision =
  | { kind: 'place'; cluster: string; route: QueueRoute; revision: number; reason: string; request?: string }
  | { kind: 'update'; route: QueueRoute; revision: number; reason: string; request?: string }
  | { kind: 'retire'; cluster: string; queue: string; route: QueueRoute; revision: number; reason: string }
  | { kind: 'delete'; queue: string; clusters: string[]; revision: number; reason: string; request: string };

export type ExternalOutcome =
  | { kind: 'written'; revision: number }
  | { kind: 'deleted' }
  | { kind: 'conflict' }
  /** A retire found messages left in the part. */
  | { kind: 'busy' }
  | { kind: 'failed'; error: string };

export interface ExternalWriteInput {
  decisions: ExternalDecision[];
  term: number;
}
export interface ExternalWriteOutput {
  outcomes: ExternalOutcome[];
  snapshot: DeploymentSnapshot;
}

export type ExternalAnswer =
  | { type: 'answer'; id: string; ok: true; route: QueueRoute | null }
  | { type: 'answer'; id: string; ok: false; code: string; message: string };

export type ExternalEmitted = { type: 'leadership'; active: boolean; term: number; reason: string } | ExternalAnswer;
