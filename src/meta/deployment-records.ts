/**
 * The deployment's metadata: several clusters sharing one NATS (or NATS supercluster) namespace,
 * and which cluster(s) hold each queue. Like the cluster's own buckets (records.ts) it lives in
 * JetStream KV, one bucket per kind; no other module names these buckets or builds their keys.
 *
 *   bucket                               key           value
 *   wharf-deploy-<deployment>-clusters   <cluster>     ClusterRecord  (put by the cluster's active internal manager)
 *   wharf-deploy-<deployment>-routes     <queue>       QueueRoute     (written by the external manager, by CAS)
 *   wharf-deploy-<deployment>-external   leader        ManagerLease   (the external manager's lease, by CAS)
 *
 * No suffix here is one of a cluster's (`wharf-<cluster>-queues`, `-partitions`, `-nodes`,
 * `-manager`, `-groups`, `-tasks`), so even a cluster named `deploy-<deployment>` has buckets of
 * its own.
 */
import * as v from 'valibot';
import { isQueueName } from '../names.ts';
import { creationAttributes } from '../protocol/attributes.ts';
import type { QueueAttributes, QueueTags } from '../protocol/messages.ts';
import { checkTags } from '../protocol/tags.ts';
import { MANAGER_LEASE_KEY, type ManagerLease } from './records.ts';
import { checkedBy, type RecordKind } from './schemas.ts';

/** How a cluster keeps its queues: primary–secondary partitions, or independent hosts. */
export type ClusterModel = 'primary' | 'hosts';
export const CLUSTER_MODELS: readonly ClusterModel[] = ['primary', 'hosts'];

/**
 * A cluster's own verdict on itself:
 * - `healthy`: every node alive, every partition with a primary and all its replicas in sync;
 * - `degraded`: serving every partition, with fewer copies than asked for somewhere;
 * - `failing`: some partition has no primary (it cannot take sends), or a majority of nodes is gone.
 */
export type ClusterHealth = 'healthy' | 'degraded' | 'failing';

/** What a cluster reports about itself, every few seconds, through its active internal manager. */
export interface ClusterRecord {
  name: string;
  model: ClusterModel;
  health: ClusterHealth;
  /** Why it is not healthy (empty when it is). */
  reason: string;
  nodes: number;
  alive: number;
  queues: number;
  partitions: number;
  /** Partitions without a primary (no sends, no receives). */
  leaderless: number;
  /** Partitions whose in-sync replicas are fewer than their voting replicas. */
  underReplicated: number;
  /** Entries committed in the primaries' logs (sends, deletes, lease changes): a measure of work done. */
  committed: number;
  /** The node whose manager wrote the report, and its wall time (informational: staleness is judged by revisions). */
  reporter: string;
  reportedAt: number;
}

/**
 * One cluster's share of a queue. `active` parts take sends; a `draining` part takes none but is
 * still received from until it is empty, when the external manager deletes it (a merge, or a move
 * away from a failing cluster).
 */
export interface QueuePart {
  cluster: string;
  state: 'active' | 'draining';
  /** Wall ms of the last change of state. */
  since: number;
}

/** Where a queue lives: its parts, and the attributes each part is created with. */
export interface QueueRoute {
  queue: string;
  attributes: QueueAttributes;
  tags?: QueueTags;
  parts: QueuePart[];
  createdAt: number;
  updatedAt: number;
}

export function deploymentBuckets(deployment: string) {
  return {
    clusters: `wharf-deploy-${deployment}-clusters`,
    routes: `wharf-deploy-${deployment}-routes`,
    manager: `wharf-deploy-${deployment}-external`,
  } as const;
}

const id = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{1,64}$/, 'expected an id of 1-64 characters [A-Za-z0-9_-]'));
const count = v.pipe(v.number(), v.integer(), v.minValue(0));
const time = v.pipe(v.number(), v.finite());

const clusterRecord: v.GenericSchema<unknown, ClusterRecord> = v.looseObject({
  name: id,
  model: v.picklist(CLUSTER_MODELS),
  health: v.picklist(['healthy', 'degraded', 'failing']),
  reason: v.pipe(v.string(), v.maxLength(1000)),
  nodes: count,
  alive: count,
  queues: count,
  partitions: count,
  leaderless: count,
  underReplicated: count,
  committed: count,
  reporter: id,
  reportedAt: time,
});

const part = v.looseObject({ cluster: id, state: v.picklist(['active', 'draining']), since: time });

const queueRoute: v.GenericSchema<unknown, QueueRoute> = v.looseObject({
  queue: v.pipe(v.string(), v.check((name: string) => isQueueName(name), 'expected a queue name')),
  // The same checks as a CreateQueue's: every part is created with them.
  attributes: v.pipe(
    v.record(v.string(), v.unknown()),
    checkedBy<Record<string, unknown>, QueueAttributes>(creationAttributes),
  ),
  tags: v.exactOptional(v.pipe(v.record(v.string(), v.string()), checkedBy<QueueTags, QueueTags>(checkTags))),
  parts: v.pipe(
    v.array(part),
    v.minLength(1),
    v.check((ps) => new Set(ps.map((p) => p.cluster)).size === ps.length, 'a cluster holds at most one part of a queue'),
  ),
  createdAt: time,
  updatedAt: time,
});

const lease: v.GenericSchema<unknown, ManagerLease> = v.looseObject({ holder: id, term: count, renewedAt: time });

export const CLUSTER: RecordKind<ClusterRecord> = { kind: 'cluster report', schema: clusterRecord, keyOf: (c) => c.name };
export const ROUTE: RecordKind<QueueRoute> = { kind: 'queue route', schema: queueRoute, keyOf: (r) => r.queue };
export const EXTERNAL_LEASE: RecordKind<ManagerLease> = { kind: 'external manager lease', schema: lease, keyOf: () => MANAGER_LEASE_KEY };

/** The parts a send may go to, in the route's order. */
export const activeParts = (route: QueueRoute): QueuePart[] => route.parts.filter((p) => p.state === 'active');
