/**
 * Cluster-wide balance, after every partition's own repairs: replica counts per node within one of
 * each other (moves by catch-up then switch, at most `maxConcurrentMoves` learners in flight), and
 * primaries within one (moved by a planned election, only towards a caught-up follower). Also ends
 * drains: a draining node that holds nothing any more is marked removed.
 */
import { fenced, isCaughtUp } from './election.ts';
import { byLoad, type Load } from './placement.ts';
import { isEligible, isTombstone, keyOf, type AssignmentView, type Decision, type ManagerView } from './view.ts';

/** Moves one replica at a time from the most to the least loaded node while they differ by two or more. */
export function rebalanceReplicas(
  view: ManagerView,
  load: Map<string, Load>,
  budget: { moves: number },
  touched: Set<string>,
): Decision[] {
  const decisions: Decision[] = [];
  while (budget.moves > 0) {
    const move = findMove(view, load, touched);
    if (move === undefined) break;
    const { a, source, target } = move;
    const before = `${source} holds ${(load.get(source) as Load).replicas} replicas, ${target} ${(load.get(target) as Load).replicas}`;
    (load.get(source) as Load).replicas--;
    (load.get(target) as Load).replicas++;
    budget.moves--;
    touched.add(keyOf(a.value));
    decisions.push({
      kind: 'update',
      assignment: {
        ...a.value,
        learners: [...a.value.learners, target],
        leaving: [...a.value.leaving, source],
        updatedAt: view.wall,
      },
      revision: a.revision,
      reason: `rebalance: ${before}; ${target} joins as a learner to take over from ${source}`,
    });
  }
  return decisions;
}

function findMove(view: ManagerView, load: Map<string, Load>, touched: Set<string>) {
  const order = [...load.keys()].sort(byLoad(load));
  for (const source of [...order].reverse()) {
    for (const target of order) {
      if ((load.get(source) as Load).replicas - (load.get(target) as Load).replicas < 2) break;
      let best: AssignmentView | undefined;
      for (const a of view.assignments.values()) {
        const v = a.value;
        if (touched.has(keyOf(v)) || v.primary === null || v.learners.length > 0 || v.leaving.length > 0) continue;
        if (!v.replicas.includes(source) || v.replicas.includes(target)) continue;
        // A follower moves without an election; a primary only when nothing else can.
        if (best === undefined || (best.value.primary === source && v.primary !== source)) best = a;
        if (v.primary !== source) break;
      }
      if (best !== undefined) return { a: best, source, target };
    }
  }
  return undefined;
}

/**
 * Moves one primary towards a node with two primaries fewer than the busiest: fences a partition of
 * a busiest node where the next node on the shortest chain of hand-overs follows caught up (a
 * hand-over needs the receiver to be a caught-up follower of that partition). Middle nodes of a
 * chain have one primary fewer than the busiest, so every hop but the last leaves the spread as it
 * is and the last one reduces it; the chain from the receiver is one shorter the next time round.
 * The election then prefers the intended receiver among equally complete logs. One move at a
 * time, and not while any election runs.
 */
export function balancePrimaries(view: ManagerView, touched: Set<string>): Decision | undefined {
  for (const a of view.assignments.values()) if (a.value.primary === null && !isTombstone(a.value)) return undefined;
  const counts = new Map<string, number>();
  for (const node of view.nodes.values()) if (isEligible(node)) counts.set(node.id, 0);
  for (const { value } of view.assignments.values()) {
    if (value.primary !== null && counts.has(value.primary)) counts.set(value.primary, (counts.get(value.primary) ?? 0) + 1);
  }
  if (counts.size < 2) return undefined;
  const count = (n: string) => counts.get(n) ?? 0;
  const max = Math.max(...counts.values());
  if (max - Math.min(...counts.values()) < 2) return undefined;

  // Hand-overs: primary → caught-up follower, with the partition that allows it.
  const edges = new Map<string, Array<{ to: string; a: AssignmentView }>>();
  for (const a of view.assignments.values()) {
    const v = a.value;
    if (v.primary === null || touched.has(keyOf(v)) || v.leaving.length > 0 || !counts.has(v.primary)) continue;
    for (const to of v.replicas) {
      if (to === v.primary || !counts.has(to) || !isCaughtUp(view, v, to)) continue;
      const list = edges.get(v.primary) ?? [];
      list.push({ to, a });
      edges.set(v.primary, list);
    }
  }
  // Breadth first from every busiest node, through nodes with one primary fewer.
  type Hop = { from: string; to: string; a: AssignmentView };
  // The first hop of the chain that reached each node (none for the busiest nodes themselves).
  const first = new Map<string, Hop | undefined>();
  const queue = [...counts.keys()].sort().filter((n) => count(n) === max);
  for (const n of queue) first.set(n, undefined);
  while (queue.length > 0) {
    const at = queue.shift() as string;
    for (const edge of edges.get(at) ?? []) {
      if (first.has(edge.to)) continue;
      const start = first.get(at) ?? { from: at, to: edge.to, a: edge.a };
      if (count(edge.to) <= max - 2) return fence(view, touched, start, count, edge.to);
      if (count(edge.to) === max - 1) {
        first.set(edge.to, start);
        queue.push(edge.to);
      }
    }
  }
  return undefined;
}

function fence(
  view: ManagerView,
  touched: Set<string>,
  hop: { from: string; to: string; a: AssignmentView },
  count: (n: string) => number,
  end: string,
): Decision {
  const v = hop.a.value;
  touched.add(keyOf(v));
  const via = hop.to === end ? '' : ` on the way to ${end} (${count(end)})`;
  return {
    kind: 'update',
    assignment: fenced(view, v),
    revision: hop.a.revision,
    move: { from: hop.from, to: hop.to },
    reason:
      `balance primaries: ${hop.from} has ${count(hop.from)}, ${hop.to} ${count(hop.to)} follows caught up${via}; ` +
      `fencing epoch ${v.epoch} to elect away from ${hop.from}`,
  };
}

/** Draining nodes that no assignment names any more are removed. */
export function finishDrains(view: ManagerView): Decision[] {
  const named = new Set<string>();
  for (const { value } of view.assignments.values()) {
    for (const n of [...value.replicas, ...value.learners, ...value.leaving]) named.add(n);
    if (value.primary !== null) named.add(value.primary);
  }
  const decisions: Decision[] = [];
  for (const node of view.nodes.values()) {
    if (node.state !== 'draining' || node.record === undefined || named.has(node.id)) continue;
    decisions.push({
      kind: 'node',
      record: { ...node.record.value, state: 'removed' },
      revision: node.record.revision,
      reason: `${node.id} drained: it holds no replica any more`,
    });
  }
  return decisions;
}
