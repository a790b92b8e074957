/**
 * Elections, in two compare-and-swaps on the assignment:
 *
 *   1. fence:  { primary: null, epoch: epoch + 1 }  replicas stop following, persist the epoch and
 *              report their frozen log ends;
 *   2. elect:  { primary: pick }  (same epoch) once a quorum of voting replicas reported.
 *
 * A committed entry is on a quorum of the voting replicas, and any two quorums intersect, so among
 * the frozen logs of any quorum the most complete one — highest (lastEpoch, logEnd) — holds every
 * committed entry. The pick is always the maximum of some quorum of frozen reports; with fewer
 * reports the partition waits (no unclean election).
 */
import { quorum, type Assignment, type ReplicaReport } from '../../src/meta/records.ts';
import {
  hasNewStore,
  keyOf,
  primaryCounts,
  reportOf,
  type AssignmentView,
  type Decision,
  type ManagerView,
  type ReportView,
} from './view.ts';

type Position = Pick<ReplicaReport, 'lastEpoch' | 'logEnd'>;

/** Orders log positions: by the epoch of the last entry, then by its end (KIP-101's rule). */
export function comparePositions(a: Position, b: Position): number {
  return a.lastEpoch - b.lastEpoch || a.logEnd - b.logEnd;
}

/**
 * Step 1, at an epoch above every epoch the partition's replicas reported: a replica refuses an
 * epoch below the highest it persisted, so a fence at the assignment's epoch + 1 would never be
 * obeyed by a replica that learned a higher one (a forged log fetch, or a metadata copy that lost a
 * write) and the partition would stay without a primary.
 */
export function fenced(view: ManagerView, a: Assignment): Assignment {
  const key = keyOf(a);
  let epoch = a.epoch;
  for (const node of a.replicas) epoch = Math.max(epoch, reportOf(view, node, key)?.epoch ?? 0);
  // The primary being fenced is the one its successor asks to release the lease (Assignment.previous).
  const previous = a.primary === null ? {} : { previous: { primary: a.primary, epoch: a.epoch } };
  return { ...a, primary: null, epoch: epoch + 1, updatedAt: view.wall, ...previous };
}

/** Why the primary has to be replaced now (a failure, not a planned move), or undefined. */
export function failoverReason(view: ManagerView, a: AssignmentView): string | undefined {
  const primary = a.value.primary;
  if (primary === null) return undefined;
  const node = view.nodes.get(primary);
  if (node === undefined || node.liveness === 'dead') {
    return `primary ${primary} silent for ${Math.round(node?.silentMs ?? Infinity)} ms`;
  }
  if (node.state === 'removed') return `primary ${primary} was removed from the cluster`;
  if (hasNewStore(view, a.value, primary)) return `primary ${primary} came back with a new store (its copy is lost)`;
  const report = reportOf(view, primary, keyOf(a.value));
  // Only reports that arrived after this revision was seen: an older one may predate the election.
  if (report !== undefined && report.at >= a.since) {
    if (report.role === 'failed') return `primary ${primary} reports its partition failed`;
    if (report.role === 'fenced' && report.epoch >= a.value.epoch) {
      return `primary ${primary} reports itself fenced at epoch ${report.epoch}`;
    }
    // It came back without entries it had (amnesia): it must not serve, and will not by itself.
    if (report.role === 'learner' && report.epoch >= a.value.epoch) {
      return `primary ${primary} reports itself a learner at epoch ${report.epoch} (its log lost entries)`;
    }
  }
  return undefined;
}

/**
 * Whether `node` is a live, active follower of the current primary holding everything the primary
 * knows to be committed: a planned move of the primary (drain, balance) waits for one, so the
 * election that follows it has a candidate at once.
 */
export function isCaughtUp(view: ManagerView, a: Assignment, node: string, roles: readonly string[] = ['follower']): boolean {
  return !hasNewStore(view, a, node) && reportsCaughtUp(view, a, node, roles);
}

/** Whether `node`'s latest report, in one of `roles`, holds everything the primary reports committed. */
export function reportsCaughtUp(view: ManagerView, a: Assignment, node: string, roles: readonly string[]): boolean {
  const key = keyOf(a);
  const primary = reportOf(view, a.primary, key);
  if (primary === undefined || primary.role !== 'primary' || primary.epoch !== a.epoch) return false;
  const report = reportOf(view, node, key);
  const state = view.nodes.get(node);
  return (
    report !== undefined &&
    roles.includes(report.role) &&
    report.epoch === a.epoch &&
    report.logEnd >= primary.commitIndex &&
    state?.liveness === 'alive'
  );
}

export type ElectionOutcome =
  | { kind: 'elect'; primary: string; reason: string }
  | { kind: 'wait'; reason: string };

interface Candidate {
  node: string;
  report: ReportView;
}

/**
 * Step 2: the primary of a fenced assignment (primary null), or why there is none yet. Among the
 * equally complete safe candidates `prefer` (lower first) decides when given; otherwise the node
 * with the fewest primaries, then the lowest id. Whatever the preference, the pick is safe.
 */
