/**
 * The wall clock, as an interface so tests can move time. Leases and delays are stored as wall-clock
 * deadlines because they must survive a restart; XState's own timers use the actor's clock.
 */
import { performance } from 'node:perf_hooks';

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/**
 * A wall clock that a step of the system clock does not move: it reads the wall clock once and then
 * advances with the monotonic clock. A lease or a delay measured against it runs for its length
 * even when the system clock jumps (a bad NTP step, a VM restored from a snapshot, an operator's
 * `date -s`): with the plain wall clock a forward jump on a primary ended leases early and handed
 * messages still being worked on to a second consumer. A step applies at the next restart; NTP's
 * gradual corrections (slewing) reach the monotonic clock too, so the two do not drift apart.
 */
export function steadyClock(wall: () => number = Date.now, monotonic: () => number = () => performance.now()): Clock['now'] {
  const anchor = wall() - monotonic();
  return () => Math.floor(anchor + monotonic());
}

export const systemClock: Clock = {
  now: steadyClock(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** `clock` moved by `offsetMs` (negative: behind): one node's skew against the others, in tests of it. */
export function offsetClock(clock: Clock, offsetMs: number): Clock {
  if (offsetMs === 0) return clock;
  return { now: () => clock.now() + offsetMs, setTimeout: (fn, ms) => clock.setTimeout(fn, ms), clearTimeout: (handle) => clock.clearTimeout(handle) };
}
