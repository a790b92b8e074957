/**
 * The external cluster manager's decisions: a pure function of what the deployment's metadata
 * shows (clusters' own reports, queue routes) and the requests waiting, at one moment.
 *
 * - **Placement.** A new queue, or a new part of one, goes to the best usable cluster: healthy
 *   before degraded, then the fewest active parts already routed to it (the manager's own count,
 *   current at once), then the fewest partitions reported, then by name. Failing and unreachable
 *   clusters get nothing.
 * - **Split / merge.** A split adds one active part per round on a cluster not holding one (or
 *   reactivates a draining part on a usable cluster) until the queue has the parts asked for. A merge
 *   keeps one active part and turns the others to draining. FIFO queues are never split: a message
 *   group's order lives in one partition of one cluster.
 * - **Moves.** A cluster that is failing or unreachable for `moveAfterMs` without a break loses its
 *   queues' sends: an active part there turns to draining, and when the queue has no other active
 *   part a new one is placed on the best usable cluster in the same write.
 * - **Retirement.** A draining part whose cluster is usable is checked for emptiness every
 *   `retireCheckMs`; an empty one leaves the route and its queue is deleted on that cluster.
 *
 * At most one decision per queue per round: each is a compare-and-swap on the route's revision, so
 * a second one would lose to the first.
 */
import type { ClusterHealth, ClusterRecord, QueuePart, QueueRoute } from '../../src/meta/deployment-records.ts';
import type { Versioned } from '../../src/meta/watched-bucket.ts';
import type { ExternalAnswer, ExternalDecision, ExternalOptions, ExternalRequest } from './external.events.ts';

export type ClusterStatus = ClusterHealth | 'unreachable';

export interface ClusterView {
  name: string;
  record: ClusterRecord;
  status: ClusterStatus;
  /** Since when (manager clock) the cluster has been failing or unreachable without a break. */
  badSince: number | undefined;
  /** Active parts the routes place on it. */
  activeParts: number;
}

export interface PendingRequest {
  id: string;
  request: ExternalRequest;
}

export interface ExternalView {
  now: number;
  wall: number;
  options: ExternalOptions;
  clusters: ReadonlyMap<string, ClusterView>;
  routes: ReadonlyMap<string, Versioned<QueueRoute>>;
  requests: readonly PendingRequest[];
  /** `<queue>@<cluster>` → when that draining part was last found not empty. */
  retireCheckedAt: ReadonlyMap<string, number>;
}

export interface Round {
  decisions: ExternalDecision[];
  /** Requests settled without a write (already so, or refused). */
  answers: ExternalAnswer[];
}

export const partKey = (queue: string, cluster: string) => `${queue}@${cluster}`;

const usable = (c: ClusterView | undefined) => c !== undefined && (c.status === 'healthy' || c.status === 'degraded');

/** Whether a cluster has been bad for long enough that its queues move away. */
export function movingAway(view: ExternalView, c: ClusterView): boolean {
  return c.badSince !== undefined && view.now - c.badSince >= view.options.moveAfterMs;
}

