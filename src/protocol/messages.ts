/**
 * Every request and reply of the client API, version 1. Bodies are bytes (`Uint8Array`) end to end;
 * frames are MessagePack (see codec.ts). Times are milliseconds since the epoch, durations are
 * seconds as in SQS.
 */
import type { WireError } from '../errors.ts';

export const PROTOCOL_VERSION = 1;

/** A message attribute: typed like SQS's, so the SQS endpoint can map them one to one. */
export type AttributeValue =
  | { type: 'string'; value: string }
  | { type: 'number'; value: string }
  | { type: 'binary'; value: Uint8Array };
export type MessageAttributes = Record<string, AttributeValue>;

/** Queue attributes a client may set. */
export interface SettableAttributes {
  /** Seconds a received message stays invisible. 0–43,200. @default 30 */
  visibilityTimeout: number;
  /** Seconds a message is kept. 60–1,209,600. @default 345,600 (4 days) */
  retentionPeriod: number;
  /** Bytes of body plus attributes. 1,024–1,048,576. @default 262,144 */
  maximumMessageSize: number;
  /** Seconds every new message waits before it can be received. 0–604,800 (7 days), below retentionPeriod. @default 0 */
  delaySeconds: number;
  /** Default long-poll wait of ReceiveMessage, seconds. 0–20. @default 0 */
  receiveWaitTime: number;
  /**
   * `sync`: a send, receive or delete is acknowledged once a majority of the partition's replicas
   * persisted it. `async`: once the primary persisted it; the followers copy it next, so a failover
   * can lose what they had not copied yet. @default 'sync'
   */
  replication: 'sync' | 'async';
  /*
   * Dead letters (docs/api.md#dead-letter-queues). Optional: absent means the default, and a
   * SetQueueAttributes with `null` removes one.
   */
  /** Where messages go that fail too often: the dead-letter queue and the receive count past which they go. @default none */
  redrivePolicy?: RedrivePolicy;
  /** Which queues may name this queue as their dead-letter queue. @default { redrivePermission: 'allowAll' } */
  redriveAllowPolicy?: RedriveAllowPolicy;
  /** Messages past retention or their TTL go to the dead-letter queue instead of being deleted (needs redrivePolicy). @default false */
  deadLetterOnExpiry?: boolean;
  /** Messages the queue holds at most (ready, in flight, delayed), spread over its partitions. 1–100,000,000. @default no limit */
  maxLength?: number;
  /** What a send beyond maxLength does: `reject` it (queue_full), `drop-oldest` ready message, or `dead-letter` the new one. @default 'reject' */
  overflowPolicy?: 'reject' | 'drop-oldest' | 'dead-letter';
  /**
   * The cluster manager adds and retires partitions by load (docs/autoscaling.md). Standard queues
   * only; `null` in a SetQueueAttributes turns it off (the partitions stay as they are). @default off
   */
  autoScaling?: AutoScaling;
  /**
   * `arrival`: best effort by arrival (each partition delivers in the order messages became
   * visible). `timeWindow`: every message is held until min(producedAt, arrival) + orderingWindowMs
   * and released in that order, so producers' clocks, not network paths, order delivery
   * (docs/api.md, "Ordering"). Optional in the type: queues created before it existed lack it (read
   * as the default). @default 'arrival'
   */
  ordering?: 'arrival' | 'timeWindow';
  /** The hold of `timeWindow` ordering, ms. 1–300,000. @default 1000 */
  orderingWindowMs?: number;
  /**
   * Seconds a deduplication id (given, or the body's SHA-256 with contentBasedDeduplication) is
   * remembered: a repeat within it stores nothing. 60–604,800. A change applies to later sends.
   * @default 300
   */
  deduplicationWindow: number;
  /**
   * `queue`: a deduplication id names one message in the whole queue. `messageGroup` (FIFO queues
   * only): in its message group, so equal ids in different groups are different messages. A FIFO
   * queue with more than one partition needs `messageGroup`. @default 'queue'
   */
  deduplicationScope: 'queue' | 'messageGroup';
  /** A message sent without a deduplication id gets the SHA-256 of its body as one. @default false */
  contentBasedDeduplication: boolean;
  /**
   * Stream mode only: bytes of bodies and attributes each partition keeps; beyond it the oldest
   * messages go. 0 keeps any size (retentionPeriod still applies). @default 0
   */
  retentionBytes: number;
  /*
   * Performance isolation (docs/isolation.md): 0 is unlimited. Optional in the type: queues created
   * before they existed lack them (read as the default).
   */
  /** API requests per second naming the queue, over the whole cluster. 0–1,000,000. @default 0 */
  maxRequestsPerSecond?: number;
  /** Bytes of bodies and attributes sent per second, over the whole cluster. 0–2^40. @default 0 */
  maxBytesPerSecond?: number;
  /**
   * Bytes of bodies and attributes the queue may hold (ready, in flight and delayed), each partition
   * its share; a send past it fails with queue_full. Queues only (a stream has retentionBytes).
   * 0–2^50. @default 0
   */
  maxStoredBytes?: number;
}

