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

const FIELD = /^[0-9a-z]{1,11}$/;

export function encodeReceipt(r: Receipt): string {
  return `r1.${r.incarnation.toString(36)}.${r.partition.toString(36)}.${r.offset.toString(36)}.${r.seq.toString(36)}`;
}

export function decodeReceipt(handle: string): Receipt {
  const parts = handle.split('.');
  if (parts.length !== 5 || parts[0] !== 'r1' || !parts.slice(1).every((p) => FIELD.test(p))) {
    throw new WharfError(ErrorCode.InvalidReceiptHandle, 'the receipt handle is not one Wharf issued');
  }
  const [incarnation, partition, offset, seq] = parts.slice(1).map((p) => parseInt(p, 36)) as [number, number, number, number];
  return { incarnation, partition, offset, seq };
}
