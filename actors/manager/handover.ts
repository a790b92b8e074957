/**
 * A graceful stop hands the node's primaries over first: the node asks the active manager, which
 * marks it stopping (view.ts NodeView.stopping). Each of its primaries is then moved by a planned
 * fence (election.ts plannedFence) to a caught-up follower, and nothing is moved to it meanwhile.
 * The answer says at once which partitions will move (to a caught-up follower, or to one that is
 * catching up) and which cannot (no other voting replica on an active, live node), so the node
 * waits only for the former.
 */
import { successorOf } from './election.ts';
import { isEligible, keyOf, type ManagerView } from './view.ts';

export interface HandoverPlan {
  /** Partitions (queue.partition) whose primary on the node will move, and to whom most likely. */
  moving: Array<{ partition: string; to: string }>;
  /** Partitions whose primary stays until the node stops, and why. */
  staying: Array<{ partition: string; reason: string }>;
}

export function handoverPlan(view: ManagerView, node: string): HandoverPlan {
  const plan: HandoverPlan = { moving: [], staying: [] };
  for (const { value } of view.assignments.values()) {
    if (value.primary !== node) continue;
    // A follower that is behind now is moved to as soon as it has caught up (plannedFence): only a
    // partition with no other voter on an active, live node stays where it is.
    const to = successorOf(view, value) ?? value.replicas.find((n) => n !== node && isEligible(view.nodes.get(n)));
    if (to !== undefined) plan.moving.push({ partition: keyOf(value), to });
    else plan.staying.push({ partition: keyOf(value), reason: 'no other voting replica on an active, live node' });
  }
  return plan;
}
