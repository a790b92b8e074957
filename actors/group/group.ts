/**
 * Consumer group membership of a stream: who is in a group, its generation, and which partitions
 * each member reads. Pure: every function takes the stored state and `now` and returns the next
 * state; the caller stores it with a compare-and-swap (src/meta/groups.ts), so concurrent changes
 * through different nodes never both win.
 *
 * Every change of the membership (a join, a leave, a member whose session ran out) bumps the
 * generation and assigns the partitions again, by ranges over the members in id order. Within one
 * generation each partition has exactly one owner; a member learns a new generation from its next
 * heartbeat, and commits carrying an older one are refused (the partition's fence, stream.ts, and
 * the front-end's check against this state).
 */

export interface Member {
  id: string;
  /** Last join or heartbeat, ms since the epoch (the clock of the node that handled it). */
  lastSeen: number;
  /** The member leaves the group when it is silent for longer. */
  sessionMs: number;
}

export interface GroupState {
  generation: number;
  /** In id order. */
  members: Member[];
  /** Partitions of each member in this generation. */
  assignment: Record<string, number[]>;
}

export const EMPTY_GROUP: GroupState = Object.freeze({ generation: 0, members: [], assignment: {} }) as GroupState;

export type GroupRefusal = 'unknown_member' | 'stale_generation' | 'not_owner' | 'group_full' | 'has_members';

/** Partitions 0..n-1 split into contiguous ranges, the first members taking one more when n does not divide. */
export function assignRanges(memberIds: readonly string[], partitions: number): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  const m = memberIds.length;
  let next = 0;
  memberIds.forEach((id, i) => {
    const count = Math.floor(partitions / m) + (i < partitions % m ? 1 : 0);
    out[id] = Array.from({ length: count }, (_, k) => next + k);
    next += count;
  });
  return out;
}

function withMembers(state: GroupState, members: Member[], partitions: number): GroupState {
  const sorted = [...members].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { generation: state.generation + 1, members: sorted, assignment: assignRanges(sorted.map((m) => m.id), partitions) };
}

/** Removes the members whose session ran out; a new generation when any did. */
export function expire(state: GroupState, now: number, partitions: number): GroupState {
  const alive = state.members.filter((m) => m.lastSeen + m.sessionMs >= now);
  return alive.length === state.members.length ? state : withMembers(state, alive, partitions);
}

function touch(state: GroupState, id: string, now: number): GroupState {
  return { ...state, members: state.members.map((m) => (m.id === id ? { ...m, lastSeen: now } : m)) };
}

/** A member joins, or a known one rejoins (its session renewed, the generation unchanged). */
export function join(
  state: GroupState,
  member: { id: string; sessionMs: number },
  now: number,
  partitions: number,
  maxMembers: number,
): GroupState | GroupRefusal {
  const current = expire(state, now, partitions);
  if (current.members.some((m) => m.id === member.id)) return touch(current, member.id, now);
  if (current.members.length >= maxMembers) return 'group_full';
  return withMembers(current, [...current.members, { id: member.id, lastSeen: now, sessionMs: member.sessionMs }], partitions);
}

/**
 * A member says it is alive. Its generation may be behind: the answer (the state) carries the
 * current one and its partitions, which it adopts. A member that is not in the group must join.
 */
export function heartbeat(state: GroupState, id: string, now: number, partitions: number): GroupState | GroupRefusal {
  const current = expire(state, now, partitions);
  if (!current.members.some((m) => m.id === id)) return 'unknown_member';
  return touch(current, id, now);
}

export function leave(state: GroupState, id: string, now: number, partitions: number): GroupState {
  const current = expire(state, now, partitions);
  if (!current.members.some((m) => m.id === id)) return current;
  return withMembers(current, current.members.filter((m) => m.id !== id), partitions);
}

/**
 * Whether a commit may go ahead: a member's must carry the current generation and name partitions
 * it owns in it; one without a member (an operator's seek) only while the group has no members.
 */
export function mayCommit(
  state: GroupState,
  member: { id: string; generation: number } | undefined,
  partitionsCommitted: readonly number[],
  now: number,
  partitions: number,
): GroupRefusal | undefined {
  const current = expire(state, now, partitions);
  if (member === undefined) return current.members.length > 0 ? 'has_members' : undefined;
  if (!current.members.some((m) => m.id === member.id)) return 'unknown_member';
  if (member.generation !== current.generation) return 'stale_generation';
  const owned = new Set(current.assignment[member.id] ?? []);
  return partitionsCommitted.every((p) => owned.has(p)) ? undefined : 'not_owner';
}
