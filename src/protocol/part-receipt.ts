/**
 * Receipt handles of a queue split over clusters: the part's handle (receipt.ts) behind the name of
 * the cluster that issued it, so a delete or visibility change goes back to that part.
 *
 *   p1.<cluster>.<handle>
 *
 * Cluster names have no dots (names.ts), so the handle starts after the second dot.
 */
import { ErrorCode, WharfError } from '../errors.ts';

const PREFIX = 'p1.';

export function partReceipt(cluster: string, handle: string): string {
  return `${PREFIX}${cluster}.${handle}`;
}

export function parsePartReceipt(receipt: string): { cluster: string; handle: string } {
  const dot = receipt.indexOf('.', PREFIX.length);
  if (!receipt.startsWith(PREFIX) || dot <= PREFIX.length || dot === receipt.length - 1) {
    throw new WharfError(ErrorCode.InvalidReceiptHandle, 'not a receipt handle of a deployment queue');
  }
  return { cluster: receipt.slice(PREFIX.length, dot), handle: receipt.slice(dot + 1) };
}
