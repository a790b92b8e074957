/**
 * The cluster's metadata, as stored in NATS JetStream KV. One bucket per kind and cluster; no other
 * module names a bucket or builds a key (see buckets below). Records are JSON: small, rarely
 * written, and readable with the `nats kv` tool when an operator needs to look.
 *
 *   bucket                        key                    value
 *   wharf-<cluster>-queues        <queue>                QueueMeta
 *   wharf-<cluster>-partitions    <queue>.<partition>    Assignment     (epoch changes only by CAS)
 *   wharf-<cluster>-nodes         <node>                 NodeRecord
 *   wharf-<cluster>-manager       leader                 ManagerLease   (taken and renewed by CAS)
 *   wharf-<cluster>-tasks         <taskId>               MessageMoveTask (move-task-store.ts; advanced by CAS)
 *   wharf-<cluster>-groups        <queue>.<group>        GroupRecord    (consumer groups of streams, by CAS; groups.ts)
 *   wharf-<cluster>-principals    <principal>            PrincipalPolicy (authorization; principal-store.ts, only with auth on)
 *
 * Every write that decides something (a new epoch, a new primary, the manager's lease) is a
 * compare-and-swap on the key's last revision, never a blind put after a read: a writer working
 * from a stale read fails and must look again.
 */
import type { QueueAttributes, QueueTags } from '../protocol/messages.ts';

/** How a partition acknowledges sends and deletes. */
export type ReplicationMode = 'sync' | 'async';

export interface QueueMeta {
  name: string;
  attributes: QueueAttributes;
  /** A random number drawn at creation: receipt handles carry it, so none outlives its queue. */
  incarnation: number;
  createdAt: number;
  modifiedAt: number;
  /** The queue's tags (tags.ts); absent when it has none, and in records written before tags existed. */
  tags?: QueueTags;
  /**
   * Partition states by partition id, written by the cluster manager when it adds or retires
   * partitions (layout.ts). Absent: partitions 0 to attributes.partitions − 1, all active.
   */
  layout?: PartitionLayout;
}

/**
 * `active`: takes sends and receives. `draining`: receives, deletes and visibility changes only,
 * until it holds nothing. `retired`: empty, its replicas dropped; its id is never used again.
 */
export type PartitionState = 'active' | 'draining' | 'retired';

export interface PartitionLayout {
  /** One state per partition id ever given: ids are stable, a partition keeps its id for life. */
  states: PartitionState[];
  /** Rises with every change: the manager's writes of the layout compare it. */
  generation: number;
  /**
   * The active partitions before the last change of the active set, in id order: while the one a
   * deduplication id named then is draining, a send with that id asks it first (docs/autoscaling.md).
   */
  previous?: number[];
}

/**
 * Who holds one partition. Written by the cluster manager only.
 *
 * - `replicas` are the voting replicas (the primary among them): a write is committed once a
 *   majority of them persisted it, and a new primary is chosen only from them.
 * - `learners` are being added (a join or a rebalance): they copy the log but neither count for
 *   commit nor can be elected; the manager moves one into `replicas` once it has caught up.
 * - `primary` is null while an election runs: replicas that see `epoch` with no primary stop
 *   following the old one and report their log ends, and the manager picks the most complete.
 * - `epoch` rises by one with every change of primary (including to null).
 */
export interface Assignment {
  queue: string;
  partition: number;
  incarnation: number;
  replicas: string[];
  learners: string[];
  primary: string | null;
  epoch: number;
  /** Replicas the primary last reported as caught up (informational: elections use the replicas' own reports). */
  isr: string[];
  /** Nodes being removed from `replicas` once the primary has moved off them (drain). */
  leaving: string[];
  updatedAt: number;
  /**
   * Voting replica → the id of the store (NodeRecord.store) it held its copy in when the manager
   * placed it or confirmed it. A node that comes back with another store lost that copy: its replica
   * counts as a learner until it has caught up. Absent in records written before store ids existed,
   * and for nodes that did not report one: those replicas are taken at their word.
   */
  stores?: Record<string, string>;
  /**
   * The last primary before the fence that opened this epoch, and its epoch. A primary elected here
   * asks it whether it served that epoch and has stopped (src/replication/releases.ts): if so, no
   * earlier primary can still hold a lease and the new one serves without waiting one out.
   */
  previous?: { primary: string; epoch: number };
}

export type NodeState = 'active' | 'draining' | 'removed';

/**
 * A cluster's back-end model (docs/models.md): `primary`, partitions with a primary elected by the
 * cluster manager; `hosts`, independent hosts, each the writer of its own shard of every queue it
 * stores, whose shards the surviving hosts take over when it dies.
 */
