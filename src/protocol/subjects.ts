/**
 * The NATS subject namespace. No other module builds a subject.
 *
 *   wharf.<cluster>.api.<principal>.<action>   client → any node's front-end        request/reply, queue group `wharf-api`
 *   wharf.<cluster>.node.<node>.api.<principal>.<action>  client → one node's front-end   request/reply (the node of a partition's primary, route.ts)
 *   wharf.<cluster>.node.<node>.heartbeat      every node                           publish (Heartbeat, JSON)
 *   wharf.<cluster>.node.<node>.partition      front-end → the node of a primary    request/reply (partition ops)
 *   wharf.<cluster>.node.<node>.replica        follower → the node of its primary   request/reply (log fetches, snapshot pages; a new primary asks the previous one for a lease release)
 *   wharf.<cluster>.node.<node>.inspect        inspector → one node                 request/reply (actors, machines, messages)
 *   wharf.<cluster>.ready.<queue>              primary → front-ends with waiters    publish (messages became ready)
 *   wharf.<cluster>.meta.changes               node → every node                    publish (a metadata write and its revision, internal.ts)
 *   wharf.<cluster>.manager.<action>           operator → the active cluster manager request/reply
 *   wharf.<cluster>.inspect.<node>             node → inspectors                    publish (only while watched)
 *   wharf.<cluster>.inspect.watch              inspector → every node               publish (a watch notice)
 *   wharf.<cluster>.node.<node>.peek           front-end → the node of a primary    request/reply (a PeekMessages page of one partition)
 *   wharf.<cluster>.lease.heartbeat.<principal> SDK client → every node             publish (LeaseHeartbeat: a consumer is alive, or says goodbye)
 *
 * `<cluster>` names one Wharf cluster, so several can share one NATS server (the tests do). The
 * protocol version travels in the request body (`v`), not in the subject.
 *
 * `<principal>` is who asks (docs/security.md): with authorization on, the NATS server lets each
 * user publish only API subjects that carry its own name and subscribe only to its own inbox prefix
 * (`inboxPrefix`), so the name in the subject is one NATS authenticated. The same holds for the lease
 * heartbeat: a user may publish only its own, so nobody keeps or ends another principal's leases.
 * Without authorization it is `anonymous` unless the client says otherwise, and nothing depends on it.
 *
 * A deployment of several clusters (docs/clusters.md) has its own namespace, apart from its clusters':
 *
 *   wharfd.<deployment>.external.<action>      client/operator → the active external manager  request/reply (JSON)
 */
import { ANONYMOUS, type ClusterName, type NodeId } from '../names.ts';
import type { Action } from './messages.ts';

export const ROOT = 'wharf';
/** Queue group of the front-ends: each API request reaches exactly one node. */
export const API_QUEUE_GROUP = 'wharf-api';

export function subjects(cluster: ClusterName) {
  const prefix = `${ROOT}.${cluster}`;
  return {
    api: (action: Action, principal: string = ANONYMOUS) => `${prefix}.api.${principal}.${action}`,
    allApi: `${prefix}.api.*.*`,
    /** The same API, answered by one node: a client sends a partition's requests to its primary's node. */
    nodeApi: (node: NodeId | string, action: Action, principal: string = ANONYMOUS) => `${prefix}.node.${node}.api.${principal}.${action}`,
    allNodeApi: (node: NodeId | string) => `${prefix}.node.${node}.api.*.*`,
    /** What a principal may publish to, for the generated NATS configuration (security/nats-config.ts). */
    principalApi: (principal: string) => [`${prefix}.api.${principal}.*`, `${prefix}.node.*.api.${principal}.*`],
    /** Everything of this cluster, for the nodes' NATS permissions. */
    all: `${prefix}.>`,
    heartbeat: (node: NodeId | string) => `${prefix}.node.${node}.heartbeat`,
    allHeartbeats: `${prefix}.node.*.heartbeat`,
    partition: (node: NodeId | string) => `${prefix}.node.${node}.partition`,
    replica: (node: NodeId | string) => `${prefix}.node.${node}.replica`,
    peek: (node: NodeId | string) => `${prefix}.node.${node}.peek`,
    ready: (queue: string) => `${prefix}.ready.${queue}`,
    /** Metadata writes, announced by their writer so other nodes need not wait for their KV watch (src/meta/metadata.ts). */
    metaChanges: `${prefix}.meta.changes`,
    /** A principal's lease heartbeats. Consumer names are not subject tokens (they may hold dots): they travel in the frame. */
    leaseHeartbeat: (principal: string = ANONYMOUS) => `${prefix}.lease.heartbeat.${principal}`,
    allLeaseHeartbeats: `${prefix}.lease.heartbeat.*`,
    manager: (action: string) => `${prefix}.manager.${action}`,
    allManager: `${prefix}.manager.*`,
    inspect: (node: NodeId) => `${prefix}.inspect.${node}`,
    allInspect: `${prefix}.inspect.*`,
    inspectWatch: `${prefix}.inspect.watch`,
    inspectRequest: (node: NodeId | string) => `${prefix}.node.${node}.inspect`,
  } as const;
}

export type Subjects = ReturnType<typeof subjects>;

/**
 * What the active cluster manager answers on `manager.<action>` (JSON, docs/operations.md):
 * `handover` comes from a node that is stopping gracefully and wants its primaries moved first.
 */
export const MANAGER_ACTIONS = ['status', 'drain', 'undrain', 'remove', 'handover'] as const;
export type ManagerAction = (typeof MANAGER_ACTIONS)[number];

/** The action named by an API subject, or undefined when the subject is not one. */
export function actionOf(subject: string): string | undefined {
  const i = subject.lastIndexOf('.');
  return i < 0 ? undefined : subject.slice(i + 1);
}

/** The principal named by an API subject (the token before the action), or undefined. */
export function principalOf(subject: string): string | undefined {
  const end = subject.lastIndexOf('.');
  const start = subject.lastIndexOf('.', end - 1);
  return end < 0 || start < 0 ? undefined : subject.slice(start + 1, end);
}

/** The principal named by a lease heartbeat subject (its last token), or undefined. */
export function leasePrincipalOf(subject: string): string | undefined {
  const i = subject.lastIndexOf('.');
  return i < 0 ? undefined : subject.slice(i + 1);
}

/**
 * The inbox prefix of a principal's connections: replies to its requests arrive under it, and the
 * generated NATS configuration lets the principal subscribe to nothing else.
 */
export function inboxPrefix(principal: string): string {
  return `_INBOX_${principal}`;
}

/** The deployment's namespace: its external cluster manager's subjects. */
export function deploymentSubjects(deployment: ClusterName) {
  const prefix = `${DEPLOYMENT_ROOT}.${deployment}`;
  return {
    external: (action: ExternalAction) => `${prefix}.external.${action}`,
  } as const;
}

export const DEPLOYMENT_ROOT = 'wharfd';

/**
 * What the active external manager answers on `external.<action>` (JSON, docs/clusters.md):
 * `status` its view of the clusters and routes; `create`, `split`, `merge` and `delete` change a
 * queue's route.
 */
export const EXTERNAL_ACTIONS = ['status', 'create', 'split', 'merge', 'delete'] as const;
export type ExternalAction = (typeof EXTERNAL_ACTIONS)[number];
