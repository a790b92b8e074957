/**
 * Changes to one partition's replica set, always "catch up, then switch": a node joins as a learner
 * (copies the log, neither counts for commit nor can be elected) and becomes a voting replica only
 * once its log reaches the primary's commit index. The node it replaces is named in `leaving` from
 * the moment the learner is added, so the intent survives a change of manager.
 *
 * Each function looks at one assignment and returns at most one update, or undefined.
 */
import { isCaughtUp } from './election.ts';
import { holders, leastLoaded, type Load } from './placement.ts';
import { hasNewStore, settledStore, updateOf, type AssignmentView, type Decision, type ManagerView, type NodeView } from './view.ts';

const without = (list: readonly string[], ...drop: string[]) => list.filter((n) => !drop.includes(n));

const update = updateOf;

/**
 * Why a voting replica on this node should be replaced, or undefined: the node drains, was
 * removed, or has been dead longer than `replaceAfterMs`. Draining is the only planned reason: it
 * counts against the limit of concurrent moves, repairs do not.
 */
export function outgoingReason(view: ManagerView, node: NodeView | undefined): { reason: string; planned: boolean } | undefined {
  if (node === undefined) return { reason: 'is unknown', planned: false };
  if (node.state === 'removed') return { reason: 'was removed', planned: false };
  if (node.state === 'draining') return { reason: 'is draining', planned: true };
  const deadFor = node.silentMs - view.options.failureTimeoutMs;
  if (node.liveness === 'dead' && deadFor >= view.options.replaceAfterMs) {
    return { reason: `has been dead for ${Math.round(deadFor)} ms`, planned: false };
  }
  return undefined;
}

/** A learner that cannot catch up (dead, draining, removed) or is already a voter is dropped. */
export function dropLearner(view: ManagerView, a: AssignmentView): Decision | undefined {
  for (const learner of a.value.learners) {
    const node = view.nodes.get(learner);
    let why: string | undefined;
    if (a.value.replicas.includes(learner)) why = 'is already a voting replica';
    else if (node === undefined || node.liveness === 'dead') why = 'is dead';
    else if (node.state !== 'active') why = `is ${node.state}`;
    if (why !== undefined) {
      return update(view, a, { learners: without(a.value.learners, learner) }, `learner ${learner} ${why}`);
    }
  }
  return undefined;
}

/**
 * A caught-up learner becomes a voter, in the same write as the replica it replaces leaves. When
 * the replica being left is the primary, the learner is added first (one replica too many for a
 * moment): the primary moves by election, then the old one is dropped (see `shrink`).
 */
export function promoteLearner(view: ManagerView, a: AssignmentView, rf: number): Decision | undefined {
  const value = a.value;
  for (const learner of value.learners) {
    if (!isCaughtUp(view, value, learner, ['learner', 'follower'])) continue;
    // Its store is recorded as it is voted in; while the node's sources disagree (it has just
    // restarted on another store) its report may come from the store it no longer has.
    const store = settledStore(view, learner);
    if (store === undefined && (view.nodes.get(learner)?.stores.length ?? 0) > 0) continue;
    const stores = store === undefined ? {} : { stores: { ...value.stores, [learner]: store } };
    const learners = without(value.learners, learner);
    const leaving = value.leaving.find((n) => value.replicas.includes(n) && n !== value.primary);
    if (leaving !== undefined) {
      return update(
        view,
        a,
        { replicas: [...without(value.replicas, leaving), learner], learners, leaving: without(value.leaving, leaving), ...stores },
        `learner ${learner} caught up: it replaces ${leaving}`,
      );
    }
    if (value.replicas.length < rf || (value.primary !== null && value.leaving.includes(value.primary))) {
      return update(view, a, { replicas: [...value.replicas, learner], learners, ...stores }, `learner ${learner} caught up: it becomes a voting replica`);
    }
    return update(view, a, { learners }, `learner ${learner} caught up but is no longer needed`);
  }
  return undefined;
}

