/**
 * Time-window ordering (queue attribute `ordering: 'timeWindow'`): each message is held until
 * min(producedAt, arrival) + orderingWindowMs and then released, so a partition delivers in the order
 * of that key rather than in the order sends happened to arrive. It rides on the delayed-message
 * machinery (the ledger's due-ordered timers and d/ keys), not on a mechanism of its own: the key
 * becomes the message's due time, and messages due in the same ms keep their arrival order.
 *
 * min(…, arrival) caps a producer whose clock runs ahead: it cannot push its messages behind
 * everyone else's or hold them longer than the window. A producer whose clock runs behind (or a
 * message slower than the window to arrive) gets a due time already past: that message is released
 * at once, and it is the only way disorder remains (docs/api.md, "Ordering").
 */
import type { QueueAttributes } from '../protocol/messages.ts';
import { DEFAULT_ATTRIBUTES } from '../protocol/attributes.ts';

/** The wall time a message must be held until, or undefined on an arrival-ordered queue. */
export function timeWindowRelease(attributes: QueueAttributes, producedAt: number | undefined, arrival: number): number | undefined {
  if ((attributes.ordering ?? DEFAULT_ATTRIBUTES.ordering) !== 'timeWindow') return undefined;
  const window = attributes.orderingWindowMs ?? (DEFAULT_ATTRIBUTES.orderingWindowMs as number);
  return Math.min(producedAt ?? arrival, arrival) + window;
}
