/**
 * SQS's errors as the endpoint answers them. These are Amazon's codes, not Wharf's (src/errors.ts
 * owns those): each SQS error has the name the JSON protocol puts in `__type` (and the SDK in
 * `error.name`), the code the query protocol puts in `<Code>` (and the JSON protocol in the
 * `x-amzn-query-error` header), and an HTTP status, all as the SQS service model says.
 */
import { ErrorCode, toWharfError } from '../errors.ts';

/** name → [HTTP status, query-protocol code, fault]. */
const SQS_ERRORS = {
  AccessDenied: [403, 'AccessDenied', 'Sender'],
  BatchEntryIdsNotDistinct: [400, 'AWS.SimpleQueueService.BatchEntryIdsNotDistinct', 'Sender'],
  BatchRequestTooLong: [400, 'AWS.SimpleQueueService.BatchRequestTooLong', 'Sender'],
  EmptyBatchRequest: [400, 'AWS.SimpleQueueService.EmptyBatchRequest', 'Sender'],
  IncompleteSignature: [400, 'IncompleteSignature', 'Sender'],
  InternalFailure: [500, 'InternalFailure', 'Receiver'],
  InvalidAction: [400, 'InvalidAction', 'Sender'],
  InvalidAddress: [404, 'InvalidAddress', 'Sender'],
  InvalidAttributeName: [400, 'InvalidAttributeName', 'Sender'],
  InvalidAttributeValue: [400, 'InvalidAttributeValue', 'Sender'],
  InvalidBatchEntryId: [400, 'AWS.SimpleQueueService.InvalidBatchEntryId', 'Sender'],
  InvalidClientTokenId: [403, 'InvalidClientTokenId', 'Sender'],
  InvalidMessageContents: [400, 'InvalidMessageContents', 'Sender'],
  InvalidParameterValue: [400, 'InvalidParameterValue', 'Sender'],
  MessageNotInflight: [400, 'AWS.SimpleQueueService.MessageNotInflight', 'Sender'],
  MissingAuthenticationToken: [403, 'MissingAuthenticationToken', 'Sender'],
  MissingParameter: [400, 'MissingParameter', 'Sender'],
  OverLimit: [403, 'OverLimit', 'Sender'],
  QueueDoesNotExist: [400, 'AWS.SimpleQueueService.NonExistentQueue', 'Sender'],
  QueueNameExists: [400, 'QueueAlreadyExists', 'Sender'],
  ReceiptHandleIsInvalid: [404, 'ReceiptHandleIsInvalid', 'Sender'],
  RequestExpired: [400, 'RequestExpired', 'Sender'],
  RequestThrottled: [403, 'RequestThrottled', 'Sender'],
  ResourceNotFoundException: [404, 'ResourceNotFoundException', 'Sender'],
  ServiceUnavailable: [503, 'ServiceUnavailable', 'Receiver'],
  SignatureDoesNotMatch: [403, 'SignatureDoesNotMatch', 'Sender'],
  TooManyEntriesInBatchRequest: [400, 'AWS.SimpleQueueService.TooManyEntriesInBatchRequest', 'Sender'],
  UnsupportedOperation: [400, 'AWS.SimpleQueueService.UnsupportedOperation', 'Sender'],
} as const satisfies Record<string, readonly [number, string, 'Sender' | 'Receiver']>;

export type SqsErrorName = keyof typeof SQS_ERRORS;

export class SqsError extends Error {
  override readonly name = 'SqsError';
  readonly code: SqsErrorName;

  constructor(code: SqsErrorName, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }

  get status(): number {
    return SQS_ERRORS[this.code][0];
  }

  get queryCode(): string {
    return SQS_ERRORS[this.code][1];
  }

  /** `Sender` when the request was wrong, `Receiver` when the service failed. */
  get fault(): 'Sender' | 'Receiver' {
    return SQS_ERRORS[this.code][2];
  }
}

/** Wharf's codes as SQS's. Codes SQS has no equivalent of take the nearest one. */
const FROM_WHARF: Record<ErrorCode, SqsErrorName> = {
  [ErrorCode.InvalidRequest]: 'InvalidParameterValue',
  [ErrorCode.UnsupportedVersion]: 'InvalidParameterValue',
  [ErrorCode.UnknownAction]: 'InvalidAction',
  [ErrorCode.InvalidName]: 'InvalidParameterValue',
  [ErrorCode.InvalidParameter]: 'InvalidParameterValue',
  [ErrorCode.InvalidAttribute]: 'InvalidAttributeValue',
  [ErrorCode.MessageTooLarge]: 'InvalidParameterValue',
  [ErrorCode.BatchTooLarge]: 'BatchRequestTooLong',
  [ErrorCode.BatchIdsNotDistinct]: 'BatchEntryIdsNotDistinct',
  [ErrorCode.EmptyBatch]: 'EmptyBatchRequest',
  [ErrorCode.QueueNotFound]: 'QueueDoesNotExist',
  [ErrorCode.QueueAlreadyExists]: 'QueueNameExists',
  [ErrorCode.InvalidReceiptHandle]: 'ReceiptHandleIsInvalid',
  [ErrorCode.MessageNotInFlight]: 'MessageNotInflight',
  [ErrorCode.OverLimit]: 'OverLimit',
  [ErrorCode.NotLeader]: 'ServiceUnavailable',
  [ErrorCode.Timeout]: 'ServiceUnavailable',
  [ErrorCode.Unavailable]: 'ServiceUnavailable',
  [ErrorCode.StorageFailure]: 'ServiceUnavailable',
  [ErrorCode.Internal]: 'InternalFailure',
  [ErrorCode.DrainBlocked]: 'InvalidParameterValue',
  [ErrorCode.QueueFull]: 'OverLimit',
  [ErrorCode.RedriveNotAllowed]: 'InvalidParameterValue',
  [ErrorCode.TaskNotFound]: 'ResourceNotFoundException',
  [ErrorCode.WrongQueueMode]: 'UnsupportedOperation',
  [ErrorCode.StaleGeneration]: 'InvalidParameterValue',
  [ErrorCode.UnknownMember]: 'InvalidParameterValue',
  [ErrorCode.InvalidTag]: 'InvalidParameterValue',
  [ErrorCode.TooManyTags]: 'InvalidParameterValue',
  [ErrorCode.InvalidMessageAttribute]: 'InvalidParameterValue',
  [ErrorCode.PartitionDraining]: 'ServiceUnavailable',
  [ErrorCode.UnsupportedByModel]: 'UnsupportedOperation',
  [ErrorCode.AccessDenied]: 'AccessDenied',
  [ErrorCode.PrincipalNotFound]: 'InvalidParameterValue',
  [ErrorCode.Throttled]: 'RequestThrottled',
  [ErrorCode.NodeIsolated]: 'ServiceUnavailable',
};

/** The SQS name of a Wharf error code (batch entries carry Wharf codes). */
export function sqsCodeOf(code: string): SqsErrorName {
  return (FROM_WHARF as Record<string, SqsErrorName | undefined>)[code] ?? 'InternalFailure';
}

/** Anything thrown while serving a request, as the SQS error to answer. */
export function toSqsError(err: unknown): SqsError {
  if (err instanceof SqsError) return err;
  const wharf = toWharfError(err);
  return new SqsError(FROM_WHARF[wharf.code], wharf.message, { cause: err });
}
