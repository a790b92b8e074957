/**
 * SQS queue attributes ↔ Wharf's (src/protocol/messages.ts). Values travel as text in SQS; the
 * ranges are Wharf's own (attributes.ts checks them and answers invalid_attribute, which becomes
 * InvalidAttributeValue), so a delay may run to 7 days here where SQS stops at 15 minutes.
 */
import type { AttributeChanges, QueueAttributes, QueueDescription, RedriveAllowPolicy } from '../protocol/messages.ts';
import { SqsError } from './errors.ts';
import { queueArn, queueOfArn, type Account } from './queue-names.ts';

/** Every attribute name SQS defines, in its documentation's order. */
export const SQS_QUEUE_ATTRIBUTES = [
  'Policy',
  'VisibilityTimeout',
  'MaximumMessageSize',
  'MessageRetentionPeriod',
  'ApproximateNumberOfMessages',
  'ApproximateNumberOfMessagesNotVisible',
  'CreatedTimestamp',
  'LastModifiedTimestamp',
  'QueueArn',
  'ApproximateNumberOfMessagesDelayed',
  'DelaySeconds',
  'ReceiveMessageWaitTimeSeconds',
  'RedrivePolicy',
  'FifoQueue',
  'ContentBasedDeduplication',
  'KmsMasterKeyId',
  'KmsDataKeyReusePeriodSeconds',
  'DeduplicationScope',
  'FifoThroughputLimit',
  'RedriveAllowPolicy',
  'SqsManagedSseEnabled',
] as const;
type SqsAttributeName = (typeof SQS_QUEUE_ATTRIBUTES)[number];

/** Attributes Wharf has no counterpart for: refused when set. */
const UNSUPPORTED = new Set<string>(['Policy', 'KmsMasterKeyId', 'KmsDataKeyReusePeriodSeconds']);

const NUMERIC = {
  VisibilityTimeout: 'visibilityTimeout',
  MaximumMessageSize: 'maximumMessageSize',
  MessageRetentionPeriod: 'retentionPeriod',
  DelaySeconds: 'delaySeconds',
  ReceiveMessageWaitTimeSeconds: 'receiveWaitTime',
} as const satisfies Partial<Record<SqsAttributeName, keyof QueueAttributes>>;

/**
 * SQS attributes to set, as Wharf attribute changes. `creating` allows FifoQueue; an empty
 * RedrivePolicy or RedriveAllowPolicy removes it, as in SQS.
 */
export function wharfAttributes(sqs: Record<string, string>, creating: boolean): AttributeChanges & { fifo?: boolean } {
  const out: AttributeChanges & { fifo?: boolean } = {};
  for (const [name, value] of Object.entries(sqs)) {
    if (name in NUMERIC) {
      out[NUMERIC[name as keyof typeof NUMERIC]] = integer(name, value);
    } else if (name === 'RedrivePolicy') {
      out.redrivePolicy = value === '' ? null : redrivePolicy(value);
    } else if (name === 'RedriveAllowPolicy') {
      out.redriveAllowPolicy = value === '' ? null : redriveAllowPolicy(value);
    } else if (name === 'ContentBasedDeduplication') {
      out.contentBasedDeduplication = boolean(name, value);
    } else if (name === 'DeduplicationScope') {
      if (value !== 'queue' && value !== 'messageGroup') throw invalidValue(name, value);
      out.deduplicationScope = value;
    } else if (name === 'FifoQueue' && creating) {
      out.fifo = boolean(name, value);
    } else if (name === 'FifoThroughputLimit') {
      // Wharf does not limit a FIFO queue's throughput either way: accepted, without effect.
      if (value !== 'perQueue' && value !== 'perMessageGroupId') throw invalidValue(name, value);
    } else if (name === 'SqsManagedSseEnabled') {
      if (boolean(name, value)) throw new SqsError('InvalidAttributeValue', 'server-side encryption is not supported by this endpoint');
    } else if (UNSUPPORTED.has(name)) {
      throw new SqsError('InvalidAttributeName', `The attribute ${name} is not supported by this endpoint.`);
    } else {
      throw new SqsError('InvalidAttributeName', `Unknown Attribute ${name.slice(0, 100)}.`);
    }
  }
  return out;

  function redrivePolicy(text: string) {
    const policy = json('RedrivePolicy', text);
    const arn = policy['deadLetterTargetArn'];
    const count = policy['maxReceiveCount'];
    if (typeof arn !== 'string') throw invalidValue('RedrivePolicy', text);
    const maxReceiveCount = typeof count === 'number' ? count : typeof count === 'string' ? integer('RedrivePolicy', count) : Number.NaN;
    return { deadLetterQueue: queueOfArn(arn), maxReceiveCount };
  }

  function redriveAllowPolicy(text: string): RedriveAllowPolicy {
    const policy = json('RedriveAllowPolicy', text);
    const permission = policy['redrivePermission'];
    if (permission !== 'allowAll' && permission !== 'denyAll' && permission !== 'byQueue') throw invalidValue('RedriveAllowPolicy', text);
    const arns = policy['sourceQueueArns'];
    if (permission !== 'byQueue') return { redrivePermission: permission };
    if (!Array.isArray(arns) || !arns.every((a) => typeof a === 'string')) throw invalidValue('RedriveAllowPolicy', text);
    return { redrivePermission: permission, sourceQueues: (arns as string[]).map(queueOfArn) };
  }
}