export interface RedrivePolicy {
  /** The dead-letter queue: an existing queue whose redriveAllowPolicy lets this one use it. */
  deadLetterQueue: string;
  /** A message received this many times is dead-lettered at its next receive. 1–1,000. */
  maxReceiveCount: number;
}

export interface RedriveAllowPolicy {
  redrivePermission: 'allowAll' | 'denyAll' | 'byQueue';
  /** With `byQueue`: the queues allowed (1–10 names). */
  sourceQueues?: string[];
}

/**
 * Auto-scaling of a queue's partitions: each partition has a budget, and the queue's use of it is
 * the highest of its three ratios (messages held, bytes held, sends per second), averaged over the
 * active partitions. Every field is optional in a request; the stored attribute has them all.
 */
export interface AutoScaling {
  /** Fewest active partitions. 1–64. @default 1 */
  minPartitions: number;
  /** Most active partitions. 1–64, at least minPartitions. @default 8 */
  maxPartitions: number;
  /** Messages one partition should hold (ready, in flight, delayed). @default 1000000 */
  budgetMessages: number;
  /** Bytes one partition should hold. @default 1073741824 (1 GiB) */
  budgetBytes: number;
  /** Sends per second one partition should take. @default 4000 */
  budgetSendsPerSecond: number;
  /** Percent of the budget past which a partition is added. 1–100. @default 80 */
  scaleUpPercent: number;
  /** Percent of the budget (what the queue would use with one partition fewer) below which one is retired. 0–99, below scaleUpPercent. @default 30 */
  scaleDownPercent: number;
  /** Seconds after a change before the next partition is added. 0–86,400. @default 30 */
  scaleUpCooldownSeconds: number;
  /** Seconds the queue must stay below scaleDownPercent (and since the last change) before a partition is retired. 0–86,400. @default 300 */
  scaleDownAfterSeconds: number;
}

/** How a message came to be in a dead-letter queue, and its delivery attempts before. */
export interface DeadLetterHistory {
  sourceQueue: string;
  reason: 'max-receives' | 'retention' | 'ttl' | 'overflow' | 'unknown-queue';
  receiveCount: number;
  deadLetteredAt: number;
  /** Attempts in all; `attempts` holds the last 32. */
  totalAttempts: number;
  attempts: Array<{ n: number; at?: number; endedAt: number; consumer?: string; ended: 'lease-expired' | 'released' | 'dead-lettered' }>;
}

/** The optional attributes of dead letters: `null` in a SetQueueAttributes removes one. */
export type DeadLetterAttribute = 'redrivePolicy' | 'redriveAllowPolicy' | 'deadLetterOnExpiry' | 'maxLength' | 'overflowPolicy';

/** Attributes absent unless set, of any shape: `null` in a SetQueueAttributes removes one. */
export type OptionalAttribute = DeadLetterAttribute | 'autoScaling';

/** A SetQueueAttributes: settable attributes to change, and `null` for optional ones to remove. */
export type AttributeChanges = {
  [K in keyof SettableAttributes]?: AttributeInput<K> | (K extends OptionalAttribute ? null : never);
};

/** An attribute as a request gives it: auto-scaling's fields each default on their own. */
type AttributeInput<K extends keyof QueueAttributes> = K extends 'autoScaling' ? Partial<AutoScaling> : QueueAttributes[K];

/** A CreateQueue's attributes: any of them, the rest defaulted. */
export type CreationRequest = { [K in keyof QueueAttributes]?: AttributeInput<K> };

