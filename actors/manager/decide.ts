/**
 * One round of the cluster manager's decisions: from a view to the writes it wants, at most one per
 * partition, every one a compare-and-swap on the revision it was decided from. A round that loses a
 * swap is simply decided again from fresher metadata, so each rule only has to be right about the
 * view it is given.
 *
 * Per partition, the first rule that applies wins, most urgent first:
 *
 *   queue deleted or re-created ─► delete
 *   partition retired (autoscale.ts) ─► take every replica away: the empty assignment stays, so a
 *       node that was down meanwhile still learns to drop its copy
 *   every voting replica came back with a new store ─► record the new stores (the copies are lost)
 *   no primary (election under way) ─► elect the most complete log of a quorum, or wait
 *   primary dead, removed, fenced, failed or in a new store ─► fence (epoch + 1)
 *   learner that cannot catch up ─► drop it
 *   learner caught up ─► vote it in (replacing the replica it was added for)
 *   voter in a new store, caught up ─► record its new store: it votes again
 *   leaving marks ─► drop the replaced voter / clear the mark / call off the move
 *   primary drains, stops or leaves ─► fence, once a caught-up follower exists
 *   fewer healthy copies than the replication factor ─► add a learner
 *   voters without a recorded store ─► record the store they hold the partition in
 *   primary reports a new in-sync set ─► record it
 *
 * Then, cluster-wide: partitions of new queues are placed, replicas and primaries are balanced, and
 * finished drains are recorded.
 */
import { elect, failoverReason, fenced, plannedFence } from './election.ts';
import { dropLearner, promoteLearner, recordIsr, repair, settleLeaving } from './membership.ts';
import { holders, loadOf, placeQueue, type Load } from './placement.ts';
import { partitionCount, partitionStates } from '../../src/meta/layout.ts';
import { balancePrimaries, finishDrains, rebalanceReplicas } from './rebalance.ts';
import { acceptLostCopies, confirmNewStore, recordMissingStores } from './stores.ts';
import { isTombstone, keyOf, replicationFactorOf, reportOf, updateOf, type AssignmentView, type Decision, type ManagerView } from './view.ts';

export function decide(view: ManagerView): Decision[] {
  const decisions: Decision[] = [];
  const touched = new Set<string>();
  const load = loadOf(view);
  let learners = 0;
  for (const { value } of view.assignments.values()) learners += value.learners.length;
  const budget = { moves: view.options.maxConcurrentMoves - learners };

  for (const [key, a] of view.assignments) {
    const decision = decidePartition(view, a, load, budget);
    if (decision !== undefined) {
      decisions.push(decision);
      touched.add(key);
    }
  }
  for (const meta of view.queues.values()) decisions.push(...placeQueue(view, meta, load));
  decisions.push(...rebalanceReplicas(view, load, budget, touched));
  const primaryMove = balancePrimaries(view, touched);
  if (primaryMove !== undefined) decisions.push(primaryMove);
  decisions.push(...finishDrains(view));
  return decisions;
}

function decidePartition(
  view: ManagerView,
  a: AssignmentView,
  load: Map<string, Load>,
  budget: { moves: number },
): Decision | undefined {
  const v = a.value;
  const meta = view.queues.get(v.queue);
  if (meta === undefined || meta.incarnation !== v.incarnation) {
    const why = meta === undefined ? `queue ${v.queue} was deleted` : `queue ${v.queue} was re-created`;
    return { kind: 'delete', assignment: v, revision: a.revision, reason: why };
  }
  const state = partitionStates(meta)[v.partition];
  if (state === undefined) {
    return { kind: 'delete', assignment: v, revision: a.revision, reason: `queue ${v.queue} has ${partitionCount(meta)} partitions` };
  }
  if (state === 'retired') {
    if (isTombstone(v)) return undefined;
    const next = { replicas: [], learners: [], leaving: [], isr: [], primary: null, epoch: v.epoch + 1 };
    return updateOf(view, a, next, `partition ${v.partition} of ${v.queue} retired: dropping its replicas on ${holders(v).join(', ')}`);
  }
  const lost = acceptLostCopies(view, a);
  if (lost !== undefined) return lost;
  if (v.primary === null) {
    const outcome = elect(view, a);
    if (outcome.kind === 'wait') return undefined;
    return {
      kind: 'update',
      assignment: { ...v, primary: outcome.primary, updatedAt: view.wall },
      revision: a.revision,
      reason: `elect ${outcome.primary} at epoch ${v.epoch}: ${outcome.reason}`,
    };
  }
  const failure = failoverReason(view, a);
  if (failure !== undefined) {
    return { kind: 'update', assignment: fenced(view, v), revision: a.revision, reason: `${failure}: fencing epoch ${v.epoch}` };
  }
  const rf = replicationFactorOf(meta);
  const decision =
    dropLearner(view, a) ??
    promoteLearner(view, a, rf) ??
    confirmNewStore(view, a) ??
    settleLeaving(view, a, rf) ??
    plannedFence(view, a) ??
    repair(view, a, rf, load, budget) ??
    recordMissingStores(view, a);
  if (decision !== undefined) return decision;
  const report = reportOf(view, v.primary, keyOf(v));
  // The in-sync set is informational: written at most once per half failure timeout per partition,
  // so a set that flaps under load does not churn the assignment.
  const settled = view.now - a.since >= view.options.failureTimeoutMs / 2;
  if (settled && report !== undefined && report.role === 'primary' && report.epoch === v.epoch && report.at >= a.since) {
    return recordIsr(view, a, report.isr);
  }
  return undefined;
}