/** The best usable cluster outside `exclude`, or undefined. */
export function bestCluster(view: ExternalView, exclude: ReadonlySet<string> = new Set()): ClusterView | undefined {
  const rank = (c: ClusterView) => (c.status === 'healthy' ? 0 : 1);
  return [...view.clusters.values()]
    .filter((c) => usable(c) && !exclude.has(c.name))
    .sort(
      (a, b) =>
        rank(a) - rank(b) ||
        a.activeParts - b.activeParts ||
        a.record.partitions - b.record.partitions ||
        (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
    )[0];
}

const withParts = (route: QueueRoute, parts: QueuePart[], wall: number): QueueRoute => ({ ...route, parts, updatedAt: wall });

export function decide(view: ExternalView): Round {
  const decisions: ExternalDecision[] = [];
  const answers: ExternalAnswer[] = [];
  const touched = new Set<string>();
  // Placements made this round count as load for the next pick in the same round.
  const placed = new Map<string, number>();
  const best = (exclude: ReadonlySet<string>) => {
    const adjusted: ExternalView = {
      ...view,
      clusters: new Map([...view.clusters].map(([n, c]) => [n, { ...c, activeParts: c.activeParts + (placed.get(n) ?? 0) }])),
    };
    const pick = bestCluster(adjusted, exclude);
    if (pick !== undefined) placed.set(pick.name, (placed.get(pick.name) ?? 0) + 1);
    return pick;
  };
  const ok = (id: string, route: QueueRoute | null) => answers.push({ type: 'answer', id, ok: true, route });
  const refuse = (id: string, code: string, message: string) => answers.push({ type: 'answer', id, ok: false, code, message });

  for (const { id, request } of view.requests) {
    const q = request.queue;
    if (touched.has(q)) continue;
    const entry = view.routes.get(q);
    const route = entry?.value;
    switch (request.kind) {
      case 'create': {
        if (route !== undefined) {
          ok(id, route);
          continue;
        }
        const target = best(new Set());
        if (target === undefined) {
          refuse(id, 'unavailable', 'no cluster of the deployment is healthy enough to take a queue');
          continue;
        }
        const created: QueueRoute = {
          queue: q,
          attributes: request.attributes,
          ...(request.tags === undefined ? {} : { tags: request.tags }),
          parts: [{ cluster: target.name, state: 'active', since: view.wall }],
          createdAt: view.wall,
          updatedAt: view.wall,
        };
        decisions.push({ kind: 'place', cluster: target.name, route: created, revision: 0, request: id, reason: `new queue ${q} placed on ${target.name} (${target.status}, ${target.activeParts} active parts)` });
        break;
      }
      case 'split': {
        if (route === undefined || entry === undefined) {
          refuse(id, 'queue_not_found', `no queue ${q} in the deployment`);
          continue;
        }
        if (route.attributes.fifo) {
          refuse(id, 'invalid_parameter', `queue ${q} is FIFO: its groups' order lives in one cluster, it cannot be split`);
          continue;
        }
        const active = route.parts.filter((p) => p.state === 'active');
        if (active.length >= request.parts) {
          ok(id, route);
          continue;
        }
        // A draining part on a usable cluster is taken back before a new one is made.
        const revived = route.parts.find((p) => p.state === 'draining' && usable(view.clusters.get(p.cluster)));
        if (revived !== undefined) {
          const parts = route.parts.map((p) => (p === revived ? { ...p, state: 'active' as const, since: view.wall } : p));
          decisions.push({ kind: 'update', route: withParts(route, parts, view.wall), revision: entry.revision, request: id, reason: `split ${q}: part on ${revived.cluster} takes sends again` });
          break;
        }
        const target = best(new Set(route.parts.map((p) => p.cluster)));
        if (target === undefined) {
          refuse(id, 'unavailable', `queue ${q} has ${active.length} active parts; no other usable cluster for more`);
          continue;
        }
        const parts = [...route.parts, { cluster: target.name, state: 'active' as const, since: view.wall }];
        decisions.push({ kind: 'place', cluster: target.name, route: withParts(route, parts, view.wall), revision: entry.revision, request: id, reason: `split ${q}: new part on ${target.name}` });
        break;
      }
      case 'merge': {
        if (route === undefined || entry === undefined) {
          refuse(id, 'queue_not_found', `no queue ${q} in the deployment`);
          continue;
        }
        const active = route.parts.filter((p) => p.state === 'active');
        const keep =
          request.into !== undefined
            ? active.find((p) => p.cluster === request.into)
            : active.filter((p) => usable(view.clusters.get(p.cluster))).sort((a, b) => rankOf(view, a.cluster) - rankOf(view, b.cluster))[0] ?? active[0];
        if (keep === undefined) {
          refuse(id, 'invalid_parameter', request.into === undefined ? `queue ${q} has no active part` : `queue ${q} has no active part on ${request.into}`);
          continue;
        }
        if (active.length === 1) {
          ok(id, route);
          continue;
        }
        const parts = route.parts.map((p) => (p.state === 'active' && p !== keep ? { ...p, state: 'draining' as const, since: view.wall } : p));
        decisions.push({ kind: 'update', route: withParts(route, parts, view.wall), revision: entry.revision, request: id, reason: `merge ${q} into ${keep.cluster}: the other parts drain` });
        break;
      }
      case 'delete': {
        if (route === undefined || entry === undefined) {
          ok(id, null);
          continue;
        }
        decisions.push({ kind: 'delete', queue: q, clusters: route.parts.map((p) => p.cluster), revision: entry.revision, request: id, reason: `delete ${q}` });
        break;
      }
    }
    touched.add(q);
  }

  for (const [q, entry] of view.routes) {
    if (touched.has(q)) continue;
    const route = entry.value;
    const decision = moveAway(view, entry, best) ?? retire(view, entry);
    if (decision !== undefined) {
      decisions.push(decision);
      touched.add(route.queue);
    }
  }
  return { decisions, answers };
}

/** Lower is better: the placement order, for choosing which part a merge keeps. */
function rankOf(view: ExternalView, cluster: string): number {
  const c = view.clusters.get(cluster);
  if (c === undefined || !usable(c)) return 2;
  return c.status === 'healthy' ? 0 : 1;
}

function moveAway(view: ExternalView, entry: Versioned<QueueRoute>, best: (exclude: ReadonlySet<string>) => ClusterView | undefined): ExternalDecision | undefined {
  const route = entry.value;
  const failing = route.parts.find((p) => {
    const c = view.clusters.get(p.cluster);
    return p.state === 'active' && (c === undefined ? false : movingAway(view, c));
  });
  if (failing === undefined) return undefined;
  const c = view.clusters.get(failing.cluster) as ClusterView;
  const why = `${failing.cluster} has been ${c.status} for ${Math.round((view.now - (c.badSince ?? view.now)) / 1000)} s`;
  const drained = route.parts.map((p) => (p === failing ? { ...p, state: 'draining' as const, since: view.wall } : p));
  const others = drained.filter((p) => p.state === 'active' && usable(view.clusters.get(p.cluster)));
  if (others.length > 0) {
    return { kind: 'update', route: withParts(route, drained, view.wall), revision: entry.revision, reason: `move ${route.queue} off ${failing.cluster}: ${why}; sends go to its other parts` };
  }
  const revived = drained.find((p) => p.state === 'draining' && p !== drained[route.parts.indexOf(failing)] && usable(view.clusters.get(p.cluster)));
  if (revived !== undefined) {
    const parts = drained.map((p) => (p === revived ? { ...p, state: 'active' as const, since: view.wall } : p));
    return { kind: 'update', route: withParts(route, parts, view.wall), revision: entry.revision, reason: `move ${route.queue} off ${failing.cluster}: ${why}; sends go back to ${revived.cluster}` };
  }
  const target = best(new Set(route.parts.map((p) => p.cluster)));
  if (target === undefined) return undefined;
  const parts = [...drained, { cluster: target.name, state: 'active' as const, since: view.wall }];
  return { kind: 'place', cluster: target.name, route: withParts(route, parts, view.wall), revision: entry.revision, reason: `move ${route.queue} off ${failing.cluster}: ${why}; new part on ${target.name}` };
}

function retire(view: ExternalView, entry: Versioned<QueueRoute>): ExternalDecision | undefined {
  const route = entry.value;
  // The last parts of a queue are never retired: sends need somewhere to go.
  if (!route.parts.some((p) => p.state === 'active')) return undefined;
  const part = route.parts.find((p) => {
    if (p.state !== 'draining' || !usable(view.clusters.get(p.cluster))) return false;
    const checked = view.retireCheckedAt.get(partKey(route.queue, p.cluster));
    return checked === undefined || view.now - checked >= view.options.retireCheckMs;
  });
  if (part === undefined) return undefined;
  return {
    kind: 'retire',
    cluster: part.cluster,
    queue: route.queue,
    route: withParts(route, route.parts.filter((p) => p !== part), view.wall),
    revision: entry.revision,
    reason: `retire the drained part of ${route.queue} on ${part.cluster}`,
  };
}