/** Attributes fixed at creation. */
export interface CreationAttributes {
  /**
   * A FIFO queue: every message names a message group (`messageGroupId`), and the messages of a
   * group are delivered in the order they were sent, one in flight at a time. @default false
   */
  fifo: boolean;
  /** Partitions of the queue. 1–64. @default 1 */
  partitions: number;
  /** Copies of each partition, on different nodes (fewer while the cluster has fewer nodes). 1–5. @default 3 */
  replicationFactor: number;
  /**
   * `queue`: SQS-style, a message is leased to one consumer and gone once deleted. `stream`: a
   * message stays until retention removes it; consumer groups read it by offset. @default 'queue'
   */
  mode: 'queue' | 'stream';
}

export type QueueAttributes = SettableAttributes & CreationAttributes;

export interface QueueCounts {
  /** Messages that can be received now. */
  approximateNumberOfMessages: number;
  /** Messages received and not yet deleted whose visibility timeout has not expired. */
  approximateNumberOfMessagesNotVisible: number;
  /** Messages waiting out a delay. */
  approximateNumberOfMessagesDelayed: number;
  /** Messages of this queue sent to its dead-letter queue so far (or on their way there). */
  approximateNumberOfMessagesDeadLettered: number;
  /** Bytes of bodies and attributes of the messages held (ready, in flight and delayed), as maxStoredBytes counts them. */
  approximateStoredBytes: number;
  /**
   * Seconds since the oldest message not yet deleted (ready, in flight or delayed) was sent, as SQS's
   * ApproximateAgeOfOldestMessage; 0 when the queue is empty.
   */
  approximateAgeOfOldestMessage: number;
}

/** A queue's tags: key → value, keys case-sensitive. Rules in tags.ts. */
export type QueueTags = Record<string, string>;

export interface QueueDescription {
  queue: string;
  attributes: QueueAttributes;
  counts: QueueCounts;
  createdAt: number;
  modifiedAt: number;
}

export interface OutgoingMessage {
  body: Uint8Array;
  attributes?: MessageAttributes;
  /** Overrides the queue's delay for this message. 0–604,800 seconds (7 days), below the queue's retentionPeriod. */
  delaySeconds?: number;
  /**
   * When the producer made the message, ms since the epoch, by its clock: orders delivery on a
   * `timeWindow` queue (ignored otherwise). The SDK sets it. @default the arrival time
   */
  producedAt?: number;
  /**
   * Makes the send idempotent: another send with the same id to the same queue (or message group,
   * with deduplicationScope `messageGroup`) within the queue's deduplicationWindow (default 5
   * minutes) stores nothing and answers the first one's message id. 1–128 of A-Z, a-z, 0-9, '-', '_'.
   * The SDK sets one on every message, so its retries never create a second copy.
   */
  deduplicationId?: string;
  /** Per-message time to live, seconds: the message expires this long after the send, before retention would. 1–1,209,600. */
  ttlSeconds?: number;
  /**
   * The message group, on a FIFO queue (required there, refused elsewhere): the messages of a group
   * are delivered in order. 1–128 of A-Z, a-z, 0-9 and the punctuation !"#$%&'()*+,-./:;<=>?@[\]^_`{|}~.
   */
  messageGroupId?: string;
}

export interface BatchEntryFailure {
  id: string;
  code: string;
  message: string;
  /** True when the entry itself was wrong: retrying it unchanged will fail again. */
  senderFault: boolean;
}

export interface ReceivedMessage {
  messageId: string;
  receiptHandle: string;
  body: Uint8Array;
  attributes: MessageAttributes;
  sentAt: number;
  receiveCount: number;
  firstReceivedAt: number;
  /** Only in a dead-letter queue: where the message came from, why, and its attempts there. */
  deadLetter?: DeadLetterHistory;
  /** Its message group, on a FIFO queue. */
  messageGroupId?: string;
}

/** Where a message is, as PeekMessages sees it. */
export type PeekState = 'ready' | 'inflight' | 'delayed';
export const PEEK_STATES = ['ready', 'inflight', 'delayed'] as const satisfies readonly PeekState[];

/** A message seen by PeekMessages: nothing about it changed by looking. */
export interface PeekedMessage {
  messageId: string;
  partition: number;
  /** `stored` on a stream: its messages stay, whoever read them, until retention removes them. */
  state: PeekState | 'stored';
  /** A stream's message: its offset in its partition. */
  offset?: number;
  sentAt: number;
  /** Bytes of body plus attributes. */
  size: number;
  /** Deliveries so far (0 for a message never received). */
  receiveCount: number;
  /** In flight: who received it (the receive's consumer), when it named itself. */
  leaseOwner?: string;
  /** In flight: when its lease ends, ms. */
  leaseUntil?: number;
  /** Delayed: when it becomes receivable, ms. */
  delayedUntil?: number;
  /** Its message group, on a FIFO queue. */
  messageGroupId?: string;
  attributes: MessageAttributes;
  /** Only when the request asked for bodies. */
  body?: Uint8Array;
}