export function elect(view: ManagerView, a: AssignmentView, prefer?: (node: string) => number): ElectionOutcome {
  const { value } = a;
  const key = keyOf(value);
  const needed = quorum(value.replicas.length);
  // Frozen logs: follower reports at (or past) the fence epoch, heard after the fence was seen.
  const frozen: Candidate[] = [];
  // A voting replica that lost acknowledged entries (a learner with a witness position) still counts
  // toward the quorum, at the position it had reached, but cannot be elected.
  const witnesses = new Set<string>();
  for (const node of new Set(value.replicas)) {
    // A replica whose store was replaced lost what it had: its log is no witness of anything.
    if (hasNewStore(view, value, node)) continue;
    const report = reportOf(view, node, key);
    if (report === undefined || report.epoch < value.epoch || report.at < a.since) continue;
    if (report.role === 'follower') frozen.push({ node, report });
    else if (report.role === 'learner' && report.witness !== undefined) {
      frozen.push({ node, report: { ...report, ...report.witness } });
      witnesses.add(node);
    }
  }
  if (frozen.length < needed) {
    return { kind: 'wait', reason: `${frozen.length} of the ${needed} frozen logs needed have been reported` };
  }
  // Safe: at least as complete as `needed` frozen logs (itself included), i.e. the maximum of a quorum.
  const safe = frozen.filter(
    (c) => frozen.filter((o) => comparePositions(o.report, c.report) <= 0).length >= needed,
  );
  const electable = safe.filter((c) => {
    if (witnesses.has(c.node)) return false;
    const node = view.nodes.get(c.node);
    return node !== undefined && node.liveness === 'alive' && node.state !== 'removed';
  });
  if (electable.length === 0) {
    return { kind: 'wait', reason: 'no live replica holds the most complete log of a quorum' };
  }
  // Drain and balance move primaries away; if only the node being left is safe, it is elected again.
  const move = view.moves.get(key);
  const preferred = electable.filter((c) => {
    const node = view.nodes.get(c.node);
    return node?.state === 'active' && !node.stopping && !value.leaving.includes(c.node) && c.node !== move?.from;
  });
  const pool = preferred.length > 0 ? preferred : electable;
  const primaries = primaryCounts(view);
  const intended = (c: Candidate) => (c.node === move?.to ? 0 : 1);
  pool.sort(
    (x, y) =>
      comparePositions(y.report, x.report) ||
      intended(x) - intended(y) ||
      (prefer === undefined ? 0 : prefer(x.node) - prefer(y.node)) ||
      (primaries.get(x.node) ?? 0) - (primaries.get(y.node) ?? 0) ||
      (x.node < y.node ? -1 : x.node > y.node ? 1 : 0),
  );
  const pick = pool[0] as Candidate;
  if (move !== undefined && pick.node === move.from) {
    // Under load the primary being moved off has an uncommitted tail its followers lack, so from a
    // bare quorum it alone is safe. With every live voter's report another is too: worth a wait, for
    // at most a failure timeout.
    const reported = new Set(frozen.map((c) => c.node));
    const silent = value.replicas.filter(
      (n) => !reported.has(n) && view.nodes.get(n)?.liveness === 'alive' && !hasNewStore(view, value, n),
    );
    if (silent.length > 0 && view.now - a.since < view.options.failureTimeoutMs) {
      return { kind: 'wait', reason: `only ${pick.node}, which the primary is moving off, is safe so far; waiting for ${silent.join(', ')} to report` };
    }
  }
  const { lastEpoch, logEnd } = pick.report;
  return {
    kind: 'elect',
    primary: pick.node,
    reason:
      `${frozen.length} of ${value.replicas.length} replicas reported frozen logs at epoch ${value.epoch} ` +
      `(quorum ${needed}); ${pick.node} has the most complete eligible log (lastEpoch ${lastEpoch}, logEnd ${logEnd})`,
  };
}

/**
 * A planned move of the primary (its node drains, or it is being moved off the partition): fence
 * once a caught-up follower can take over, so the partition is without a primary for one round of
 * heartbeats only. The election then avoids the old primary if another candidate is safe, and
 * prefers the caught-up follower found here among equally complete logs.
 */
export function plannedFence(view: ManagerView, a: AssignmentView): Decision | undefined {
  const v = a.value;
  if (v.primary === null) return undefined;
  const node = view.nodes.get(v.primary);
  const why =
    node?.state === 'draining'
      ? 'drains'
      : node?.stopping === true
        ? 'is stopping'
        : v.leaving.includes(v.primary)
          ? 'is leaving the partition'
          : undefined;
  if (why === undefined) return undefined;
  const successor = successorOf(view, v);
  if (successor === undefined) return undefined;
  return {
    kind: 'update',
    assignment: fenced(view, v),
    revision: a.revision,
    move: { from: v.primary, to: successor },
    reason: `primary ${v.primary} ${why} and ${successor} follows caught up: fencing epoch ${v.epoch}`,
  };
}

/** A voting replica that can take over from the primary at once: active, not stopping or leaving, caught up. */
export function successorOf(view: ManagerView, v: Assignment): string | undefined {
  return v.replicas.find((n) => {
    const candidate = view.nodes.get(n);
    return n !== v.primary && !v.leaving.includes(n) && candidate?.state === 'active' && !candidate.stopping && isCaughtUp(view, v, n);
  });
}
