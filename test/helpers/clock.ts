/**
 * A wall clock that tests can move forward without waiting: `now()` is the real time plus an offset
 * that `advance(ms)` grows. Timers stay real; use it for wall-clock deadlines (leases, delays) that
 * are compared against `now()`, and XState's SimulatedClock for machine timers.
 */
import type { Clock } from '../../src/clock.ts';

export class OffsetClock implements Clock {
  private offsetMs = 0;

  constructor(initialOffsetMs = 0) {
    this.offsetMs = initialOffsetMs;
  }

  /** How far this clock is ahead of the real one, ms. */
  get offset(): number {
    return this.offsetMs;
  }

  now(): number {
    return Date.now() + this.offsetMs;
  }

  /** Moves this clock forward by `ms` (must not be negative). */
  advance(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`advance: expected ms >= 0, got ${ms}`);
    this.offsetMs += ms;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    return setTimeout(fn, ms);
  }

  clearTimeout(handle: unknown): void {
    clearTimeout(handle as NodeJS.Timeout);
  }
}
