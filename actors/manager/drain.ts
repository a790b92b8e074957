/**
 * Whether a drain can finish: a draining node's replicas move by "catch up, then switch" (see
 * membership.ts `repair`), which needs, for every partition it holds a voting replica of, either
 * enough healthy copies elsewhere already or an eligible node without a copy to put a learner on.
 * A partition with neither would keep the node draining for ever, so the manager says so up front
 * (the drain request is refused) and for as long as it lasts (in `manager.status`).
 */
import { ErrorCode } from '../../src/errors.ts';
import { outgoingReason } from './membership.ts';
import { holders } from './placement.ts';
import { keyOf, replicationFactorOf, type ManagerView } from './view.ts';

export interface DrainBlocker {
  queue: string;
  partition: number;
  code: typeof ErrorCode.DrainBlocked;
  reason: string;
}

/** The partitions that cannot move off `node` now, each with why; empty when the drain can finish. */
export function drainBlockers(view: ManagerView, node: string): DrainBlocker[] {
  const blocked: DrainBlocker[] = [];
  for (const { value: a } of view.assignments.values()) {
    // A learner on the node is simply dropped; a partition of a deleted queue is deleted.
    if (!a.replicas.includes(node)) continue;
    const meta = view.queues.get(a.queue);
    if (meta === undefined || meta.incarnation !== a.incarnation) continue;
    const rf = replicationFactorOf(meta);
    const others = holders(a).filter((n) => n !== node);
    const healthy = others.filter((n) => outgoingReason(view, view.nodes.get(n)) === undefined);
    if (healthy.length >= rf) continue;
    // A node only suspected for a moment (a late heartbeat) still counts: what blocks is structural.
    const spare = [...view.nodes.values()].filter(
      (n) => n.id !== node && n.state === 'active' && n.liveness !== 'dead' && !n.stopping && !a.replicas.includes(n.id) && !a.learners.includes(n.id),
    );
    if (spare.length > 0) continue;
    const elsewhere = others.length === 0 ? 'no other node holds it' : `${others.join(', ')} already hold it`;
    blocked.push({
      queue: a.queue,
      partition: a.partition,
      code: ErrorCode.DrainBlocked,
      reason:
        `${keyOf(a)} needs ${rf} copies and ${elsewhere}: no other active, live node without a copy can take ` +
        `the one on ${node} (start another node first)`,
    });
  }
  return blocked.sort((x, y) => (x.queue === y.queue ? x.partition - y.partition : x.queue < y.queue ? -1 : 1));
}

/** One line for an operator: how many partitions are blocked and the first few reasons. */
export function drainBlockedMessage(node: string, blocked: readonly DrainBlocker[], shown = 3): string {
  const head = blocked.slice(0, shown).map((b) => b.reason);
  const more = blocked.length > shown ? `; and ${blocked.length - shown} more` : '';
  return `node ${node} cannot be drained: ${blocked.length} partition${blocked.length === 1 ? '' : 's'} cannot move: ${head.join('; ')}${more}`;
}