/** A queue's SQS attributes: those of `names` (or every one, with `All`) that the queue has. */
export function sqsAttributes(queue: QueueDescription, names: readonly string[], account: Account): Record<string, string> {
  for (const name of names) {
    if (name !== 'All' && !(SQS_QUEUE_ATTRIBUTES as readonly string[]).includes(name)) {
      throw new SqsError('InvalidAttributeName', `Unknown Attribute ${name.slice(0, 100)}.`);
    }
  }
  const wanted = new Set(names.includes('All') ? SQS_QUEUE_ATTRIBUTES : names);
  const a = queue.attributes;
  const all: Partial<Record<SqsAttributeName, string>> = {
    VisibilityTimeout: String(a.visibilityTimeout),
    MaximumMessageSize: String(a.maximumMessageSize),
    MessageRetentionPeriod: String(a.retentionPeriod),
    ApproximateNumberOfMessages: String(queue.counts.approximateNumberOfMessages),
    ApproximateNumberOfMessagesNotVisible: String(queue.counts.approximateNumberOfMessagesNotVisible),
    CreatedTimestamp: String(Math.floor(queue.createdAt / 1000)),
    LastModifiedTimestamp: String(Math.floor(queue.modifiedAt / 1000)),
    QueueArn: queueArn(account, queue.queue),
    ApproximateNumberOfMessagesDelayed: String(queue.counts.approximateNumberOfMessagesDelayed),
    DelaySeconds: String(a.delaySeconds),
    ReceiveMessageWaitTimeSeconds: String(a.receiveWaitTime),
    SqsManagedSseEnabled: 'false',
  };
  if (a.redrivePolicy) {
    all.RedrivePolicy = JSON.stringify({ deadLetterTargetArn: queueArn(account, a.redrivePolicy.deadLetterQueue), maxReceiveCount: a.redrivePolicy.maxReceiveCount });
  }
  if (a.redriveAllowPolicy) {
    const { redrivePermission, sourceQueues } = a.redriveAllowPolicy;
    all.RedriveAllowPolicy = JSON.stringify(
      sourceQueues === undefined ? { redrivePermission } : { redrivePermission, sourceQueueArns: sourceQueues.map((q) => queueArn(account, q)) },
    );
  }
  if (a.fifo) {
    all.FifoQueue = 'true';
    all.ContentBasedDeduplication = String(a.contentBasedDeduplication);
    all.DeduplicationScope = a.deduplicationScope;
    all.FifoThroughputLimit = a.deduplicationScope === 'messageGroup' ? 'perMessageGroupId' : 'perQueue';
  }
  return Object.fromEntries(Object.entries(all).filter(([name]) => wanted.has(name as SqsAttributeName))) as Record<string, string>;
}

function integer(name: string, value: string): number {
  if (!/^\d{1,10}$/.test(value)) throw invalidValue(name, value);
  return Number(value);
}

function boolean(name: string, value: string): boolean {
  if (value !== 'true' && value !== 'false') throw invalidValue(name, value);
  return value === 'true';
}

function json(name: string, text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // answered below
  }
  throw invalidValue(name, text);
}

function invalidValue(name: string, value: string): SqsError {
  return new SqsError('InvalidAttributeValue', `Invalid value for the parameter ${name}: ${value.slice(0, 100)}`);
}
