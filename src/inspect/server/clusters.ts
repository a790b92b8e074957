/**
 * The inspector's Clusters section: the clusters of the deployment the inspected cluster belongs
 * to (src/deployment/deployment-view.ts), kept live from the deployment's metadata (KV watches)
 * and from the active external manager's `status`, asked every few seconds while a page is open.
 * Outside a deployment it is the inspected cluster alone, its health judged from the cluster map
 * by the rules clusters report themselves with (src/deployment/cluster-report.ts).
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { clusterRecord } from '../../deployment/cluster-report.ts';
import { deploymentView, externalStatus, soloView, type DeploymentView, type ExternalStatus } from '../../deployment/deployment-view.ts';
import { DeploymentMetadata } from '../../meta/deployment-metadata.ts';
import type { ClusterRecord } from '../../meta/deployment-records.ts';
import type { ClusterMapView } from './cluster-map.ts';

/** How long the external manager may take to answer a status request, ms. */
const STATUS_TIMEOUT_MS = 1000;

export interface ClustersOptions {
  nc: NatsConnection;
  /** The deployment of the inspected cluster (its nodes' WHARF_DEPLOYMENT); undefined when it has none. */
  deployment: string | undefined;
  log: Logger;
  /** Wall clock, ms. @default Date.now */
  wall?: () => number;
}

/** A cluster's report as an observer of its map (`reporter`) judges it, by the rules clusters report themselves with. */
export function observedRecord(map: ClusterMapView, reporter: string, wall: number): ClusterRecord {
  const partitions = map.queues.flatMap((q) => q.partitions).map((p) => ({ ...p, committed: p.commitIndex ?? 0 }));
  // A node heard from but not registered is not one of the cluster's nodes.
  const nodes = map.nodes.flatMap(({ state, liveness }) => (state === 'unregistered' ? [] : [{ state, liveness }]));
  return clusterRecord(map.cluster, { model: map.model, reporter, nodes, partitions }, map.queues.length, wall);
}

export class Clusters {
  private external: ExternalStatus | undefined;
  private asking: Promise<void> | undefined;
  private readonly unwatch: Array<() => void>;
  private readonly listeners = new Set<() => void>();
  private readonly options: ClustersOptions;
  private readonly metadata: DeploymentMetadata | undefined;
  private readonly wall: () => number;

  private constructor(options: ClustersOptions, metadata: DeploymentMetadata | undefined) {
    this.options = options;
    this.metadata = metadata;
    this.wall = options.wall ?? (() => Date.now());
    const changed = () => this.changed();
    this.unwatch = metadata === undefined ? [] : [metadata.onCluster(changed), metadata.onRoute(changed), metadata.onLease(changed)];
  }

  static async open(options: ClustersOptions): Promise<Clusters> {
    const metadata = options.deployment === undefined ? undefined : await DeploymentMetadata.open(options.nc, options.deployment, { log: options.log });
    return new Clusters(options, metadata);
  }

  /** Called when the deployment's metadata or the external manager's answer changed. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Asks the active external manager for its view again (one request at a time). */
  refresh(): Promise<void> {
    const { metadata } = this;
    if (metadata === undefined) return Promise.resolve();
    return (this.asking ??= (async () => {
      try {
        const before = JSON.stringify(this.external);
        this.external = await externalStatus(this.options.nc, metadata.deployment, STATUS_TIMEOUT_MS);
        if (JSON.stringify(this.external) !== before) this.changed();
      } finally {
        this.asking = undefined;
      }
    })());
  }

  view(map: ClusterMapView): DeploymentView {
    if (this.metadata !== undefined) return deploymentView(this.metadata, this.external, this.wall());
    return soloView(observedRecord(map, 'inspector', this.wall()));
  }

  async close(): Promise<void> {
    for (const stop of this.unwatch) stop();
    this.listeners.clear();
    await this.asking;
    await this.metadata?.close();
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }
}
