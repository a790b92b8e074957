/**
 * Ready notices of a queue for stream reads that wait (ReadStream with waitTimeSeconds): a
 * partition's primary publishes one when a write settles (subjects.ts `ready`). One subscription
 * per waiting read, bounded per node like the receivers of long polls.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { ErrorCode, WharfError } from '../errors.ts';
import type { Subjects } from '../protocol/subjects.ts';
import type { ReadyWatch } from './stream-front-end.ts';

export function readyWatches(nc: NatsConnection, subs: Subjects, maxWatches: number): (queue: string) => ReadyWatch {
  let open = 0;
  return (queue) => {
    if (open >= maxWatches) throw new WharfError(ErrorCode.OverLimit, `too many stream reads are waiting on this node (${maxWatches})`);
    open++;
    let notified = false;
    let wake: (() => void) | undefined;
    const sub = nc.isClosed()
      ? undefined
      : nc.subscribe(subs.ready(queue), {
          callback: () => {
            notified = true;
            wake?.();
          },
        });
    let closed = false;
    return {
      next: (ms) =>
        new Promise<void>((resolve) => {
          if (notified || closed) return resolve();
          const timer = setTimeout(resolve, ms);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        }),
      close: () => {
        if (closed) return;
        closed = true;
        open--;
        sub?.unsubscribe();
        wake?.();
      },
    };
  };
}
