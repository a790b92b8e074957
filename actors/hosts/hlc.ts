/**
 * A hybrid logical clock (Kulkarni et al., 2014): a timestamp is (wall ms, logical counter). It
 * never goes backwards on one host even when the wall clock does, it stays within the clock skew of
 * physical time, and a host that has seen a timestamp stamps everything after it higher. Messages
 * are stamped when a host accepts them, so messages accepted by different hosts of a queue can be
 * ordered by timestamp: best effort across hosts (up to the skew between their clocks), exact
 * causality for a host that has received the other's stamps.
 */

export interface Hlc {
  /** Wall milliseconds: the largest physical time seen. */
  readonly wall: number;
  /** Orders events within one millisecond of `wall`. */
  readonly logical: number;
}

export const ZERO: Hlc = { wall: 0, logical: 0 };

/** Events past this many in one millisecond carry into the next (so `pack` stays exact). */
const LOGICAL_LIMIT = 0x3ff;

/** The timestamp of a local event (a send) at wall time `now`. */
export function tick(last: Hlc, now: number): Hlc {
  if (now > last.wall) return { wall: now, logical: 0 };
  return bump(last.wall, last.logical + 1);
}

/** The timestamp after receiving `remote` (a replicated message) at wall time `now`. */
export function observe(last: Hlc, remote: Hlc, now: number): Hlc {
  const wall = Math.max(last.wall, remote.wall, now);
  if (wall === last.wall && wall === remote.wall) return bump(wall, Math.max(last.logical, remote.logical) + 1);
  if (wall === last.wall) return bump(wall, last.logical + 1);
  if (wall === remote.wall) return bump(wall, remote.logical + 1);
  return { wall, logical: 0 };
}

function bump(wall: number, logical: number): Hlc {
  return logical > LOGICAL_LIMIT ? { wall: wall + 1, logical: 0 } : { wall, logical };
}

export function compare(a: Hlc, b: Hlc): number {
  return a.wall - b.wall || a.logical - b.logical;
}

/**
 * One number that orders like `compare`: wall × 2^10 + logical. Exact below 2^53, i.e. for wall times
 * up to the year 2248.
 */
export function pack(t: Hlc): number {
  return t.wall * (LOGICAL_LIMIT + 1) + t.logical;
}

export function unpack(n: number): Hlc {
  const logical = n % (LOGICAL_LIMIT + 1);
  return { wall: (n - logical) / (LOGICAL_LIMIT + 1), logical };
}

/** A host's clock: `now()` stamps a local event, `observe` folds in a timestamp from another host. */
export class HybridClock {
  private last: Hlc = ZERO;
  private readonly wall: () => number;
  constructor(wall: () => number) {
    this.wall = wall;
  }
  now(): Hlc {
    this.last = tick(this.last, this.wall());
    return this.last;
  }
  observe(remote: Hlc): Hlc {
    this.last = observe(this.last, remote, this.wall());
    return this.last;
  }
}
