/**
 * What operators see of a deployment's clusters (docs/clusters.md): every cluster with its model,
 * its own report of its health, and the health the active external manager acts on (which adds
 * `unreachable` for a cluster whose report stopped moving); every queue's route, which clusters
 * hold its parts and whether it is split or draining a part. One view for `wharf deployment status`
 * and the inspector's Clusters section, so both say the same.
 *
 * A cluster outside any deployment has no reports and no routes: its view is that one cluster, its
 * model and its health judged by the report's rules from what the caller observed of it.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { ClusterStatus } from '../../actors/external/decide.ts';
import { ErrorCode, WharfError } from '../errors.ts';
import type { ClusterRecord, QueuePart, QueueRoute } from '../meta/deployment-records.ts';
import type { DeploymentMetadata } from '../meta/deployment-metadata.ts';
import { clusterName } from '../names.ts';
import { deploymentSubjects, type ExternalAction } from '../protocol/subjects.ts';

/** The external manager's JSON answer (src/deployment/external-manager.ts). */
export type ExternalReply = { ok: true; [field: string]: unknown } | { ok: false; error: { code: string; message: string } };

/** The part of the active external manager's `status` answer this view uses. */
export interface ExternalStatus {
  manager: string;
  term: number;
  clusters: Array<{ name: string; status: ClusterStatus; badForMs: number }>;
}

export interface ClusterEntry extends ClusterRecord {
  /** The health the active external manager acts on; null when none answered (or outside a deployment). */
  managerStatus: ClusterStatus | null;
  /** How long the external manager has seen it failing or unreachable without a break, ms. */
  badForMs: number;
  /** Seconds since the cluster's report was written (its reporter's wall clock). */
  reportAgeSeconds: number;
  /** Active parts the routes place on it. */
  activeParts: number;
}

/**
 * `single`: one active part. `split`: several active parts, sends spread over them. `draining`: one
 * or more parts take no sends and are received from until empty (after a merge, or a move away
 * from a failing cluster).
 */
export type RouteState = 'single' | 'split' | 'draining';

export interface RouteEntry {
  queue: string;
  state: RouteState;
  parts: QueuePart[];
}

export interface DeploymentView {
  /** null: the cluster belongs to no deployment. */
  deployment: string | null;
  /** The external manager's lease holder, and whether the active one answered the status request. */
  external: { holder: string; term: number; answered: boolean } | null;
  clusters: ClusterEntry[];
  routes: RouteEntry[];
}

export function routeState(route: Pick<QueueRoute, 'parts'>): RouteState {
  if (route.parts.some((p) => p.state === 'draining')) return 'draining';
  return route.parts.length > 1 ? 'split' : 'single';
}

/** Asks the active external manager of `deployment`; `unavailable` when none answers. */
export async function askExternal(nc: NatsConnection, deployment: string, action: ExternalAction, body: unknown, timeoutMs: number): Promise<ExternalReply> {
  try {
    const msg = await nc.request(deploymentSubjects(clusterName(deployment)).external(action), JSON.stringify(body), { timeout: timeoutMs });
    return JSON.parse(new TextDecoder().decode(msg.data)) as ExternalReply;
  } catch (err) {
    throw new WharfError(ErrorCode.Unavailable, `no active external manager answered ${action}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

/** The active external manager's view of the clusters, or undefined when none answers in time. */
export async function externalStatus(nc: NatsConnection, deployment: string, timeoutMs: number): Promise<ExternalStatus | undefined> {
  const reply = await askExternal(nc, deployment, 'status', {}, timeoutMs).catch(() => undefined);
  if (reply?.ok !== true || !Array.isArray(reply['clusters'])) return undefined;
  return reply as unknown as ExternalStatus & { ok: true };
}

/** The view of a deployment from its metadata and, when it answered, its active external manager. */
export function deploymentView(metadata: DeploymentMetadata, external: ExternalStatus | undefined, wall: number): DeploymentView {
  const routes = metadata.routes().map(({ value }) => value);
  const lease = metadata.lease()?.value;
  const seen = new Map((external?.clusters ?? []).map((c) => [c.name, c]));
  return {
    deployment: metadata.deployment,
    external:
      external !== undefined
        ? { holder: external.manager, term: external.term, answered: true }
        : lease === undefined
          ? null
          : { holder: lease.holder, term: lease.term, answered: false },
    clusters: metadata.clusters().map(({ value }) => ({
      ...value,
      managerStatus: seen.get(value.name)?.status ?? null,
      badForMs: seen.get(value.name)?.badForMs ?? 0,
      reportAgeSeconds: Math.max(0, Math.round((wall - value.reportedAt) / 1000)),
      activeParts: routes.filter((r) => r.parts.some((p) => p.cluster === value.name && p.state === 'active')).length,
    })),
    routes: routes.map((r) => ({ queue: r.queue, state: routeState(r), parts: r.parts })),
  };
}

/** The view of a cluster that belongs to no deployment: itself, as observed (`record`). */
export function soloView(record: ClusterRecord): DeploymentView {
  return {
    deployment: null,
    external: null,
    clusters: [{ ...record, managerStatus: null, badForMs: 0, reportAgeSeconds: 0, activeParts: 0 }],
    routes: [],
  };
}
