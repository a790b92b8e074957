/**
 * Consumer group membership (actors/group/group.ts) on a simulated clock: joins and leaves bump
 * the generation and reassign, silent members expire, commits are fenced, and whatever happens no
 * partition has two owners in one generation.
 */
import test from 'ava';
import fc from 'fast-check';
import { assignRanges, EMPTY_GROUP, expire, heartbeat, join, leave, mayCommit, type GroupState } from '../../actors/group/group.ts';

const P = 6;
const SESSION = 1000;

function joined(state: GroupState, id: string, now: number): GroupState {
  const next = join(state, { id, sessionMs: SESSION }, now, P, 16);
  if (typeof next === 'string') throw new Error(next);
  return next;
}

/** Every partition has exactly one owner among the members (none when there are none). */
function assertPartitioned(t: { deepEqual: (a: unknown, b: unknown, m?: string) => void }, state: GroupState): void {
  const owned = state.members.flatMap((m) => state.assignment[m.id] ?? []).sort((a, b) => a - b);
  t.deepEqual(owned, state.members.length === 0 ? [] : Array.from({ length: P }, (_, i) => i), `generation ${state.generation}`);
}

test('ranges split the partitions, the first members taking the remainder', (t) => {
  t.deepEqual(assignRanges(['a', 'b', 'c', 'd'], 6), { a: [0, 1], b: [2, 3], c: [4], d: [5] });
  t.deepEqual(assignRanges(['a', 'b'], 1), { a: [0], b: [] });
});

test('each join and leave bumps the generation and reassigns', (t) => {
  let g = joined(EMPTY_GROUP, 'a', 0);
  t.is(g.generation, 1);
  t.deepEqual(g.assignment['a'], [0, 1, 2, 3, 4, 5]);
  g = joined(g, 'b', 10);
  t.is(g.generation, 2);
  t.deepEqual(g.assignment, { a: [0, 1, 2], b: [3, 4, 5] });
  const again = joined(g, 'a', 20);
  t.is(again.generation, 2, 'a known member rejoining changes nothing but its session');
  g = leave(g, 'a', 30, P);
  t.is(g.generation, 3);
  t.deepEqual(g.assignment, { b: [0, 1, 2, 3, 4, 5] });
  t.is(leave(g, 'zz', 40, P), g, 'leaving a group one is not in stores nothing');
});

test('a member silent for its session timeout is removed at the next change', (t) => {
  let g = joined(joined(EMPTY_GROUP, 'a', 0), 'b', 0);
  const hb = heartbeat(g, 'b', 900, P);
  if (typeof hb === 'string') throw new Error(hb);
  g = hb;
  t.is(expire(g, 1000, P), g, 'within the session: still there');
  const later = heartbeat(g, 'b', 1500, P);
  if (typeof later === 'string') throw new Error(later);
  t.deepEqual(later.members.map((m) => m.id), ['b']);
  t.is(later.generation, 3);
  t.is(heartbeat(later, 'a', 1600, P), 'unknown_member');
});

test('commits: only the current generation, only owned partitions; an operator only when no member is left', (t) => {
  let g = joined(EMPTY_GROUP, 'a', 0);
  const gen1 = g.generation;
  g = joined(g, 'b', 0);
  t.is(mayCommit(g, { id: 'a', generation: gen1 }, [0], 10, P), 'stale_generation', 'the fenced member is refused');
  t.is(mayCommit(g, { id: 'a', generation: g.generation }, [0, 1, 2], 10, P), undefined);
  t.is(mayCommit(g, { id: 'a', generation: g.generation }, [3], 10, P), 'not_owner');
  t.is(mayCommit(g, { id: 'c', generation: g.generation }, [3], 10, P), 'unknown_member');
  t.is(mayCommit(g, undefined, [0], 10, P), 'has_members');
  t.is(mayCommit(g, undefined, [0], 10 + 2 * SESSION, P), undefined, 'after every session ran out');
});

test('a full group refuses a new member', (t) => {
  const g = joined(EMPTY_GROUP, 'a', 0);
  t.is(join(g, { id: 'b', sessionMs: SESSION }, 0, P, 1), 'group_full');
});

test('property: under any joins, leaves, heartbeats and silences, each generation partitions exactly once and generations only grow', (t) => {
  const op = fc.oneof(
    fc.record({ kind: fc.constant('join' as const), id: fc.constantFrom('a', 'b', 'c', 'd', 'e') }),
    fc.record({ kind: fc.constant('leave' as const), id: fc.constantFrom('a', 'b', 'c', 'd', 'e') }),
    fc.record({ kind: fc.constant('heartbeat' as const), id: fc.constantFrom('a', 'b', 'c', 'd', 'e') }),
    fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 2 * SESSION }) }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
      let g: GroupState = EMPTY_GROUP;
      let now = 0;
      const seen = new Map<number, string>();
      for (const o of ops) {
        const before = g.generation;
        if (o.kind === 'wait') now += o.ms;
        else if (o.kind === 'join') g = joined(g, o.id, now);
        else if (o.kind === 'leave') g = leave(g, o.id, now, P);
        else {
          const next = heartbeat(g, o.id, now, P);
          if (typeof next !== 'string') g = next;
        }
        if (g.generation < before) return false;
        assertPartitioned(t, g);
        // One generation, one assignment: never two different ones under the same number.
        const key = JSON.stringify(g.assignment);
        const known = seen.get(g.generation);
        if (known !== undefined && known !== key) return false;
        seen.set(g.generation, key);
      }
      return true;
    }),
    { numRuns: 300 },
  );
});
