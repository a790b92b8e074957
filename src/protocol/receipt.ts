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
  return `r1.${r.incarnation.toString(36)}.${r.partition.toString(36)}.${r.offset.toString(36)}.${r.seq.toString(36)}`;
}

const PREFIX = 'r1.';
const DOT = 46;
const MAX_FIELD = 11;
/** 0-9 and a-z: base 36 as toString(36) writes it. */
const isDigit36 = (c: number) => (c >= 48 && c <= 57) || (c >= 97 && c <= 122);

/** A character scan rather than split and regular expressions: every delete and visibility change parses one. */
export function decodeReceipt(handle: string): Receipt {
  const fields: number[] = [];
  let ok = handle.startsWith(PREFIX) && handle.length <= PREFIX.length + 4 * (MAX_FIELD + 1);
  let start = PREFIX.length;
  for (let i = start; ok && i <= handle.length; i++) {
    const c = i < handle.length ? handle.charCodeAt(i) : DOT;
    if (c !== DOT) {
      ok = isDigit36(c);
      continue;
    }
    const length = i - start;
    ok = length >= 1 && length <= MAX_FIELD && fields.length < 4;
    if (ok) fields.push(parseInt(handle.slice(start, i), 36));
    start = i + 1;
  }
  if (!ok || fields.length !== 4) {
    throw new WharfError(ErrorCode.InvalidReceiptHandle, 'the receipt handle is not one Wharf issued');
  }
  const [incarnation, partition, offset, seq] = fields as [number, number, number, number];
  return { incarnation, partition, offset, seq };
}
