/**
 * A queue's partitions and their states (records.ts, PartitionLayout): which partitions take sends
 * (active), which are still read (active and draining), and how the cluster manager changes them.
 * A queue without a layout has partitions 0 to attributes.partitions − 1, all active.
 *
 * A partition id is never reused: a receipt handle names its partition by id, so a handle issued
 * before a change still reaches the partition that issued it.
 */
import type { PartitionLayout, PartitionState, QueueMeta } from './records.ts';

type Layout = Pick<QueueMeta, 'attributes' | 'layout'>;

/** Partition ids a queue can give in its life (a route hint carries one entry per id: route.ts). */
export const MAX_PARTITION_IDS = 1024;

/** The state of every partition id the queue has given. */
export function partitionStates(meta: Layout): readonly PartitionState[] {
  return meta.layout?.states ?? Array.from({ length: meta.attributes.partitions }, () => 'active' as const);
}

/** Every partition id the queue has given, retired ones included. */
export const partitionCount = (meta: Layout): number => partitionStates(meta).length;

const idsWhere = (meta: Layout, keep: (s: PartitionState) => boolean): number[] =>
  partitionStates(meta).flatMap((s, id) => (keep(s) ? [id] : []));

/** Partitions that take sends, in id order. */
export const activePartitions = (meta: Layout): number[] => idsWhere(meta, (s) => s === 'active');

/** Partitions that hold messages: active and draining (receives, deletes and visibility changes go there). */
export const servedPartitions = (meta: Layout): number[] => idsWhere(meta, (s) => s !== 'retired');

export const layoutGeneration = (meta: Layout): number => meta.layout?.generation ?? 0;

/**
 * The layout with every active partition draining and `count` new ones active: how a FIFO queue
 * changes its partitions. A group moves from its partition in `previous` only once that one holds
 * none of it (actors/partition/draining.ts); were an active partition to lose groups to another,
 * it would take their sends meanwhile.
 */
export function withActiveReplaced(meta: Layout, count: number): PartitionLayout {
  const states: PartitionState[] = partitionStates(meta).map((s) => (s === 'active' ? 'draining' : s));
  for (let i = 0; i < count; i++) states.push('active');
  return { states, generation: layoutGeneration(meta) + 1, previous: activePartitions(meta) };
}

/**
 * The layout with `id` in `state` (a new id when `id` is the next one). A change of the active set
 * records the active partitions before it (`previous`); a retirement keeps those recorded.
 */
export function withState(meta: Layout, id: number, state: PartitionState): PartitionLayout {
  const before = partitionStates(meta);
  const states = [...before];
  states[id] = state;
  const changesActive = (before[id] === 'active') !== (state === 'active');
  const previous = changesActive ? activePartitions(meta) : meta.layout?.previous;
  return { states, generation: layoutGeneration(meta) + 1, ...(previous === undefined ? {} : { previous }) };
}
