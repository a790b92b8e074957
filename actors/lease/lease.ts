/**
 * A manager's lease in KV, as pure functions of the state a manager machine keeps about it: the
 * internal cluster manager (actors/manager) and the external cluster manager (actors/external) hold
 * their leases the same way, each over its own key.
 *
 * Leadership is asserted by compare-and-swap, never by a read: a standby takes the lease when it is
 * absent, or when its revision has not moved for `leaseTimeoutMs` on the standby's own monotonic
 * clock, by CAS on the revision it watched. The holder counts its lease from the moment it *sent*
 * the write that won, renews it every third of the timeout, and stops acting a sixth of the timeout
 * before any standby could count it expired.
 */
import type { Versioned } from '../../src/meta/watched-bucket.ts';
import type { ManagerLease } from '../../src/meta/records.ts';

export interface HeldLease {
  revision: number;
  term: number;
  /** When the write that established the current revision was sent: the lease runs from there. */
  validFrom: number;
}

/** A compare-and-swap of the lease under way, and when it was sent. */
export interface LeaseAttempt {
  lease: ManagerLease;
  revision: number;
  at: number;
}

/** What a manager machine keeps about its lease. */
export interface LeaseState {
  nodeId: string;
  options: { leaseTimeoutMs: number; tickMs: number; retryMs: number };
  now: () => number;
  wall: () => number;
  /** The first metadata snapshot arrived: before it the manager neither takes the lease nor acts. */
  synced: boolean;
  /** The lease as last seen in the metadata, and when its revision last changed (manager clock). */
  observedLease: Versioned<ManagerLease> | undefined;
  leaseSeenAt: number;
  held: HeldLease | undefined;
  /**
   * The revision of this manager's last write of the lease, kept once it stopped acting (a renewal
   * that did not get through in time). While the lease is still at that revision nobody else took
   * it, and the holder that would have to be waited out is this manager, which has stopped.
   */
  lastHeldRevision: number | undefined;
  attempt: LeaseAttempt;
}

export function initialLeaseState(nodeId: string, now: number): Pick<LeaseState, 'observedLease' | 'leaseSeenAt' | 'held' | 'lastHeldRevision' | 'attempt'> {
  return {
    observedLease: undefined,
    leaseSeenAt: now,
    held: undefined,
    lastHeldRevision: undefined,
    attempt: { lease: { holder: nodeId, term: 0, renewedAt: 0 }, revision: 0, at: 0 },
  };
}

/** Stepping down: nothing held any more; the revision it held is remembered (see lastHeldRevision). */
export function leaseLetGo(state: LeaseState): Pick<LeaseState, 'held' | 'lastHeldRevision' | 'leaseSeenAt'> {
  return { held: undefined, lastHeldRevision: state.held?.revision ?? state.lastHeldRevision, leaseSeenAt: state.now() };
}

/** Takes in the lease as the metadata shows it, noting when its revision moved. */
export function observeLease(state: LeaseState, lease: Versioned<ManagerLease> | undefined): Pick<LeaseState, 'observedLease' | 'leaseSeenAt'> {
  // A cache that has not caught up with our own renewal must not look like a new holder.
  const stale = state.held !== undefined && lease !== undefined && lease.revision < state.held.revision;
  const observedLease = stale ? state.observedLease : lease;
  const moved = observedLease?.revision !== state.observedLease?.revision;
  return { observedLease, leaseSeenAt: moved ? state.now() : state.leaseSeenAt };
}

/** The moment the holder must stop acting (-Infinity when it holds nothing). */
export function leaseDeadline(state: LeaseState): number {
  const { leaseTimeoutMs } = state.options;
  return state.held === undefined ? -Infinity : state.held.validFrom + leaseTimeoutMs - leaseTimeoutMs / 6;
}

/** Taking the lease: the next term, by CAS on the revision watched (0: there is none). */
export function acquireAttempt(state: LeaseState): LeaseAttempt {
  return {
    lease: { holder: state.nodeId, term: (state.observedLease?.value.term ?? 0) + 1, renewedAt: state.wall() },
    revision: state.observedLease?.revision ?? 0,
    at: state.now(),
  };
}

/** Renewing it: same term, by CAS on the revision of our last write. */
export function renewAttempt(state: LeaseState): LeaseAttempt {
  return {
    lease: { holder: state.nodeId, term: state.held?.term ?? 0, renewedAt: state.wall() },
    revision: state.held?.revision ?? 0,
    at: state.now(),
  };
}

/** The attempt won with `revision`: the lease is held from when the attempt was sent. */
export function heldAfter(state: LeaseState, revision: number): Pick<LeaseState, 'held' | 'observedLease' | 'leaseSeenAt'> {
  const { lease, at } = state.attempt;
  return { held: { revision, term: lease.term, validFrom: at }, observedLease: { value: lease, revision }, leaseSeenAt: state.now() };
}

/**
 * Whether a standby may try to take the lease now: there is none, it was given up, its last holder
 * is this manager (which has stopped acting), or it ran out.
 */
export function leaseFree(state: LeaseState): boolean {
  const observed = state.observedLease;
  if (!state.synced) return false;
  // Nobody to wait out, but no faster than one attempt per retryMs: a failed write comes back at once.
  const nobodyHolds =
    observed === undefined ||
    observed.value.released === true ||
    (observed.revision === state.lastHeldRevision && observed.value.holder === state.nodeId);
  if (nobodyHolds) return state.now() - state.attempt.at >= state.options.retryMs;
  return state.now() - state.leaseSeenAt >= state.options.leaseTimeoutMs;
}

/**
 * What a stopping holder writes, by CAS on its last revision, once it can no longer act: the lease
 * marked given up, in the same term (terms keep rising with every new holder).
 */
export function releasedLease(held: HeldLease, nodeId: string, wall: number): ManagerLease {
  return { holder: nodeId, term: held.term, renewedAt: wall, released: true };
}

/**
 * Whether another manager holds the lease now. Judged by holder and term, not revision: our own
 * renewal can show up in the metadata before its write has returned here.
 */
export function leaseTakenByOther(state: LeaseState): boolean {
  return (
    state.held !== undefined &&
    state.observedLease !== undefined &&
    state.observedLease.revision >= state.held.revision &&
    (state.observedLease.value.holder !== state.nodeId || state.observedLease.value.term !== state.held.term)
  );
}

export function leaseValid(state: LeaseState): boolean {
  return state.held !== undefined && state.now() < leaseDeadline(state);
}

/** Why an active manager stepped down, for its log. */
export function stepDownReason(state: LeaseState, stopped: boolean): string {
  const observed = state.observedLease?.value;
  if (stopped) return 'stopped';
  if (observed !== undefined && state.held !== undefined && (observed.holder !== state.nodeId || observed.term !== state.held.term)) {
    return `lease taken by ${observed.holder} (term ${observed.term})`;
  }
  return state.now() >= leaseDeadline(state) ? 'lease not renewed in time' : 'lease renewal lost';
}

/** How long a standby waits before looking at the lease again. */
export function standbyCheckMs(state: LeaseState): number {
  const remaining = state.leaseSeenAt + state.options.leaseTimeoutMs - state.now();
  return remaining > 0 ? Math.min(remaining, state.options.tickMs) : state.options.tickMs;
}

/** After a lost race for the lease: a full timeout before trying again. */
export const backedOff = (state: LeaseState) => ({ leaseSeenAt: state.now() });
/** After an error (not a lost race) taking the lease: try again soon. */
export const retrySoon = (state: LeaseState) => ({ leaseSeenAt: state.now() - state.options.leaseTimeoutMs + state.options.retryMs });
