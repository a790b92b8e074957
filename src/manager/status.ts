/**
 * The `manager.status` answer: who manages, every node with its liveness, and every partition with
 * what each of its replicas last reported, including its lag behind the primary's log.
 */
import { drainBlockers, type DrainBlocker } from '../../actors/manager/drain.ts';
import { viewOf, type ManagerContext } from '../../actors/manager/manager.machine.ts';
import { hasNewStore, keyOf, reportOf, type Liveness } from '../../actors/manager/view.ts';
import { partitionStates } from '../meta/layout.ts';
import type { Assignment, NodeState, PartitionState, ReplicaRole } from '../meta/records.ts';

export interface ReplicaStatus {
  node: string;
  /** 'unknown' when the node has not reported this partition. */
  role: ReplicaRole | 'unknown';
  epoch: number | null;
  lastEpoch: number | null;
  logEnd: number | null;
  commitIndex: number | null;
  /** The primary's log end minus this replica's; null when either is unknown. */
  lag: number | null;
  /** A voting replica whose node came back with another store: a learner until it has caught up. */
  newStore: boolean;
}

export interface ManagerStatus {
  /** The node answering (always the active manager). */
  manager: string;
  active: boolean;
  holder: string | null;
  term: number;
  nodes: Array<{ id: string; state: NodeState; liveness: Liveness; silentMs: number; boot: string | null; store: string | null; stopping: boolean }>;
  /** `state`: the partition's in its queue's layout (auto-scaling): active, draining or retired; absent from older managers. */
  assignments: Array<Assignment & { revision: number; state?: PartitionState; reports: ReplicaStatus[] }>;
  /** Every draining node, with the partitions that cannot move off it now (a drain that cannot finish). */
  drains: Array<{ node: string; blocked: DrainBlocker[] }>;
}

export function managerStatus(context: ManagerContext, active: boolean): ManagerStatus {
  const view = viewOf(context);
  return {
    manager: context.nodeId,
    active,
    holder: context.observedLease?.value.holder ?? null,
    term: context.held?.term ?? context.observedLease?.value.term ?? 0,
    nodes: [...view.nodes.values()].map((n) => ({
      id: n.id,
      state: n.state,
      liveness: n.liveness,
      silentMs: Math.round(n.silentMs),
      boot: n.boot ?? null,
      store: n.stores[0] ?? null,
      stopping: n.stopping,
    })),
    assignments: [...view.assignments.values()]
      .sort((x, y) => (x.value.queue === y.value.queue ? x.value.partition - y.value.partition : x.value.queue < y.value.queue ? -1 : 1))
      .map(({ value, revision }) => {
        const key = keyOf(value);
        const primaryEnd = reportOf(view, value.primary, key)?.logEnd;
        const nodes = [...new Set([...value.replicas, ...value.learners])];
        const meta = view.queues.get(value.queue);
        return {
          ...value,
          revision,
          state: (meta === undefined ? undefined : partitionStates(meta)[value.partition]) ?? 'active',
          reports: nodes.map((node): ReplicaStatus => {
            const r = reportOf(view, node, key);
            return {
              node,
              role: r?.role ?? 'unknown',
              epoch: r?.epoch ?? null,
              lastEpoch: r?.lastEpoch ?? null,
              logEnd: r?.logEnd ?? null,
              commitIndex: r?.commitIndex ?? null,
              lag: r !== undefined && primaryEnd !== undefined ? primaryEnd - r.logEnd : null,
              newStore: value.replicas.includes(node) && hasNewStore(view, value, node),
            };
          }),
        };
      }),
    drains: [...view.nodes.values()]
      .filter((n) => n.state === 'draining')
      .map((n) => ({ node: n.id, blocked: drainBlockers(view, n.id) })),
  };
}
