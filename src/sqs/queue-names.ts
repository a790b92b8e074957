/**
 * Queue names, URLs and ARNs. An SQS FIFO queue's name ends in `.fifo`, but a Wharf queue name is a
 * NATS subject token and cannot hold a dot: `orders.fifo` is the Wharf queue `orders-fifo`. So that
 * the mapping is one to one, the SQS API refuses to create a queue whose own name ends in `-fifo`,
 * and shows every Wharf queue whose name ends in `-fifo` as `….fifo`.
 *
 *   URL  <scheme>://<host>/<account>/<name>     (the host the request came to)
 *   ARN  arn:aws:sqs:<region>:<account>:<name>
 */
import { SqsError } from './errors.ts';

const FIFO_SUFFIX = '.fifo';
const WHARF_FIFO_SUFFIX = '-fifo';
const SQS_NAME = /^[A-Za-z0-9_-]{1,80}$/;

export interface Account {
  region: string;
  accountId: string;
}

/** Whether an SQS queue name names a FIFO queue. */
export function isFifoName(sqsName: string): boolean {
  return sqsName.endsWith(FIFO_SUFFIX);
}

/** The Wharf queue of an SQS queue name; InvalidParameterValue for a name SQS would refuse. */
export function wharfName(sqsName: string): string {
  const base = isFifoName(sqsName) ? sqsName.slice(0, -FIFO_SUFFIX.length) : sqsName;
  if (!SQS_NAME.test(base) || base.length + (isFifoName(sqsName) ? FIFO_SUFFIX.length : 0) > 80) {
    throw new SqsError(
      'InvalidParameterValue',
      `Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length (a FIFO queue's name ends in .fifo): ${JSON.stringify(sqsName).slice(0, 100)}`,
    );
  }
  if (!isFifoName(sqsName) && base.endsWith(WHARF_FIFO_SUFFIX)) {
    throw new SqsError('InvalidParameterValue', `a queue name ending in ${WHARF_FIFO_SUFFIX} is reserved: it is how the FIFO queue ${base.slice(0, -WHARF_FIFO_SUFFIX.length)}.fifo is stored`);
  }
  return isFifoName(sqsName) ? `${base}${WHARF_FIFO_SUFFIX}` : base;
}

/** The SQS name of a Wharf queue. */
export function sqsName(wharf: string): string {
  return wharf.endsWith(WHARF_FIFO_SUFFIX) ? `${wharf.slice(0, -WHARF_FIFO_SUFFIX.length)}${FIFO_SUFFIX}` : wharf;
}

export function queueUrl(base: string, account: Account, wharf: string): string {
  return `${base}/${account.accountId}/${sqsName(wharf)}`;
}

/** The Wharf queue a queue URL names: its last path segment (the host and account are not checked, as ElasticMQ). */
export function queueOfUrl(url: string): string {
  let path: string;
  try {
    path = new URL(url, 'http://localhost').pathname;
  } catch {
    throw new SqsError('InvalidAddress', `The address ${url.slice(0, 200)} is not valid for this endpoint.`);
  }
  const segments = path.split('/').filter((s) => s !== '');
  const last = segments[segments.length - 1];
  if (segments.length !== 2 || last === undefined) {
    throw new SqsError('InvalidAddress', `The address ${url.slice(0, 200)} is not valid for this endpoint.`);
  }
  return wharfName(decodeURIComponent(last));
}

export function queueArn(account: Account, wharf: string): string {
  return `arn:aws:sqs:${account.region}:${account.accountId}:${sqsName(wharf)}`;
}

/** The Wharf queue an SQS queue ARN names (its region and account are not checked). */
export function queueOfArn(arn: string): string {
  const parts = arn.split(':');
  const name = parts[5];
  if (parts.length !== 6 || parts[0] !== 'arn' || parts[2] !== 'sqs' || name === undefined) {
    throw new SqsError('InvalidParameterValue', `not an SQS queue ARN: ${arn.slice(0, 200)}`);
  }
  return wharfName(name);
}
