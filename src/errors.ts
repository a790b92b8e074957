/**
 * Every error code Wharf puts on the wire, and the one error class that carries them.
 *
 * | code                    | meaning                                                        | retryable |
 * | ----------------------- | -------------------------------------------------------------- | --------- |
 * | invalid_request         | the request is not a valid frame (not MessagePack, not a map)  | no        |
 * | unsupported_version     | the request's protocol version is not served here              | no        |
 * | unknown_action          | no such API action                                             | no        |
 * | invalid_name            | a queue name breaks the naming rule                            | no        |
 * | invalid_parameter       | a parameter is out of range or of the wrong type               | no        |
 * | invalid_attribute       | a queue attribute name or value is not accepted                | no        |
 * | message_too_large       | a body plus attributes exceed the queue's maximum message size | no        |
 * | batch_too_large         | more entries than the batch limit, or too many bytes           | no        |
 * | batch_ids_not_distinct  | two entries of one batch share an id                           | no        |
 * | empty_batch             | a batch request without entries                                | no        |
 * | queue_not_found         | the queue does not exist                                       | no        |
 * | queue_already_exists    | CreateQueue with attributes different from the existing queue | no        |
 * | invalid_receipt_handle  | malformed, or stale (the message was redelivered or deleted)   | no        |
 * | message_not_in_flight   | ChangeMessageVisibility on a message whose lease already ended | no        |
 * | over_limit              | a bounded resource is full (in-flight messages, waiters, a principal's requests) | yes |
 * | not_leader              | this node does not serve that partition; `leader` says who     | yes       |
 * | timeout                 | no answer in time: the outcome is unknown                      | yes       |
 * | unavailable             | no node answered, or the node is starting or draining          | yes       |
 * | storage_failure         | the write did not reach disk; nothing of it was applied        | yes       |
 * | internal                | a bug: reported with a log line on the node                    | no        |
 * | drain_blocked           | a node cannot be drained: some partitions have nowhere to go   | no        |
 * | queue_full              | a send beyond the queue's maxLength (overflowPolicy reject) or maxStoredBytes | no |
 * | redrive_not_allowed     | the dead-letter queue's redriveAllowPolicy refuses this source | no        |
 * | task_not_found          | no message move task with that id                              | no        |
 * | wrong_queue_mode        | a work-queue action on a stream, or a stream action on a queue | no        |
 * | stale_generation        | a group member's generation is not the group's current one     | no        |
 * | unknown_member          | the member is not (any more) in the consumer group             | no        |
 * | invalid_tag             | a queue tag key or value breaks the tag rules                  | no        |
 * | too_many_tags           | a queue would have more than 50 tags                           | no        |
 * | invalid_message_attribute | a message attribute's name, type or value breaks the rules   | no        |
 * | partition_draining      | a send reached a partition being retired (auto-scaling)        | yes       |
 * | unsupported_by_model    | the cluster's back-end model does not offer this (a FIFO queue or autoScaling on a hosts cluster) | no |
 * | access_denied           | the principal may not do this action on this queue (security.md) | no      |
 * | principal_not_found     | no principal of that name is defined                           | no        |
 * | throttled               | over the queue's request or byte rate; `retryAfterMs` says when | yes       |
 * | node_isolated           | the node hears no other node: its NATS server may be cut off from the cluster; ask through another server | yes |
 *
 * Adding a code is a protocol change: it gets a CHANGELOG line.
 */
export const ErrorCode = {
  InvalidRequest: 'invalid_request',
  UnsupportedVersion: 'unsupported_version',
  UnknownAction: 'unknown_action',
  InvalidName: 'invalid_name',
  InvalidParameter: 'invalid_parameter',
  InvalidAttribute: 'invalid_attribute',
  MessageTooLarge: 'message_too_large',
  BatchTooLarge: 'batch_too_large',
  BatchIdsNotDistinct: 'batch_ids_not_distinct',
  EmptyBatch: 'empty_batch',
  QueueNotFound: 'queue_not_found',
  QueueAlreadyExists: 'queue_already_exists',
  InvalidReceiptHandle: 'invalid_receipt_handle',
  MessageNotInFlight: 'message_not_in_flight',
  OverLimit: 'over_limit',
  NotLeader: 'not_leader',
  Timeout: 'timeout',
  Unavailable: 'unavailable',
  StorageFailure: 'storage_failure',
  Internal: 'internal',
  DrainBlocked: 'drain_blocked',
  QueueFull: 'queue_full',
  RedriveNotAllowed: 'redrive_not_allowed',
  TaskNotFound: 'task_not_found',
  WrongQueueMode: 'wrong_queue_mode',
  StaleGeneration: 'stale_generation',
  UnknownMember: 'unknown_member',
  InvalidTag: 'invalid_tag',
  TooManyTags: 'too_many_tags',
  InvalidMessageAttribute: 'invalid_message_attribute',
  PartitionDraining: 'partition_draining',
  UnsupportedByModel: 'unsupported_by_model',
  AccessDenied: 'access_denied',
  PrincipalNotFound: 'principal_not_found',
  Throttled: 'throttled',
  NodeIsolated: 'node_isolated',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const CODES: ReadonlySet<string> = new Set(Object.values(ErrorCode));

/** Retryability is a property of the code, decided here once rather than at each throw site. */
const RETRYABLE: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  ErrorCode.OverLimit,
  ErrorCode.NotLeader,
  ErrorCode.Timeout,
  ErrorCode.Unavailable,
  ErrorCode.StorageFailure,
  ErrorCode.PartitionDraining,
  ErrorCode.Throttled,
  ErrorCode.NodeIsolated,
]);

/** An error as it crosses NATS. */
export interface WireError {
  code: ErrorCode;
  message: string;
  /** For `not_leader`: the node that serves the partition, when known. */
  leader?: string;
  /** For `throttled`: how long until the request would be admitted, ms. */
  retryAfterMs?: number;
}

export class WharfError extends Error {
  override readonly name = 'WharfError';
  readonly code: ErrorCode;
  readonly leader: string | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(code: ErrorCode, message: string, options?: ErrorOptions & { leader?: string; retryAfterMs?: number }) {
    super(message, options);
    this.code = code;
    this.leader = options?.leader;
    this.retryAfterMs = options?.retryAfterMs;
  }

  get retryable(): boolean {
    return RETRYABLE.has(this.code);
  }

  toWire(): WireError {
    return {
      code: this.code,
      message: this.message,
      ...(this.leader === undefined ? {} : { leader: this.leader }),
      ...(this.retryAfterMs === undefined ? {} : { retryAfterMs: this.retryAfterMs }),
    };
  }

  /** The only place a wire error becomes an exception again. Unknown codes become `internal`. */
  static fromWire(e: unknown): WharfError {
    if (typeof e === 'object' && e !== null) {
      const { code, message, leader, retryAfterMs } = e as Record<string, unknown>;
      if (typeof code === 'string' && CODES.has(code) && typeof message === 'string') {
        return new WharfError(code as ErrorCode, message, {
          ...(typeof leader === 'string' ? { leader } : {}),
          ...(typeof retryAfterMs === 'number' ? { retryAfterMs } : {}),
        });
      }
    }
    return new WharfError(ErrorCode.Internal, 'malformed error reply');
  }
}

export function isWharfError(err: unknown, code?: ErrorCode): err is WharfError {
  return err instanceof WharfError && (code === undefined || err.code === code);
}

/** Wraps anything thrown into a WharfError, keeping the original as `cause`. */
export function toWharfError(err: unknown): WharfError {
  if (err instanceof WharfError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new WharfError(ErrorCode.Internal, message, { cause: err });
}
