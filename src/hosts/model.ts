/**
 * What a cluster's back-end model allows (docs/models.md), checked where requests come in, and the
 * check that every node of a cluster runs the same model.
 */
import { ErrorCode, WharfError } from '../errors.ts';
import { modelOf, type ClusterModel, type NodeRecord } from '../meta/records.ts';
import type { QueueAttributes } from '../protocol/messages.ts';

/**
 * A FIFO queue needs one writer per message group and delivery of a group in order, which is what a
 * partition's primary gives; independent hosts each accept sends for the same queue, so a group
 * would be ordered by clocks only. FIFO queues therefore belong on primary–secondary clusters.
 */
export function checkModelSupports(model: ClusterModel, attributes: Pick<QueueAttributes, 'fifo' | 'autoScaling'>): void {
  if (model === 'hosts' && attributes.fifo) {
    throw new WharfError(
      ErrorCode.UnsupportedByModel,
      'FIFO queues are not offered by a cluster of independent hosts (WHARF_CLUSTER_MODEL=hosts): create them on a primary–secondary cluster',
    );
  }
  // Partitions are added and retired by the cluster manager (docs/autoscaling.md), which a cluster
  // of independent hosts does not run: the attribute would be accepted and do nothing.
  if (model === 'hosts' && attributes.autoScaling !== undefined) {
    throw new WharfError(
      ErrorCode.UnsupportedByModel,
      'autoScaling is not offered by a cluster of independent hosts (WHARF_CLUSTER_MODEL=hosts): it has no cluster manager to add or retire partitions',
    );
  }
}

/**
 * Refuses a node configured for another model than the cluster's registered nodes (other than
 * itself, not removed) run: it would decide about the same shards by other rules.
 */
export function checkClusterModel(cluster: string, records: Iterable<NodeRecord>, self: string, model: ClusterModel): void {
  const other = [...records].find((r) => r.id !== self && r.state !== 'removed' && modelOf(r) !== model);
  if (other === undefined) return;
  throw new WharfError(
    ErrorCode.InvalidParameter,
    `cluster ${cluster} runs model ${modelOf(other)} (node ${other.id}); this node is configured for ${model}`,
  );
}