export type ClusterModel = 'primary' | 'hosts';
export const CLUSTER_MODELS: readonly ClusterModel[] = ['primary', 'hosts'];
export const isClusterModel = (s: string): s is ClusterModel => (CLUSTER_MODELS as readonly string[]).includes(s);

export interface NodeRecord {
  id: string;
  /** Random per process start: a restarted node is told apart from one that never stopped. */
  boot: string;
  state: NodeState;
  registeredAt: number;
  /** The random id its RocksDB store was created with: another one means the disk was wiped or replaced. */
  store?: string;
  /** How many times that store had been opened: a store found below it is an older copy (store-identity.ts). */
  storeGeneration?: number;
  /**
   * The model of the cluster the node runs (its WHARF_CLUSTER_MODEL): the cluster's model as the
   * metadata shows it. Absent in records of nodes from before models existed, which run `primary`.
   */
  model?: ClusterModel;
}

/** The model a node record says its cluster runs. */
export const modelOf = (record: NodeRecord): ClusterModel => record.model ?? 'primary';

export interface ManagerLease {
  /** The node whose manager is active. */
  holder: string;
  /** Rises with every change of holder. */
  term: number;
  /** Wall time of the last renewal (informational: expiry is judged by each standby's monotonic clock). */
  renewedAt: number;
  /** The holder stopped and gave the lease up: a standby takes it at once, without waiting it out. */
  released?: boolean;
}

/** What one replica reports about itself in its node's heartbeat. */
export interface ReplicaReport {
  queue: string;
  partition: number;
  role: ReplicaRole;
  /** The highest epoch this replica has persisted. */
  epoch: number;
  /** Epoch of the last entry in its log, and the index after it. */
  lastEpoch: number;
  logEnd: number;
  /** Index up to which it knows entries are committed. */
  commitIndex: number;
  /** Primary only: replicas whose log end is within the lag limit. */
  isr?: string[];
  /**
   * A learner whose log lost entries it had acknowledged: the position it had reached. It still
   * counts in an election as a witness (the winner must be at least as complete as this), never as
   * a candidate.
   */
  witness?: { lastEpoch: number; logEnd: number };
  /** Primary only: what the partition holds and takes, for the queue's auto-scaling budget. */
  load?: PartitionLoad;
}

export interface PartitionLoad {
  /** Messages held: ready, in flight and delayed. */
  messages: number;
  /** Bytes held, estimated as messages × the mean size of the messages sent to it. */
  bytes: number;
  /** Messages sent to it since this replica became primary: the manager derives the rate. */
  sent: number;
  /** The primary refuses sends (its partition is draining in the metadata it has seen). */
  sealed: boolean;
}

export type ReplicaRole = 'loading' | 'primary' | 'follower' | 'learner' | 'fenced' | 'failed';

/** Published by every node on its heartbeat subject (subjects.ts) every heartbeatMs. */
export interface Heartbeat {
  node: string;
  boot: string;
  /** Sender's wall time, informational. */
  at: number;
  state: NodeState;
  /** The id of the store its replicas' reports come from (NodeRecord.store). */
  store?: string;
  replicas: ReplicaReport[];
}

export function buckets(cluster: string) {
  return {
    queues: `wharf-${cluster}-queues`,
    partitions: `wharf-${cluster}-partitions`,
    nodes: `wharf-${cluster}-nodes`,
    manager: `wharf-${cluster}-manager`,
    groups: `wharf-${cluster}-groups`,
    principals: `wharf-${cluster}-principals`,
  } as const;
}

/** The buckets every node's metadata cache mirrors (src/meta/metadata.ts), by their names in `buckets`. */
export const METADATA_BUCKETS = ['queues', 'partitions', 'nodes', 'manager'] as const;
export type MetadataBucket = (typeof METADATA_BUCKETS)[number];

/** The KV key rule, as @nats-io/kv checks it: tokens of `[-/_=A-Za-z0-9]` joined by dots. */
export const KV_KEY = /^[-/_=A-Za-z0-9]+(\.[-/_=A-Za-z0-9]+)*$/;

/** The bucket of message move tasks (src/meta/move-task-store.ts), opened apart from the metadata's four. */
export const tasksBucket = (cluster: string) => `wharf-${cluster}-tasks`;

export const MANAGER_LEASE_KEY = 'leader';

export const groupKey = (queue: string, group: string) => `${queue}.${group}`;

export const assignmentKey = (queue: string, partition: number) => `${queue}.${partition}`;

/** Votes needed to commit or to elect among `replicas` voting replicas. */
export const quorum = (replicas: number) => Math.floor(replicas / 2) + 1;
