/**
 * The decisions of an independent-hosts cluster (docs/models.md), made by every host about the
 * shards it is responsible for, with no manager and no leader.
 *
 * A queue is stored on `replicationFactor` hosts, the first ones in the queue's rendezvous order
 * when it is placed (its "hosts", the assignment's `replicas`, in that order). Its partitions are
 * its shards: shard p's *home* is hosts[p mod n], the host that writes it. The other hosts follow
 * it, so a send accepted by any of them is persisted there and replicated by the existing
 * replicated log; receives, leases and deletes are the shard's replicated state.
 *
 * Per shard, the first rule that applies wins:
 *
 *   queue deleted or re-created ─► delete the assignment
 *   every host came back with a new store ─► record the new stores (the copies are lost)
 *   no writer (taking over) ─► the safe host: most complete log of a quorum, then home, then rendezvous
 *   writer dead, removed, fenced or failed ─► fence (epoch + 1)
 *   a host in a new store caught up, or one without a recorded store ─► record its store
 *   home alive and caught up while another host writes ─► fence, handing the shard back home
 *
 * Who writes a decision: the shard's *decider*, the first live host of the shard's rendezvous order
 * over its live hosts. Every host computes the same decider from the same heartbeats; while views
 * differ two hosts may both try, and the compare-and-swap on the revision lets exactly one win. So
 * the decider only saves work, it is not needed for safety: that comes from the epochs (every
 * takeover is a fence to a higher epoch, and the old writer can neither commit nor deliver under an
 * epoch a majority has left, nor past its lease), exactly as in the primary–secondary model.
 */
import { elect, failoverReason, fenced, isCaughtUp } from '../manager/election.ts';
import { acceptLostCopies, confirmNewStore, recordMissingStores, storesOf } from '../manager/stores.ts';
import {
  isEligible,
  keyOf,
  replicationFactorOf,
  type AssignmentView,
  type Decision,
  type ManagerView,
} from '../manager/view.ts';
import type { Assignment, QueueMeta } from '../../src/meta/records.ts';
import { rank, winner } from './rendezvous.ts';

/** The host that writes shard `partition` when it is alive: hosts[p mod n]. */
export function homeOf(a: Pick<Assignment, 'replicas' | 'partition'>): string | undefined {
  return a.replicas.length === 0 ? undefined : a.replicas[a.partition % a.replicas.length];
}

/** Live hosts (heard from within the failure timeout, not removed) among `nodes`. */
export function liveHosts(view: ManagerView, nodes: Iterable<string>): string[] {
  return [...nodes].filter((n) => {
    const node = view.nodes.get(n);
    return node !== undefined && node.liveness !== 'dead' && node.state !== 'removed';
  });
}

/** Which live host decides about `key`: of its own hosts if any lives, else of every live host. */
export function deciderOf(view: ManagerView, key: string, hosts: readonly string[]): string | undefined {
  return winner(key, liveHosts(view, hosts)) ?? winner(key, liveHosts(view, view.nodes.keys()));
}

/** The order in which a shard's hosts take it over: home first, then the shard's rendezvous order. */
export function takeoverOrder(a: Pick<Assignment, 'queue' | 'partition' | 'replicas'>): (node: string) => number {
  const home = homeOf(a);
  const order = rank(keyOf(a), a.replicas);
  return (node) => (node === home ? -1 : order.indexOf(node));
}

export function decideHosts(view: ManagerView, self: string): Decision[] {
  const decisions: Decision[] = [];
  for (const [key, a] of view.assignments) {
    if (deciderOf(view, key, a.value.replicas) !== self) continue;
    const decision = decideShard(view, a);
    if (decision !== undefined) decisions.push(decision);
  }
  for (const meta of view.queues.values()) decisions.push(...placeShards(view, meta, self));
  return decisions;
}

function decideShard(view: ManagerView, a: AssignmentView): Decision | undefined {
  const v = a.value;
  const meta = view.queues.get(v.queue);
  if (meta === undefined || meta.incarnation !== v.incarnation) {
    const why = meta === undefined ? `queue ${v.queue} was deleted` : `queue ${v.queue} was re-created`;
    return { kind: 'delete', assignment: v, revision: a.revision, reason: why };
  }
  if (v.partition >= meta.attributes.partitions) {
    return { kind: 'delete', assignment: v, revision: a.revision, reason: `queue ${v.queue} has ${meta.attributes.partitions} shards` };
  }
  const lost = acceptLostCopies(view, a);
  if (lost !== undefined) return lost;
  if (v.primary === null) {
    const outcome = elect(view, a, takeoverOrder(v));
    if (outcome.kind === 'wait') return undefined;
    const home = homeOf(v);
    return {
      kind: 'update',
      assignment: { ...v, primary: outcome.primary, updatedAt: view.wall },
      revision: a.revision,
      reason: `${outcome.primary === home ? 'home host' : 'takeover:'} ${outcome.primary} writes shard ${keyOf(v)} at epoch ${v.epoch}: ${outcome.reason}`,
    };
  }
  const failure = failoverReason(view, a);
  if (failure !== undefined) {
    return { kind: 'update', assignment: fenced(view, v), revision: a.revision, reason: `${failure}: fencing epoch ${v.epoch} for a takeover` };
  }
  return confirmNewStore(view, a) ?? recordMissingStores(view, a) ?? handBack(view, a);
}

/**
 * A shard written by another host while its home is alive and holds everything committed goes
 * back home. Not before the writer has held it for a failure timeout: a home that keeps losing the
 * election (its log a little short under load) costs one fence per timeout, not a storm of them.
 */
function handBack(view: ManagerView, a: AssignmentView): Decision | undefined {
  const v = a.value;
  const home = homeOf(v);
  if (home === undefined || v.primary === null || v.primary === home) return undefined;
  if (view.now - a.since < view.options.failureTimeoutMs) return undefined;
  if (!isEligible(view.nodes.get(home)) || !isCaughtUp(view, v, home)) return undefined;
  return {
    kind: 'update',
    assignment: fenced(view, v),
    revision: a.revision,
    move: { from: v.primary, to: home },
    reason: `home host ${home} of shard ${keyOf(v)} is back and caught up: fencing epoch ${v.epoch} to hand it back from ${v.primary}`,
  };
}

/**
 * The shards of a queue that has none yet (or gained some): on the queue's hosts, the hosts of its
 * existing shards when it has any, else the first `replicationFactor` eligible hosts in the queue's
 * rendezvous order. Decided by the queue's decider among the eligible hosts.
 */
function placeShards(view: ManagerView, meta: QueueMeta, self: string): Decision[] {
  const eligible = [...view.nodes.values()].filter(isEligible).map((n) => n.id);
  if (eligible.length === 0 || winner(meta.name, eligible) !== self) return [];
  const missing: number[] = [];
  let hosts: string[] | undefined;
  for (let partition = 0; partition < meta.attributes.partitions; partition++) {
    const existing = view.assignments.get(keyOf({ queue: meta.name, partition }))?.value;
    if (existing === undefined) missing.push(partition);
    else if (existing.incarnation === meta.incarnation) hosts ??= existing.replicas;
  }
  if (missing.length === 0) return [];
  hosts ??= rank(meta.name, eligible).slice(0, replicationFactorOf(meta));
  return missing.map((partition) => {
    const replicas = [...(hosts as string[])];
    const primary = homeOf({ replicas, partition }) as string;
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
    return {
      kind: 'create' as const,
      assignment,
      revision: 0 as const,
      reason: `new queue ${meta.name}: shard ${partition} on hosts ${replicas.join(', ')}, written by its home ${primary}`,
    };
  });
}
