/**
 * Receipt handles: opaque to clients, they name one delivery of one message.
 *
 *   r1.<incarnation>.<partition>.<offset>.<seq>     fields in base 36
 *
 * `incarnation` is a random number drawn when the queue was created, so a handle from a deleted
 * queue does not match a message of a new queue of the same name; `seq` is the delivery's sequence number, so a handle
 * from before a redelivery is stale.
 */
import { ErrorCode, WharfError } from '../errors.ts';

export interface Receipt {
  incarnation: number;
  partition: number;
  offset: number;
  seq: number;
}

export function encodeReceipt(r: Receipt): string {
  return receiptsOf(r.incarnation, r.partition)(r.offset, r.seq);
}

/** The handles of one partition: its prefix written once, for the many deliveries of a receive. */
export function receiptsOf(incarnation: number, partition: number): (offset: number, seq: number) => string {
  const prefix = `r1.${incarnation.toString(36)}.${partition.toString(36)}.`;
  return (offset, seq) => `${prefix}${offset.toString(36)}.${seq.toString(36)}`;
}

const PREFIX = 'r1.';
const DOT = 46;
const MAX_FIELD = 11;

/** The value of a base-36 digit as toString(36) writes it (0-9, a-z), or -1. */
function digit36(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 122) return c - 87;
  return -1;
}

/**
 * A character scan rather than split, regular expressions and parseInt: every delete and
 * visibility change parses one. Fields of up to 11 digits, as encodeReceipt writes them.
 */
export function decodeReceipt(handle: string): Receipt {
  const fields: number[] = [];
  let ok = handle.startsWith(PREFIX) && handle.length <= PREFIX.length + 4 * (MAX_FIELD + 1);
  let value = 0;
  let digits = 0;
  for (let i = PREFIX.length; ok && i <= handle.length; i++) {
    const c = i < handle.length ? handle.charCodeAt(i) : DOT;
    if (c === DOT) {
      ok = digits >= 1 && digits <= MAX_FIELD && fields.length < 4;
      fields.push(value);
      value = 0;
      digits = 0;
      continue;
    }
    const d = digit36(c);
    ok = d >= 0;
    value = value * 36 + d;
    digits++;
  }
  if (!ok || fields.length !== 4) {
    throw new WharfError(ErrorCode.InvalidReceiptHandle, 'the receipt handle is not one Wharf issued');
  }
  const [incarnation, partition, offset, seq] = fields as [number, number, number, number];
  return { incarnation, partition, offset, seq };
}