/**
 * Settles `leaving`: a leaving voter is dropped once the primary is elsewhere and its replacement
 * voted in (one replica too many); a mark on a node that holds no voting replica is cleared; a move
 * whose learner is gone is called off when the node being left is healthy again.
 */
export function settleLeaving(view: ManagerView, a: AssignmentView, rf: number): Decision | undefined {
  const value = a.value;
  for (const node of value.leaving) {
    if (!value.replicas.includes(node)) {
      return update(view, a, { leaving: without(value.leaving, node) }, `${node} no longer holds a voting replica`);
    }
    if (node !== value.primary && value.primary !== null && value.replicas.length > rf) {
      return update(
        view,
        a,
        { replicas: without(value.replicas, node), leaving: without(value.leaving, node), isr: without(value.isr, node) },
        `${node} leaves: its replacement is a voting replica`,
      );
    }
    const state = view.nodes.get(node);
    if (
      value.learners.length === 0 &&
      value.replicas.length <= rf &&
      state?.liveness === 'alive' &&
      outgoingReason(view, state) === undefined
    ) {
      return update(view, a, { leaving: without(value.leaving, node) }, `move off ${node} called off: no learner is catching up and ${node} is healthy`);
    }
  }
  return undefined;
}

/**
 * Adds a learner when the partition has fewer healthy copies than its replication factor: fewer
 * nodes than the factor at creation, a replica on a node dead for `replaceAfterMs`, removed, or
 * draining. The replica to replace is marked leaving in the same write. `budget` bounds planned
 * moves (draining); repairs of lost redundancy go ahead regardless.
 */
export function repair(
  view: ManagerView,
  a: AssignmentView,
  rf: number,
  load: Map<string, Load>,
  budget: { moves: number },
): Decision | undefined {
  const value = a.value;
  let outgoing: { node: string; reason: string; planned: boolean } | undefined;
  for (const node of value.replicas) {
    if (value.leaving.includes(node)) continue;
    const why = outgoingReason(view, view.nodes.get(node));
    if (why !== undefined) {
      outgoing = { node, ...why };
      break;
    }
  }
  const healthy = holders(value).filter((n) => outgoingReason(view, view.nodes.get(n)) === undefined);
  if (outgoing !== undefined && healthy.length >= rf) {
    // A learner already catching up (or a spare voter) takes its place: only the intent is recorded.
    return update(
      view,
      a,
      { leaving: [...value.leaving, outgoing.node] },
      `replica on ${outgoing.node}, which ${outgoing.reason}, leaves: ${healthy.length} healthy copies remain`,
    );
  }
  if (outgoing === undefined && healthy.length >= rf) return undefined;
  if (outgoing?.planned === true && budget.moves <= 0) return undefined;
  const [target] = leastLoaded(load, 1, [...value.replicas, ...value.learners]);
  if (target === undefined) return undefined;
  (load.get(target) as Load).replicas++;
  budget.moves--;
  if (outgoing === undefined) {
    return update(view, a, { learners: [...value.learners, target] }, `${healthy.length} healthy copies of ${rf}: ${target} joins as a learner`);
  }
  const source = load.get(outgoing.node);
  if (source) source.replicas--;
  return update(
    view,
    a,
    { learners: [...value.learners, target], leaving: [...value.leaving, outgoing.node] },
    `replica on ${outgoing.node}, which ${outgoing.reason}, is replaced: ${target} joins as a learner`,
  );
}

/** Records the in-sync set the primary reported, when it differs. */
export function recordIsr(view: ManagerView, a: AssignmentView, reported: readonly string[] | undefined): Decision | undefined {
  if (reported === undefined) return undefined;
  const next = [...new Set(reported)].filter((n) => !hasNewStore(view, a.value, n)).sort();
  const current = [...new Set(a.value.isr)].sort();
  if (next.length === current.length && next.every((n, i) => n === current[i])) return undefined;
  return update(view, a, { isr: next }, `primary ${a.value.primary} reports in-sync replicas [${next.join(', ')}]`);
}
