/**
 * A cluster's report of itself to its deployment (ClusterRecord): written by the cluster's active
 * internal manager, which already knows every node's liveness and every partition's primary and
 * in-sync replicas, every `clusterReportMs`. Only the active manager writes, so the report stops
 * when the cluster has no manager — which the external manager sees as a report that stopped
 * changing (unreachable). A cluster of independent hosts has no manager: one of its hosts, chosen
 * by rendezvous hashing over the live hosts, writes the same record from its shard keeper's view.
 */
import type { Logger } from 'pino';
import { liveHosts } from '../../actors/hosts/decide.ts';
import { winner } from '../../actors/hosts/rendezvous.ts';
import { keyOf, reportOf, type Liveness, type ManagerView } from '../../actors/manager/view.ts';
import type { ClusterModel, ClusterRecord } from '../meta/deployment-records.ts';
import type { DeploymentMetadata } from '../meta/deployment-metadata.ts';
import { quorum, type NodeState } from '../meta/records.ts';
import type { ManagerStatus } from '../manager/status.ts';

/** What a report is made of, the same in both models: each node's liveness, each partition's (shard's) writer and copies. */
export interface ClusterState {
  model: ClusterModel;
  reporter: string;
  nodes: ReadonlyArray<{ state: NodeState; liveness: Liveness }>;
  partitions: ReadonlyArray<{ primary: string | null; isr: readonly string[]; replicas: readonly string[]; committed: number }>;
}

const WORDS = {
  primary: { partitions: 'partitions', writer: 'a primary', nodes: 'nodes' },
  hosts: { partitions: 'shards', writer: 'a writer', nodes: 'hosts' },
} as const;

/** The report of a cluster in `state`: its health by the same rules in both models. */
export function clusterRecord(cluster: string, state: ClusterState, queues: number, wall: number): ClusterRecord {
  const words = WORDS[state.model];
  const nodes = state.nodes.filter((n) => n.state !== 'removed');
  const alive = nodes.filter((n) => n.liveness === 'alive').length;
  const leaderless = state.partitions.filter((a) => a.primary === null).length;
  const underReplicated = state.partitions.filter((a) => a.primary !== null && a.isr.length < a.replicas.length).length;
  let committed = 0;
  for (const a of state.partitions) committed += a.committed;
  const reasons: string[] = [];
  if (alive < quorum(nodes.length)) reasons.push(`${alive} of ${nodes.length} ${words.nodes} alive`);
  if (leaderless > 0) reasons.push(`${leaderless} ${words.partitions} without ${words.writer}`);
  const failing = reasons.length > 0;
  if (!failing && alive < nodes.length) reasons.push(`${alive} of ${nodes.length} ${words.nodes} alive`);
  if (underReplicated > 0) reasons.push(`${underReplicated} ${words.partitions} under-replicated`);
  return {
    name: cluster,
    model: state.model,
    health: failing ? 'failing' : reasons.length > 0 ? 'degraded' : 'healthy',
    reason: reasons.join('; '),
    nodes: nodes.length,
    alive,
    queues,
    partitions: state.partitions.length,
    leaderless,
    underReplicated,
    committed,
    reporter: state.reporter,
    reportedAt: wall,
  };
}

/** The health record of a primary–secondary cluster, from its active manager's status. */
export function primaryClusterRecord(cluster: string, status: ManagerStatus, queues: number, wall: number): ClusterRecord {
  const partitions = status.assignments.map((a) => ({ ...a, committed: a.reports.find((r) => r.node === a.primary)?.commitIndex ?? 0 }));
  return clusterRecord(cluster, { model: 'primary', reporter: status.manager, nodes: status.nodes, partitions }, queues, wall);
}

/**
 * Which host of an independent-hosts cluster reports it: the first live host in the rendezvous
 * order of the cluster's name. Every host computes it from its own keeper's view, so while views
 * differ (a hand-over) two hosts may both report; each writes a whole record of the same cluster,
 * so the last one simply stands, and when the reporter dies the next host in the order takes over
 * after the failure timeout with no election.
 */
export function hostsReporter(cluster: string, view: ManagerView): string | undefined {
  return winner(cluster, liveHosts(view, view.nodes.keys()));
}

/** The health record of an independent-hosts cluster, from one host's keeper view (actors/hosts). */
export function hostsClusterRecord(cluster: string, view: ManagerView, reporter: string, queues: number, wall: number): ClusterRecord {
  const partitions = [...view.assignments.values()].map(({ value }) => ({
    ...value,
    committed: reportOf(view, value.primary, keyOf(value))?.commitIndex ?? 0,
  }));
  return clusterRecord(cluster, { model: 'hosts', reporter, nodes: [...view.nodes.values()], partitions }, queues, wall);
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