/** A consumer group's committed offset in one stream partition, as PeekMessages shows it. */
export interface PeekedOffset {
  partition: number;
  group: string;
  /** The next offset the group reads: the messages below it are read (and committed) by the group. */
  offset: number;
}

/** A message as a stream read returns it: by offset, nothing leased. */
export interface StreamMessage {
  offset: number;
  messageId: string;
  body: Uint8Array;
  attributes: MessageAttributes;
  /** When the partition's primary accepted it; never decreases along a partition's offsets. */
  sentAt: number;
}

/** A group's committed position in one partition: the next offset the group reads. */
export interface CommittedOffset {
  offset: number;
  generation: number;
  metadata?: string;
  committedAt: number;
}

export interface PartitionOffsets {
  partition: number;
  /** The lowest offset still stored (retention and purges remove from the head). */
  startOffset: number;
  /** One past the highest readable offset: in sync mode, writes settled on a majority. */
  endOffset: number;
  committed?: CommittedOffset;
}

export interface GroupMember {
  memberId: string;
  partitions: number[];
  lastSeen: number;
}

/** A member's view of its group after a join or heartbeat. */
export interface GroupAssignment {
  memberId: string;
  generation: number;
  partitions: number[];
  /** Milliseconds within which the member must heartbeat again. */
  sessionTimeoutMs: number;
}

/** A redrive: messages moved out of a dead-letter queue, at a bounded rate, resumable. */
export interface MessageMoveTask {
  taskId: string;
  sourceQueue: string;
  /** Absent: each message goes back to the queue it was dead-lettered from. */
  destinationQueue?: string;
  maxMessagesPerSecond?: number;
  status: 'running' | 'cancelling' | 'cancelled' | 'completed' | 'failed';
  /** Messages moved so far. */
  moved: number;
  /** The source's message count when the task started: an estimate of the total. */
  total: number;
  /** Messages that could not be moved (left in the source). */
  failures: number;
  lastError?: string;
  /** The node running it now. */
  owner?: string;
  startedAt: number;
  updatedAt: number;
}

/**
 * What a principal may do to a queue (docs/security.md has which actions each one allows). `admin`
 * on a queue is deleting it and redriving its messages; a principal marked `admin` may do anything,
 * to every queue, and manage principals.
 */
