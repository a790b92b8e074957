/**
 * Where replicas go. Load is counted per eligible node (active and alive) as the partitions it
 * holds or is catching up on, minus those it is leaving: the counts a rebalance converges to.
 * Choosing the least loaded node (then the one with the fewest primaries, then by id, so the result
 * is deterministic) keeps every node within one replica of every other as partitions are placed.
 */
import type { Assignment, QueueMeta } from '../../src/meta/records.ts';
import { partitionStates } from '../../src/meta/layout.ts';
import { storesOf } from './stores.ts';
import { isEligible, keyOf, replicationFactorOf, type Decision, type ManagerView } from './view.ts';

export interface Load {
  replicas: number;
  primaries: number;
}

/** Load of every eligible node. Mutated as a decision round places or moves replicas. */
export function loadOf(view: ManagerView): Map<string, Load> {
  const load = new Map<string, Load>();
  for (const node of view.nodes.values()) if (isEligible(node)) load.set(node.id, { replicas: 0, primaries: 0 });
  for (const { value } of view.assignments.values()) {
    for (const id of holders(value)) {
      const l = load.get(id);
      if (l) l.replicas++;
    }
    if (value.primary !== null) {
      const l = load.get(value.primary);
      if (l) l.primaries++;
    }
  }
  return load;
}

/** Nodes that hold (or are catching up on) the partition and are not leaving it. */
export function holders(a: Assignment): string[] {
  return [...new Set([...a.replicas, ...a.learners])].filter((n) => !a.leaving.includes(n));
}

export function byLoad(load: ReadonlyMap<string, Load>) {
  return (x: string, y: string): number => {
    const a = load.get(x) as Load;
    const b = load.get(y) as Load;
    return a.replicas - b.replicas || a.primaries - b.primaries || (x < y ? -1 : x > y ? 1 : 0);
  };
}

/** The `count` least loaded eligible nodes outside `exclude`. */
export function leastLoaded(load: ReadonlyMap<string, Load>, count: number, exclude: readonly string[] = []): string[] {
  return [...load.keys()].filter((n) => !exclude.includes(n)).sort(byLoad(load)).slice(0, count);
}

const byPrimaries = (load: ReadonlyMap<string, Load>) => (x: string, y: string): number => {
  const a = load.get(x) as Load;
  const b = load.get(y) as Load;
  return a.primaries - b.primaries || a.replicas - b.replicas || (x < y ? -1 : x > y ? 1 : 0);
};

/**
 * `count` nodes for a new partition. Any choice that takes the least loaded nodes keeps replica
 * counts within one; within that freedom the node with the fewest primaries overall is taken when
 * it can be, so that it can become this partition's primary.
 */
function chooseReplicas(load: ReadonlyMap<string, Load>, count: number): string[] {
  const ordered = leastLoaded(load, load.size);
  const min = (load.get(ordered[0] as string) as Load).replicas;
  const atMin = ordered.filter((n) => (load.get(n) as Load).replicas === min).length;
  const [idle] = [...load.keys()].sort(byPrimaries(load));
  const idleLoad = (load.get(idle as string) as Load).replicas;
  const fits = idleLoad === min || (idleLoad === min + 1 && count > atMin);
  if (idle === undefined || !fits) return ordered.slice(0, count);
  const rest = ordered.filter((n) => n !== idle);
  // Keep every least loaded node in when they are fewer than `count`: that is what keeps the spread.
  return [idle, ...rest.slice(0, count - 1)];
}

/** Assignments for the partitions of a queue that has none yet (or lost some). */
export function placeQueue(view: ManagerView, meta: QueueMeta, load: Map<string, Load>): Decision[] {
  if (load.size === 0) return [];
  const decisions: Decision[] = [];
  const rf = replicationFactorOf(meta);
  const states = partitionStates(meta);
  for (let partition = 0; partition < states.length; partition++) {
    if (states[partition] === 'retired' || view.assignments.has(keyOf({ queue: meta.name, partition }))) continue;
    const replicas = chooseReplicas(load, Math.min(rf, load.size));
    const primary = [...replicas].sort(byPrimaries(load))[0] as string;
    for (const id of replicas) (load.get(id) as Load).replicas++;
    (load.get(primary) as Load).primaries++;
    const assignment: Assignment = {
      queue: meta.name,
      partition,
      incarnation: meta.incarnation,
      replicas,
      learners: [],
      primary,
      epoch: 1,
      isr: [...replicas],
      leaving: [],
      updatedAt: view.wall,
      ...storesOf(view, replicas),
    };
    const short = replicas.length < rf ? ` (${load.size} eligible nodes for replication factor ${rf})` : '';
    decisions.push({
      kind: 'create',
      assignment,
      revision: 0,
      reason: `${meta.layout === undefined ? 'new queue' : 'queue'} ${meta.name}: partition ${partition} on ${replicas.join(', ')}, primary ${primary}${short}`,
    });
  }
  return decisions;
}
