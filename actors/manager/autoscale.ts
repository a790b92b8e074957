/**
 * Auto-scaling of queues' partitions (docs/autoscaling.md): from the load their primaries report
 * (records.ts, PartitionLoad) to changes of the queue's partition layout (src/meta/layout.ts).
 *
 *   use = mean over the active partitions of max(messages / budgetMessages, bytes / budgetBytes,
 *         sends per second / budgetSendsPerSecond)
 *
 *   use ≥ scaleUpPercent, below maxPartitions, cool-down over ─► add a partition (next id, active);
 *       the placement of new partitions puts its replicas on the least loaded nodes
 *   what the others would carry without one (use × n / (n − 1)) < scaleDownPercent for
 *       scaleDownAfterSeconds, above minPartitions, nothing draining ─► drain the emptiest partition
 *   a draining partition's primary reports it sealed (it refuses sends) and empty ─► retire it;
 *       decide.ts then takes its replicas away
 *
 * A FIFO queue replaces its active partitions instead: growing from n to n + 1 (or shrinking to
 * n − 1) drains all n and adds n + 1 (n − 1) new ones, and nothing changes while any partition is
 * still draining. Its groups then move only from the draining partitions, each once its old
 * partition holds none of it (actors/partition/draining.ts), and a group's previous partition is
 * always in the layout's `previous`.
 *
 * One layout change per queue per round, each a compare-and-swap on the layout's generation.
 * Rates need two samples: they are kept between rounds in `ScaleMemory`, with when each queue went
 * below its lower threshold and when its layout last changed. The memory is the active manager's
 * only: a new one starts without it, which only delays the next change by a cool-down.
 */
import { activePartitions, layoutGeneration, MAX_PARTITION_IDS, partitionStates, withActiveReplaced, withState } from '../../src/meta/layout.ts';
import type { PartitionLayout } from '../../src/meta/records.ts';
import type { PartitionLoad, QueueMeta } from '../../src/meta/records.ts';
import type { AutoScaling } from '../../src/protocol/messages.ts';
import { keyOf, reportOf, type LayoutChange, type ManagerView } from './view.ts';

interface Sample {
  sent: number;
  /** Manager time of the heartbeat that carried it. */
  at: number;
  /** Sends per second between the previous sample and this one. */
  rate: number;
}

export interface ScaleMemory {
  /** Per assignment key: the last `sent` seen and the rate it gave. */
  readonly samples: ReadonlyMap<string, Sample>;
  /** Per queue: since when its use is below its lower threshold. */
  readonly lowSince: ReadonlyMap<string, number>;
  /** Per queue: the layout generation seen, and since when (manager time). */
  readonly layouts: ReadonlyMap<string, { generation: number; since: number }>;
}

export const EMPTY_SCALE_MEMORY: ScaleMemory = { samples: new Map(), lowSince: new Map(), layouts: new Map() };

export function autoscale(view: ManagerView, memory: ScaleMemory): { decisions: LayoutChange[]; memory: ScaleMemory } {
  const samples = new Map<string, Sample>();
  const lowSince = new Map<string, number>();
  const layouts = new Map<string, { generation: number; since: number }>();
  const decisions: LayoutChange[] = [];
  for (const meta of view.queues.values()) {
    const policy = meta.attributes.autoScaling;
    if (policy === undefined) continue;
    const generation = layoutGeneration(meta);
    const seen = memory.layouts.get(meta.name);
    const layout = seen !== undefined && seen.generation === generation ? seen : { generation, since: view.now };
    layouts.set(meta.name, layout);
    const loads = new Map<number, PartitionLoad & { rate: number }>();
    for (const id of activePartitions(meta)) {
      const load = sampled(view, meta, id, memory, samples);
      if (load !== undefined) loads.set(id, load);
    }
    const decision = retire(view, meta) ?? resize(view, meta, policy, loads, layout.since, memory.lowSince.get(meta.name), lowSince);
    if (decision !== undefined) decisions.push(decision);
  }
  return { decisions, memory: { samples, lowSince, layouts } };
}

/** The primary's load report of partition `id` with its send rate, when it reported one at the assignment's epoch. */
function sampled(
  view: ManagerView,
  meta: QueueMeta,
  id: number,
  memory: ScaleMemory,
  samples: Map<string, Sample>,
): (PartitionLoad & { rate: number }) | undefined {
  const key = keyOf({ queue: meta.name, partition: id });
  const a = view.assignments.get(key)?.value;
  const report = a === undefined || a.incarnation !== meta.incarnation ? undefined : reportOf(view, a.primary, key);
  if (a === undefined || report?.load === undefined || report.role !== 'primary' || report.epoch !== a.epoch) return undefined;
  const before = memory.samples.get(key);
  let rate = 0;
  if (before !== undefined && report.at === before.at) rate = before.rate;
  // A counter that went down belongs to a new primary: it starts a new series.
  else if (before !== undefined && report.at > before.at && report.load.sent >= before.sent) {
    rate = ((report.load.sent - before.sent) * 1000) / (report.at - before.at);
  }
  samples.set(key, { sent: report.load.sent, at: report.at, rate });
  return { ...report.load, rate };
}

