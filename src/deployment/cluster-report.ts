/**
 * A cluster's report of itself to its deployment (ClusterRecord): written by the cluster's active
 * internal manager, which already knows every node's liveness and every partition's primary and
 * in-sync replicas, every `clusterReportMs`. Only the active manager writes, so the report stops
 * when the cluster has no manager — which the external manager sees as a report that stopped
 * changing (unreachable). A cluster of independent hosts reports the same record its own way.
 */
import type { Logger } from 'pino';
import type { ClusterRecord } from '../meta/deployment-records.ts';
import type { DeploymentMetadata } from '../meta/deployment-metadata.ts';
import { quorum } from '../meta/records.ts';
import type { ManagerStatus } from '../manager/status.ts';

/** The health record of a primary–secondary cluster, from its active manager's status. */
export function primaryClusterRecord(cluster: string, status: ManagerStatus, queues: number, wall: number): ClusterRecord {
  const nodes = status.nodes.filter((n) => n.state !== 'removed');
  const alive = nodes.filter((n) => n.liveness === 'alive').length;
  const leaderless = status.assignments.filter((a) => a.primary === null).length;
  const underReplicated = status.assignments.filter((a) => a.primary !== null && a.isr.length < a.replicas.length).length;
  let committed = 0;
  for (const a of status.assignments) committed += a.reports.find((r) => r.node === a.primary)?.commitIndex ?? 0;
  const reasons: string[] = [];
  if (alive < quorum(nodes.length)) reasons.push(`${alive} of ${nodes.length} nodes alive`);
  if (leaderless > 0) reasons.push(`${leaderless} partitions without a primary`);
  const failing = reasons.length > 0;
  if (!failing && alive < nodes.length) reasons.push(`${alive} of ${nodes.length} nodes alive`);
  if (underReplicated > 0) reasons.push(`${underReplicated} partitions under-replicated`);
  return {
    name: cluster,
    model: 'primary',
    health: failing ? 'failing' : reasons.length > 0 ? 'degraded' : 'healthy',
    reason: reasons.join('; '),
    nodes: nodes.length,
    alive,
    queues,
    partitions: status.assignments.length,
    leaderless,
    underReplicated,
    committed,
    reporter: status.manager,
    reportedAt: wall,
  };
}

export interface ClusterReportsOptions {
  deployment: DeploymentMetadata;
  /** The record to write now, or undefined when this process must not report (its manager is standing by). */
  record: () => ClusterRecord | undefined;
  periodMs: number;
  log: Logger;
}

/** Reports every `periodMs` while `record` gives one. Returns the stop function. */
export function startClusterReports(options: ClusterReportsOptions): () => void {
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    const record = options.record();
    if (record === undefined) return;
    busy = true;
    options.deployment
      .putCluster(record)
      .catch((err: unknown) => options.log.warn({ err }, 'could not report the cluster to its deployment'))
      .finally(() => {
        busy = false;
      });
  }, options.periodMs);
  return () => clearInterval(timer);
}
