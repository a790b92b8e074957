/**
 * Limits of the client API. Every number a client can run into is here, and docs/api.md lists them.
 * Batches may be larger than SQS's 10 entries: the SDK batches sends for throughput.
 */
export const LIMITS = {
  /** Entries in one SendMessageBatch, DeleteMessageBatch or ChangeMessageVisibilityBatch. */
  maxBatchEntries: 1000,
  /** Bytes of bodies plus attributes in one SendMessageBatch. */
  maxBatchBytes: 4 * 1024 * 1024,
  /** Messages one ReceiveMessage may ask for. */
  maxReceiveMessages: 1000,
  /** Bytes of bodies one ReceiveMessage reply carries at most (it returns fewer messages instead). */
  maxReceiveBytes: 4 * 1024 * 1024,
  /** Longest long-poll wait, seconds. */
  maxWaitTimeSeconds: 20,
  /** Longest visibility timeout, seconds (12 hours). */
  maxVisibilityTimeout: 43_200,
  /** Longest delay of a queue or a message, seconds (7 days; SQS stops at 15 minutes). */
  maxDelaySeconds: 604_800,
  /** Message attributes per message. */
  maxMessageAttributes: 10,
  /** Characters of an attribute name, a batch entry id or a receive attempt id. */
  maxIdLength: 128,
  /** Tags of one queue (SQS's limit). */
  maxQueueTags: 50,
  /** Characters of a queue tag key (at least 1) and of its value (may be empty). */
  maxTagKeyLength: 128,
  maxTagValueLength: 256,
  /** Queues one ListQueues page returns. */
  maxListQueues: 1000,
  /** Grants of one principal's policy. */
  maxGrants: 100,
  /** Longest per-message TTL, seconds (the longest retention). */
  maxTtlSeconds: 1_209_600,
  /** Highest rate a message move task may be given, messages per second. */
  maxMovesPerSecond: 10_000,
  /** Message move tasks kept (running and finished); the oldest finished ones are forgotten first. */
  maxMoveTasks: 100,
  /** Messages one PeekMessages page returns. */
  maxPeekMessages: 100,
  /** Stored messages one PeekMessages request reads at most (a filtered page may come back short, with a cursor). */
  maxPeekScan: 10_000,
  /** Characters of the metadata a consumer group may commit with an offset. */
  maxOffsetMetadata: 1024,
  /** Session timeouts of consumer group members, ms: a member silent for longer leaves the group. */
  minSessionTimeoutMs: 1000,
  maxSessionTimeoutMs: 300_000,
  /** Members of one consumer group. */
  maxGroupMembers: 256,
  /** Consumer groups with committed offsets in one partition. */
  maxGroupsPerPartition: 1000,
} as const;

/** A FIFO message group id, as SQS's: letters, digits and ASCII punctuation, no white space (1-128 characters). */
export const MESSAGE_GROUP_ID = /^[A-Za-z0-9!-/:-@[-`{-~]{1,128}$/;