/** Retires the first draining partition whose primary reports it sealed and empty. */
function retire(view: ManagerView, meta: QueueMeta): LayoutChange | undefined {
  const states = partitionStates(meta);
  for (let id = 0; id < states.length; id++) {
    if (states[id] !== 'draining') continue;
    const key = keyOf({ queue: meta.name, partition: id });
    const a = view.assignments.get(key)?.value;
    const report = a === undefined ? undefined : reportOf(view, a.primary, key);
    if (a === undefined || report === undefined || report.role !== 'primary' || report.epoch !== a.epoch) continue;
    if (report.load === undefined || !report.load.sealed || report.load.messages > 0) continue;
    return layoutChange(meta, id, 'retired', `partition ${id} drained: its primary ${a.primary} refuses sends and holds nothing`);
  }
  return undefined;
}

/** Use of one partition's budget: the most used of its three dimensions. */
function useOf(load: PartitionLoad & { rate: number }, policy: AutoScaling): number {
  return Math.max(load.messages / policy.budgetMessages, load.bytes / policy.budgetBytes, load.rate / policy.budgetSendsPerSecond);
}

function resize(
  view: ManagerView,
  meta: QueueMeta,
  policy: AutoScaling,
  loads: ReadonlyMap<number, PartitionLoad & { rate: number }>,
  changedAt: number,
  wasLow: number | undefined,
  lowSince: Map<string, number>,
): LayoutChange | undefined {
  const states = partitionStates(meta);
  const active = activePartitions(meta);
  // Every active partition must have reported: a partition still being placed or electing says nothing yet.
  if (active.length === 0 || loads.size < active.length) return undefined;
  const n = active.length;
  const use = [...loads.values()].reduce((sum, load) => sum + useOf(load, policy), 0) / n;
  const percent = (x: number) => `${Math.round(x * 100)} %`;
  const sinceChange = view.now - changedAt;
  const draining = states.includes('draining');
  const fifo = meta.attributes.fifo;
  if (fifo && draining) return undefined;
  if (n < policy.maxPartitions && states.length + (fifo ? n + 1 : 1) <= MAX_PARTITION_IDS && use * 100 >= policy.scaleUpPercent) {
    if (sinceChange < policy.scaleUpCooldownSeconds * 1000) return undefined;
    const why = `${n} partitions use ${percent(use)} of their budget (scale up at ${policy.scaleUpPercent} %)`;
    if (fifo) return replaceActive(meta, n + 1, `${why}: replacing them with ${n + 1} new ones`);
    return layoutChange(meta, states.length, 'active', `${why}: adding partition ${states.length}`);
  }
  const projected = n > 1 ? (use * n) / (n - 1) : Infinity;
  if (n <= policy.minPartitions || draining || projected * 100 >= policy.scaleDownPercent) return undefined;
  const since = wasLow ?? view.now;
  lowSince.set(meta.name, since);
  const after = policy.scaleDownAfterSeconds * 1000;
  if (view.now - since < after || sinceChange < after) return undefined;
  const low = `${n} partitions use ${percent(use)} of their budget, ${percent(projected)} with one fewer (scale down below ${policy.scaleDownPercent} %) for ${Math.round((view.now - since) / 1000)} s`;
  if (fifo) return states.length + n - 1 <= MAX_PARTITION_IDS ? replaceActive(meta, n - 1, `${low}: replacing them with ${n - 1} new ones`) : undefined;
  // The emptiest partition has the least left to drain; the newest among equals.
  const [victim] = [...loads].sort(([x, a], [y, b]) => a.messages - b.messages || y - x)[0] ?? [];
  if (victim === undefined) return undefined;
  return layoutChange(meta, victim, 'draining', `${low}: draining partition ${victim}`);
}

function layoutChange(meta: QueueMeta, id: number, state: 'active' | 'draining' | 'retired', reason: string): LayoutChange {
  return change(meta, withState(meta, id, state), reason);
}

function replaceActive(meta: QueueMeta, count: number, reason: string): LayoutChange {
  return change(meta, withActiveReplaced(meta, count), reason);
}

function change(meta: QueueMeta, layout: PartitionLayout, reason: string): LayoutChange {
  return { kind: 'layout', queue: meta.name, incarnation: meta.incarnation, generation: layoutGeneration(meta), layout, reason: `${meta.name}: ${reason}` };
}
