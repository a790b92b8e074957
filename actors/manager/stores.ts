/**
 * Which store each voting replica lives in (Assignment.stores, see src/meta/store-identity.ts).
 *
 * A node that comes back under its id with another store (a wiped or replaced disk, a bad
 * restore) lost its copies, and its replicas report short logs as if nothing had happened. A
 * voting replica whose node's store differs from the one recorded for it is therefore a learner in
 * all but name: its node acts as one (asSeenByStore), and the manager neither counts its report in
 * an election nor elects it nor counts it in sync (election.ts, membership.ts). Once it has caught
 * up with the primary's commit index, its new store is recorded and it votes again: the same
 * "catch up, then switch" as a learner's. Assignments written before store ids existed get them
 * recorded as their replicas show they hold the partition.
 */
import type { Assignment } from '../../src/meta/records.ts';
import { reportsCaughtUp } from './election.ts';
import { hasNewStore, keyOf, reportOf, settledStore, updateOf, type AssignmentView, type Decision, type ManagerView } from './view.ts';

/** The settled stores of `nodes`, for a new assignment (nodes without a known store are left out). */
export function storesOf(view: ManagerView, nodes: readonly string[]): Pick<Assignment, 'stores'> {
  const stores: Record<string, string> = {};
  for (const node of nodes) {
    const store = settledStore(view, node);
    if (store !== undefined) stores[node] = store;
  }
  return Object.keys(stores).length === 0 ? {} : { stores };
}

/**
 * Every voting replica came back with a new store: no copy is left to catch up from, and waiting
 * would not bring one back. Their new stores are recorded, so the partition goes on with what they
 * hold (nothing, or what they copied since); the loss is in the reason, logged by the manager.
 */
export function acceptLostCopies(view: ManagerView, a: AssignmentView): Decision | undefined {
  const { replicas } = a.value;
  if (replicas.length === 0 || !replicas.every((n) => hasNewStore(view, a.value, n))) return undefined;
  const stores: Record<string, string> = {};
  for (const node of replicas) {
    const store = settledStore(view, node);
    if (store === undefined) return undefined;
    stores[node] = store;
  }
  return updateOf(
    view,
    a,
    { stores: { ...a.value.stores, ...stores } },
    `every voting replica of ${keyOf(a.value)} (${replicas.join(', ')}) came back with a new store: ` +
      `the partition's earlier entries are lost; their new stores are recorded`,
  );
}

/** A voting replica in a new store that has caught up (as a learner) votes again, in its new store. */
export function confirmNewStore(view: ManagerView, a: AssignmentView): Decision | undefined {
  const value = a.value;
  for (const node of value.replicas) {
    if (node === value.primary || !hasNewStore(view, value, node)) continue;
    const store = settledStore(view, node);
    if (store === undefined || !reportsCaughtUp(view, value, node, ['learner', 'follower'])) continue;
    return updateOf(
      view,
      a,
      { stores: { ...value.stores, [node]: store } },
      `replica on ${node} came back with a new store ${store} and has caught up: it votes again`,
    );
  }
  return undefined;
}

/**
 * Voting replicas with no store recorded (assignments from before store ids, or nodes that did not
 * say) get the store they hold the partition in, once they show they hold it: the primary serving,
 * a follower caught up.
 */
export function recordMissingStores(view: ManagerView, a: AssignmentView): Decision | undefined {
  const value = a.value;
  const missing: Record<string, string> = {};
  for (const node of value.replicas) {
    if (value.stores?.[node] !== undefined) continue;
    const store = settledStore(view, node);
    if (store === undefined) continue;
    const report = reportOf(view, node, keyOf(value));
    const holds =
      node === value.primary
        ? report?.role === 'primary' && report.epoch === value.epoch
        : reportsCaughtUp(view, value, node, ['follower']);
    if (holds) missing[node] = store;
  }
  const nodes = Object.keys(missing);
  if (nodes.length === 0) return undefined;
  return updateOf(view, a, { stores: { ...value.stores, ...missing } }, `recording the stores of ${nodes.join(', ')}`);
}