export const PERMISSIONS = [
  'create',
  'send',
  'receive',
  'delete',
  'change-visibility',
  'peek',
  'purge',
  'attributes',
  'read',
  'commit',
  'admin',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

/** Permissions on the queues a pattern names: one queue, or every name with a prefix (`orders-*`, `*`). */
export interface Grant {
  queues: string;
  permissions: Permission[];
}

/**
 * One principal's authorization, stored in the metadata service. A principal of a tenant reaches
 * only the tenant's queues (names beginning `<tenant>_`), and its grants' patterns are read inside
 * that namespace: `orders` means `<tenant>_orders`.
 */
export interface PrincipalPolicy {
  name: string;
  tenant?: string;
  admin?: boolean;
  grants: Grant[];
}

/** Request and reply of every action: the single map both client and node are typed from. */
export interface Api {
  CreateQueue: {
    /** `tags` are set on a new queue only; an existing queue keeps its own. */
    request: { queue: string; attributes?: CreationRequest; tags?: QueueTags };
    reply: { queue: string; created: boolean };
  };
  /** Adds tags, or replaces the values of keys it has. */
  TagQueue: { request: { queue: string; tags: QueueTags }; reply: Record<string, never> };
  /** Removes tags by key; keys it does not have are ignored. */
  UntagQueue: { request: { queue: string; tagKeys: string[] }; reply: Record<string, never> };
  ListQueueTags: { request: { queue: string }; reply: { tags: QueueTags } };
  ListQueues: {
    request: { prefix?: string; limit?: number; nextToken?: string };
    reply: { queues: string[]; nextToken?: string };
  };
  GetQueueAttributes: { request: { queue: string }; reply: QueueDescription };
  SetQueueAttributes: {
    request: { queue: string; attributes: AttributeChanges };
    reply: { attributes: QueueAttributes };
  };
  DeleteQueue: { request: { queue: string }; reply: Record<string, never> };
  PurgeQueue: { request: { queue: string }; reply: { purged: number } };
  SendMessage: {
    request: { queue: string } & OutgoingMessage;
    reply: { messageId: string };
  };
  SendMessageBatch: {
    request: { queue: string; entries: Array<{ id: string } & OutgoingMessage> };
    reply: { successful: Array<{ id: string; messageId: string }>; failed: BatchEntryFailure[] };
  };
  ReceiveMessage: {
    request: {
      queue: string;
      /** 1–1,000. @default 1 */
      maxMessages?: number;
      /** Long-poll wait, 0–20 seconds. @default the queue's receiveWaitTime */
      waitTimeSeconds?: number;
      /** Overrides the queue's visibility timeout for these deliveries. 0–43,200 seconds. */
      visibilityTimeout?: number;
      /** A retried receive with the same id returns the same messages while their leases live. */
      receiveRequestAttemptId?: string;
      /**
       * Who receives: recorded with each delivery as its lease owner, shown wherever the message's
       * whereabouts are (inspector, peek, a dead-lettered message's history). 1–128 printable ASCII
       * characters. The SDK sends one per client (host:pid:random) unless told otherwise.
       */
      consumer?: string;
      /**
       * Keep these leases alive while `consumer` heartbeats (LeaseHeartbeat), and end them within
       * the node's heartbeat timeout once it stops. Needs `consumer`. @default false
       */
      heartbeat?: boolean;
    };
    reply: { messages: ReceivedMessage[] };
  };
  DeleteMessage: { request: { queue: string; receiptHandle: string }; reply: Record<string, never> };
  DeleteMessageBatch: {
    request: { queue: string; entries: Array<{ id: string; receiptHandle: string }> };
    reply: { successful: Array<{ id: string }>; failed: BatchEntryFailure[] };
  };
  ChangeMessageVisibility: {
    request: { queue: string; receiptHandle: string; visibilityTimeout: number };
    reply: Record<string, never>;
  };
  ChangeMessageVisibilityBatch: {
    request: {
      queue: string;
      entries: Array<{ id: string; receiptHandle: string; visibilityTimeout: number }>;
    };
    reply: { successful: Array<{ id: string }>; failed: BatchEntryFailure[] };
  };
  StartMessageMoveTask: {
    request: { sourceQueue: string; destinationQueue?: string; maxMessagesPerSecond?: number };
    reply: { taskId: string };
  };
  CancelMessageMoveTask: { request: { taskId: string }; reply: { task: MessageMoveTask } };
  ListMessageMoveTasks: { request: { sourceQueue?: string }; reply: { tasks: MessageMoveTask[] } };
  /** Stream mode: messages of one partition from `offset` on (nothing is leased or written). */
  ReadStream: {
    request: {
      queue: string;
      partition: number;
      offset: number;
      /** 1–1,000. @default 100 */
      maxMessages?: number;
      /** Bytes of bodies and attributes, 1–4 MiB (at least one message is returned). @default 1 MiB */
      maxBytes?: number;
      /** Wait up to this many seconds (0–20) for a message when none is readable yet. @default 0 */
      waitTimeSeconds?: number;
    };
    reply: { messages: StreamMessage[]; nextOffset: number; startOffset: number; endOffset: number };
  };
  /** Stream mode: the first offset of a partition whose message was sent at or after `timestamp`. */
  FindOffset: {
    request: { queue: string; partition: number; timestamp: number };
    reply: { offset: number };
  };
  /** Stream mode: each partition's start and end, and a group's committed offsets. */
  GetOffsets: {
    request: { queue: string; group?: string };
    reply: { partitions: PartitionOffsets[] };
  };
  /**
   * Stream mode: stores a group's positions, each in its partition's replicated write. With
   * `memberId` the member must hold the group's current `generation` and own each partition;
   * without it (an operator's seek) the group must have no members.
   */
  CommitOffsets: {
    request: {
      queue: string;
      group: string;
      memberId?: string;
      generation?: number;
      offsets: Array<{ partition: number; offset: number; metadata?: string }>;
    };
    reply: Record<string, never>;
  };
  JoinGroup: {
    request: { queue: string; group: string; memberId?: string; sessionTimeoutMs?: number };
    reply: GroupAssignment;
  };
  GroupHeartbeat: {
    request: { queue: string; group: string; memberId: string; generation: number };
    reply: GroupAssignment;
  };
  LeaveGroup: { request: { queue: string; group: string; memberId: string }; reply: Record<string, never> };
  DescribeGroup: {
    request: { queue: string; group: string };
    reply: { group: string; generation: number; members: GroupMember[] };
  };
  ListGroups: { request: { queue: string }; reply: { groups: string[] } };
  /**
   * Browses messages without consuming them: read-only, from each partition primary's store, in
   * partition order, then offset order (ready and in flight), then due order (delayed). On a stream:
   * its stored messages in offset order (`offset` and state `stored`), with the consumer groups'
   * committed offsets in the partitions the page read.
   */
  PeekMessages: {
    request: {
      queue: string;
      /** @default all three */
      states?: PeekState[];
      /** Only this partition. */
      partition?: number;
      /** From the previous page's `cursor`. */
      cursor?: string;
      /** 1–100. @default 20 */
      limit?: number;
      /** Only the message with this id. */
      messageId?: string;
      /** Only messages with this attribute (and, if given, this value, compared as text). */
      attribute?: { name: string; value?: string };
      /** Include bodies (a page then stops at 4 MiB of them). @default false */
      body?: boolean;
      /** Streams only, with `partition`: from this offset of the partition (messages below it are skipped). @default its start */
      offset?: number;
    };
    /**
     * `cursor` is absent once every partition was read to its end. `committed` (streams only): each
     * consumer group's committed offset in each partition this page read.
     */
    reply: { messages: PeekedMessage[]; cursor?: string; scanned: number; committed?: PeekedOffset[] };
  };
  /** Admin only: creates or replaces a principal's policy. */
  PutPrincipal: { request: { policy: PrincipalPolicy }; reply: Record<string, never> };
  /** Admin only: removes a principal's policy (it may then do nothing). */
  DeletePrincipal: { request: { name: string }; reply: Record<string, never> };
  /** Admin only. */
  ListPrincipals: { request: Record<string, never>; reply: { principals: PrincipalPolicy[] } };
  /** Who the cluster takes the caller for, and what it may do. */
  WhoAmI: {
    request: Record<string, never>;
    reply: { principal: string; authorization: boolean; admin: boolean; policy?: PrincipalPolicy };
  };
}

/**
 * Published (not requested) by a client that received with `heartbeat: true`, on the subject
 * `lease.heartbeat` every node hears: its consumer is alive, or, with `goodbye`, gone for good.
 */
export interface LeaseHeartbeat {
  v: 1;
  consumer: string;
  goodbye?: boolean;
}

export type Action = keyof Api;
/** The actions of streams (mode stream): reads by offset, offsets, consumer groups. */
export const STREAM_ACTIONS = [
  'ReadStream',
  'FindOffset',
  'GetOffsets',
  'CommitOffsets',
  'JoinGroup',
  'GroupHeartbeat',
  'LeaveGroup',
  'DescribeGroup',
  'ListGroups',
] as const satisfies readonly Action[];
export type StreamAction = (typeof STREAM_ACTIONS)[number];
/** The actions that manage authorization (security/access.ts). */
export const PRINCIPAL_ACTIONS = ['PutPrincipal', 'DeletePrincipal', 'ListPrincipals', 'WhoAmI'] as const satisfies readonly Action[];
export type PrincipalAction = (typeof PRINCIPAL_ACTIONS)[number];
export const ACTIONS = [
  'CreateQueue',
  'ListQueues',
  'GetQueueAttributes',
  'SetQueueAttributes',
  'DeleteQueue',
  'PurgeQueue',
  'TagQueue',
  'UntagQueue',
  'ListQueueTags',
  'SendMessage',
  'SendMessageBatch',
  'ReceiveMessage',
  'DeleteMessage',
  'DeleteMessageBatch',
  'ChangeMessageVisibility',
  'ChangeMessageVisibilityBatch',
  'StartMessageMoveTask',
  'CancelMessageMoveTask',
  'ListMessageMoveTasks',
  'PeekMessages',
  ...STREAM_ACTIONS,
  ...PRINCIPAL_ACTIONS,
] as const satisfies readonly Action[];

export type Request<A extends Action> = Api[A]['request'];
export type Reply<A extends Action> = Api[A]['reply'];

/** Every reply frame. */
export type Envelope<T> = { v: 1; ok: true; body: T } | { v: 1; ok: false; error: WireError };
