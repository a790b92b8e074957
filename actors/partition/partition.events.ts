/**
 * What a partition is asked to do, and what it answers. Requests arrive in batches (everything that
 * reached the node in one turn of the event loop), so one batch becomes one durable write.
 */
import type { Delivery, HandleResult, NewMessage, SendLimits } from './ledger.ts';
import type { BeatsOf } from './lease-keeper.ts';
import type { Change, DelayedEntry, LoadedPartition, MessageRecord, OffsetRecord } from './records.ts';
import type { CommitResult, HeadRow } from './stream.ts';

export type PartitionOp =
  /** `limit`, `maxStoredBytes`: the queue's limits for this partition (ledger.ts, SendLimits). */
  | ({ type: 'send'; messages: NewMessage[] } & SendLimits)
  | {
      type: 'receive';
      max: number;
      maxBytes: number;
      visibilityMs: number;
      attemptId?: string;
      /** Recorded with each delivery as its lease owner. */
      consumer?: string;
      /** The redrive policy's maxReceiveCount: a message received that often goes to the DLQ instead. */
      maxReceives?: number;
      /** Keep these leases alive while `consumer` heartbeats (lease-keeper.ts); needs `consumer`. */
      heartbeat?: boolean;
      /** Who received (with `heartbeat`): only this principal's beats keep the leases. @default 'anonymous' */
      principal?: string;
    }
  /** The node stored these marked messages in their DLQ (dead-letter.ts): one result per offset. */
  | { type: 'deadLettered'; offsets: number[] }
  /** Deletes by receipt: one result per item, in order (a batch delete is one request). */
  | { type: 'delete'; items: Array<{ offset: number; seq: number }> }
  | { type: 'changeVisibility'; items: Array<{ offset: number; seq: number; visibilityMs: number }> }
  | { type: 'purge' }
  /** Stream mode: a consumer group's position, written in the partition's replicated batch. */
  | { type: 'commitOffset'; group: string; offset: number; generation: number; metadata?: string }
  | StreamRead;

/**
 * Stream reads: answered on the primary's node from the store and the actor's snapshot, below the
 * readable end (the last settled write); they never reach the partition actor's writer.
 */
export type StreamRead =
  | { type: 'read'; from: number; max: number; maxBytes: number }
  | { type: 'findOffset'; timestamp: number }
  | { type: 'offsets'; group?: string }
  | { type: 'groups' };

export type PartitionResult =
  /** The message id of each message of the send, in order (the first one's for a duplicate). */
  /** `rejected`: indexes refused for the length limit; `overStoredBytes`: for the bytes limit. */
  | { type: 'sent'; ids: string[]; rejected?: number[]; overStoredBytes?: number[] }
  | { type: 'received'; deliveries: Array<Delivery & { record: MessageRecord }> }
  | { type: 'handled'; results: HandleResult[] }
  | { type: 'purged'; count: number }
  | { type: 'committed'; result: CommitResult }
  | { type: 'read'; messages: Array<[offset: number, record: MessageRecord]>; start: number; end: number }
  | { type: 'offset'; offset: number }
  | { type: 'offsets'; start: number; end: number; committed?: OffsetRecord }
  | { type: 'groups'; groups: string[] }
  | { type: 'failed'; code: string; message: string };

export interface PartitionRequest {
  id: number;
  op: PartitionOp;
}

export interface PartitionReply {
  id: number;
  result: PartitionResult;
}

export type PartitionEvent =
  | { type: 'requests'; items: PartitionRequest[] }
  | { type: 'configure'; retentionMs: number; dedupWindowMs?: number; retentionBytes?: number; deadLetterOnExpiry?: boolean }
  | { type: 'stop' };

export interface PartitionLimits {
  windowMessages: number;
  windowBytes: number;
  maxInflight: number;
  timerWindow: number;
}

export interface PartitionInput {
  queue: string;
  partition: number;
  limits: PartitionLimits;
  tickMs: number;
  retentionMs: number;
  /** Messages past retention or their TTL go to the DLQ (the queue's deadLetterOnExpiry). */
  deadLetterOnExpiry?: boolean;
  /** How long deduplication ids are remembered (the queue's deduplicationWindow). @default 5 minutes */
  dedupWindowMs?: number;
  /** A FIFO queue's partition: each message group is delivered in order. */
  fifo?: boolean;
  /** How often the head of the log is checked for messages past retention. */
  retentionCheckMs: number;
  /** Wall clock in ms; the same clock the actor's timers run on. */
  now: () => number;
  /**
   * Lowest delivery sequence this primary may hand out: epoch × 2^32, so a receipt handle of a
   * delivery an earlier primary made but never replicated cannot match a delivery of this one.
   */
  seqFloor?: number;
  /**
   * The lease heartbeat (lease-keeper.ts): the beats this node heard, and how long a consumer may
   * stay silent before its kept leases end. Without it, heartbeat receives are plain receives.
   */
  beats?: { of: BeatsOf; timeoutMs: number };
  /** Present for a partition of a stream (queue attribute mode: 'stream'). */
  stream?: StreamConfig;
}

export interface StreamConfig {
  /** Bytes the partition keeps; 0 for no size limit. */
  retentionBytes: number;
  /** Consumer groups with committed offsets the partition keeps. */
  maxGroups: number;
}

// ---- effects ---------------------------------------------------------------------------------------

export interface LoadInput {
  queue: string;
  partition: number;
}
export type LoadOutput = LoadedPartition;

export interface CommitInput {
  queue: string;
  partition: number;
  changes: Change[];
}
/** The batch's write is durable here (its log entry appended); what settling it needs is in `ticket`. */
export interface CommitOutput {
  /** Opaque to the machine: handed to `settle` as it came. */
  ticket: unknown;
  /**
   * Its settle waits for other replicas: the next batch may be committed meanwhile. A settle that
   * does not wait ends at once, and the writer waits for it (fewer, larger writes).
   */
  waits?: boolean;
}

/**
 * Finishes a committed write, in commit order: waits until it may be answered (replicated, state
 * applied, lease held) and reads the bodies the replies need.
 */
export interface SettleInput {
  queue: string;
  partition: number;
  /** From the batch's commit; undefined for a batch that wrote nothing. */
  ticket: unknown;
  /** Offsets whose records the replies need. */
  reads: number[];
}
export interface SettleOutput {
  records: Map<number, MessageRecord>;
}

export type PageInput =
  | { kind: 'window'; queue: string; partition: number; from: number; end: number; limit: number }
  | { kind: 'timers'; queue: string; partition: number; from: { due: number; seq: number }; limit: number }
  | { kind: 'retention'; queue: string; partition: number; from: number; end: number; sentBefore: number; limit: number }
  | { kind: 'purged'; queue: string; partition: number; end: number; limit: number }
  | { kind: 'streamHead'; queue: string; partition: number; from: number; end: number; limit: number };

export type PageOutput =
  | { kind: 'window'; scanned: Array<[number, MessageRecord]>; complete: boolean; end: number }
  | { kind: 'timers'; scanned: DelayedEntry[]; complete: boolean }
  | { kind: 'retention'; expired: number[]; next: number }
  | { kind: 'purged'; messages: number[]; complete: boolean }
  | { kind: 'streamHead'; rows: HeadRow[] };
