/**
 * The primary's pure view of its followers (actors/replica/followers.ts): fetch answers, the
 * majority commit index, the lease from echoed tokens and the in-sync set. Time is a number.
 */
import test from 'ava';
import { Followers, type FetchRequest, type FollowersInput } from '../../actors/replica/followers.ts';
import { withEntry, type ReplicaMeta } from '../../actors/replica/log.ts';

const LEASE = 1000;
const T0 = 10_000;

function history(log: readonly number[]): ReplicaMeta['epochs'] {
  let epochs: ReplicaMeta['epochs'] = [];
  log.forEach((epoch, index) => {
    epochs = withEntry(epochs, epoch, index);
  });
  return epochs;
}

/** A primary at epoch 2 whose log holds `log` (entry epochs); its epoch starts where its first entry is. */
function primary(log: readonly number[], extra: Partial<FollowersInput> = {}): Followers {
  const epoch = extra.epoch ?? 2;
  const first = log.indexOf(epoch);
  return new Followers({
    self: 'n1',
    voters: ['n1', 'n2', 'n3'],
    epoch,
    epochStart: first < 0 ? log.length : first,
    commit: 0,
    logStart: 0,
    logEnd: log.length,
    epochs: history(log),
    leaseMs: LEASE,
    maxEntries: 100,
    now: T0,
    ...extra,
  });
}

/** A fetch from a follower at epoch 2 whose log ends at `from` with an entry of `lastEpoch`. */
function fetch(follower: string, from: number, fields: Partial<FetchRequest> = {}): FetchRequest {
  return { follower, epoch: 2, from, lastEpoch: from === 0 ? 0 : 2, token: 0, learner: false, ...fields };
}

const ofEpoch = (n: number, epoch = 2) => Array.from({ length: n }, () => epoch);

// ---- answers -----------------------------------------------------------------------------------------

test('a follower with a newer epoch supersedes the primary; one with an older epoch is fenced', (t) => {
  const p = primary(ofEpoch(4));
  t.deepEqual(p.onFetch(fetch('n2', 4, { epoch: 3 }), T0), { kind: 'superseded', epoch: 3 });
  t.deepEqual(p.onFetch(fetch('n2', 4, { epoch: 1, lastEpoch: 1 }), T0), { kind: 'fenced', epoch: 2 });
  // Neither answer counts as an acknowledgement.
  t.deepEqual(p.matches(), {});
  t.is(p.commit, 0);
});

test('a follower behind gets entries from its log end, at most maxEntries, with the commit index', (t) => {
  const p = primary(ofEpoch(10), { maxEntries: 3, commit: 2 });
  t.deepEqual(p.onFetch(fetch('n2', 4), T0), { kind: 'entries', from: 4, to: 7, commit: 4 });
  t.deepEqual(p.onFetch(fetch('n2', 8), T0), { kind: 'entries', from: 8, to: 10, commit: 8 });
});

test('a follower below the trimmed log start is told to copy a snapshot; its position still counts', (t) => {
  const p = primary(ofEpoch(10), { logStart: 6 });
  t.deepEqual(p.onFetch(fetch('n2', 5), T0), { kind: 'snapshot' });
  t.deepEqual(p.onFetch(fetch('n2', 6), T0), { kind: 'entries', from: 6, to: 10, commit: 6 });
  p.trimmed(8);
  t.is(p.logStart, 8);
  t.deepEqual(p.onFetch(fetch('n3', 7), T0), { kind: 'snapshot' });
  p.trimmed(3);
  t.is(p.logStart, 8, 'the log start never moves back');
  t.deepEqual(p.matches(), { n2: 6, n3: 7 });
});

test('a caught-up follower waits', (t) => {
  const p = primary(ofEpoch(5));
  t.deepEqual(p.onFetch(fetch('n2', 5), T0), { kind: 'wait' });
});

test('a follower past the end of its last epoch on the primary truncates there', (t) => {
  // The primary (epoch 2) was elected with three entries of epoch 1; the follower holds two more of
  // epoch 1 that never committed.
  const p = primary([1, 1, 1, 2, 2]);
  t.deepEqual(p.onFetch(fetch('n2', 5, { lastEpoch: 1 }), T0), { kind: 'truncate', to: 3 });
  t.deepEqual(p.matches(), {}, 'a truncate answer acknowledges nothing');
  // After truncating it fetches from 3 and is served.
  t.deepEqual(p.onFetch(fetch('n2', 3, { lastEpoch: 1 }), T0), { kind: 'entries', from: 3, to: 5, commit: 0 });
});

test('a follower whose last epoch the primary never had is truncated below it, not served on top of it (KIP-279)', (t) => {
  // Epoch 1's primary put entries 3 and 4 on n1; an epoch-2 primary elected with three entries
  // wrote its own 3 and 4 on n2; n1 was elected at epoch 3 without them and wrote its first entry at 5.
  const leader = [1, 1, 1, 1, 1, 3];
  const p = primary(leader, { epoch: 3 });
  let n2 = [1, 1, 1, 2, 2];
  const answers = [];
  for (let round = 0; round < 10; round++) {
    const answer = p.onFetch(fetch('n2', n2.length, { epoch: 3, lastEpoch: n2[n2.length - 1] ?? 0 }), T0);
    answers.push(answer);
    // Whatever commits is on the primary and on n2: n2 must hold the primary's entries below it.
    t.deepEqual(n2.slice(0, p.commit), leader.slice(0, p.commit), `round ${round}: committed past a foreign entry on n2`);
    if (answer.kind === 'truncate') n2 = n2.slice(0, answer.to);
    else if (answer.kind === 'entries') n2 = [...n2, ...leader.slice(answer.from, answer.to)];
    else break;
  }
  t.deepEqual(answers, [
    { kind: 'truncate', to: 4 },
    { kind: 'truncate', to: 3 },
    { kind: 'entries', from: 3, to: 6, commit: 0 },
    { kind: 'wait' },
  ]);
  t.deepEqual(n2, leader);
  t.is(p.commit, 6, 'n2 now holds the primary\'s log: entry 5 of epoch 3 commits');
});

test('a follower told to truncate no longer counts for the entries it drops', (t) => {
  // Five voters; the primary (epoch 2) starts its epoch at 4. n2 matched 8, then comes back with a
  // log whose last entry at 6 is of epoch 1 (it lost its tail and holds entries of an older primary).
  const p = primary([1, 1, 1, 1, 2, 2, 2, 2], { voters: ['n1', 'n2', 'n3', 'n4', 'n5'] });
  p.onFetch(fetch('n2', 8), T0);
  t.is(p.commit, 0);
  t.deepEqual(p.onFetch(fetch('n2', 6, { lastEpoch: 1 }), T0), { kind: 'truncate', to: 4 });
  t.is(p.matches()['n2'], 4);
  p.onFetch(fetch('n3', 8), T0);
  t.is(p.commit, 0, 'entries 4–7 are on the primary and n3 only: two of five');
});

// ---- commit ------------------------------------------------------------------------------------------

test('commit needs a majority of the voters, the primary included', (t) => {
  const p = primary(ofEpoch(10));
  t.is(p.quorum, 2);
  t.is(p.commit, 0);
  p.onFetch(fetch('n2', 4), T0);
  t.is(p.commit, 4, 'primary (10) and n2 (4): entries below 4 are on two of three');
  p.onFetch(fetch('n3', 7), T0);
  t.is(p.commit, 7);
  p.onFetch(fetch('n2', 10), T0);
  t.is(p.commit, 10);
});

test('with five voters commit needs two followers', (t) => {
  const p = primary(ofEpoch(10), { voters: ['n1', 'n2', 'n3', 'n4', 'n5'] });
  t.is(p.quorum, 3);
  p.onFetch(fetch('n2', 9), T0);
  t.is(p.commit, 0, 'two of five is no majority');
  p.onFetch(fetch('n3', 6), T0);
  t.is(p.commit, 6);
});

test('learners and non-voters do not count for commit', (t) => {
  const p = primary(ofEpoch(10));
  p.onFetch(fetch('n2', 10, { learner: true }), T0);
  p.onFetch(fetch('n4', 10), T0);
  t.is(p.commit, 0, 'a learner (n2) and a node outside the voters (n4) are not a majority');
  t.deepEqual(p.matches(), { n2: 10, n4: 10 }, 'both still copy the log');
  // The same node as a voter again (caught up): it counts.
  p.onFetch(fetch('n2', 10), T0);
  t.is(p.commit, 10);
});

test('a replica leaving the voters stops counting, one joining them counts', (t) => {
  const p = primary(ofEpoch(10));
  p.onFetch(fetch('n4', 8), T0);
  t.is(p.commit, 0);
  p.setVoters(['n1', 'n2', 'n4']);
  t.is(p.commit, 8, 'n4 became a voter with 8 persisted');
  p.onFetch(fetch('n2', 3), T0);
  p.setVoters(['n1', 'n2', 'n3', 'n5', 'n6']);
  t.is(p.commit, 8, 'commit never goes back');
});

test('commit never advances to an index not past the start of the primary\'s epoch', (t) => {
  // Elected with five entries of epoch 1, none known committed; its own first entry not yet written.
  const p = primary(ofEpoch(5, 1));
  t.is(p.epochStart, 5);
  p.onFetch(fetch('n2', 5, { lastEpoch: 1 }), T0);
  p.onFetch(fetch('n3', 5, { lastEpoch: 1 }), T0);
  t.is(p.commit, 0, 'a majority holds the old entries, but an older epoch\'s entries commit only below one of this epoch');
  p.appended(6, history([1, 1, 1, 1, 1, 2]));
  t.is(p.commit, 0, 'the primary alone holds entry 5');
  p.onFetch(fetch('n2', 6), T0);
  t.is(p.commit, 6, 'entry 5 (epoch 2) on a majority commits everything below it');
});

test('a majority below the epoch start does not move commit, even past the known commit index', (t) => {
  const p = primary([1, 1, 1, 1, 1, 2, 2], { commit: 2 });
  p.onFetch(fetch('n2', 4, { lastEpoch: 1 }), T0);
  t.is(p.commit, 2);
  p.onFetch(fetch('n2', 6), T0);
  t.is(p.commit, 6);
});

test('with one voter the primary commits alone, past its epoch start only', (t) => {
  const p = primary(ofEpoch(3, 1), { voters: ['n1'] });
  t.is(p.quorum, 1);
  p.appended(3, history(ofEpoch(3, 1)));
  t.is(p.commit, 0);
  p.appended(4, history([1, 1, 1, 2]));
  t.is(p.commit, 4);
});

// ---- lease -------------------------------------------------------------------------------------------

test('lease: Infinity with a single voter', (t) => {
  const p = primary(ofEpoch(3), { voters: ['n1'] });
  t.is(p.leaseUntil(), Infinity);
  t.true(p.holdsLease(T0 + 1e9));
});

test('lease: -Infinity before any follower echoed a token', (t) => {
  const p = primary(ofEpoch(3));
  t.is(p.leaseUntil(), -Infinity);
  p.onFetch(fetch('n2', 3), T0 + 5);
  t.is(p.leaseUntil(), -Infinity, 'a fetch without a token proves nothing');
  t.false(p.holdsLease(T0 + 5));
});

test('lease: expires leaseMs after the quorum-th newest token (the primary counts as one)', (t) => {
  const p = primary(ofEpoch(3), { voters: ['n1', 'n2', 'n3', 'n4', 'n5'] });
  p.onFetch(fetch('n2', 3, { token: T0 + 300 }), T0 + 400);
  t.is(p.leaseUntil(), -Infinity, 'one follower and the primary are two of five');
  p.onFetch(fetch('n3', 3, { token: T0 + 100 }), T0 + 400);
  t.is(p.leaseUntil(), T0 + 100 + LEASE, 'the second-newest follower token');
  p.onFetch(fetch('n4', 3, { token: T0 + 200 }), T0 + 400);
  t.is(p.leaseUntil(), T0 + 200 + LEASE);
  t.true(p.holdsLease(T0 + 200 + LEASE - 1));
  t.false(p.holdsLease(T0 + 200 + LEASE), 'expired at exactly leaseMs after the token');
});

test('lease: tokens never go back, learners and non-voters do not count', (t) => {
  const p = primary(ofEpoch(3));
  p.onFetch(fetch('n2', 3, { token: T0 + 200 }), T0 + 300);
  t.is(p.leaseUntil(), T0 + 200 + LEASE);
  p.onFetch(fetch('n2', 3, { token: T0 + 50 }), T0 + 300);
  t.is(p.leaseUntil(), T0 + 200 + LEASE, 'a late, reordered fetch with an older token does not shorten the lease');

  const q = primary(ofEpoch(3));
  q.onFetch(fetch('n2', 3, { token: T0 + 200, learner: true }), T0 + 300);
  q.onFetch(fetch('n4', 3, { token: T0 + 200 }), T0 + 300);
  t.is(q.leaseUntil(), -Infinity);
});

test('lease: a token this primary cannot have issued (from its future, or from before it started) does not count', (t) => {
  // Tokens are the primary's own clock readings; a follower that just switched primaries echoes the
  // old primary's token, a reading of another process's clock.
  const p = primary(ofEpoch(3));
  p.onFetch(fetch('n2', 3, { token: T0 + 3_600_000 }), T0 + 10);
  t.is(p.leaseUntil(), -Infinity, 'a token from the future would hold the lease for an hour');
  p.onFetch(fetch('n3', 3, { token: T0 - 1 }), T0 + 10);
  t.is(p.leaseUntil(), -Infinity, 'a token from before this primary existed');
  p.onFetch(fetch('n3', 3, { token: T0 + 5 }), T0 + 10);
  t.is(p.leaseUntil(), T0 + 5 + LEASE);
});

test('lease: a follower gone to a newer epoch stops extending it', (t) => {
  const p = primary(ofEpoch(3));
  p.onFetch(fetch('n2', 3, { token: T0 + 100 }), T0 + 150);
  t.deepEqual(p.onFetch(fetch('n2', 3, { token: T0 + 500, epoch: 3 }), T0 + 600), { kind: 'superseded', epoch: 3 });
  t.is(p.leaseUntil(), T0 + 100 + LEASE);
});

// ---- in-sync set -------------------------------------------------------------------------------------

test('in-sync: the primary and the voters caught up within the lag', (t) => {
  const p = primary(ofEpoch(5), { voters: ['n1', 'n2', 'n3', 'n4'] });
  t.deepEqual(p.inSync(T0, 100), ['n1']);
  p.onFetch(fetch('n2', 5), T0);
  p.onFetch(fetch('n3', 2), T0);
  p.onFetch(fetch('n5', 5), T0);
  p.onFetch(fetch('n4', 5, { learner: true }), T0);
  t.deepEqual(p.inSync(T0, 100), ['n1', 'n2'], 'n3 never caught up; n5 is no voter; n4 is a learner');

  p.appended(8, history(ofEpoch(8)));
  t.deepEqual(p.inSync(T0 + 100, 100), ['n1', 'n2'], 'behind, but caught up 100 ms ago');
  t.deepEqual(p.inSync(T0 + 101, 100), ['n1'], 'behind for longer than the lag');

  p.onFetch(fetch('n3', 8), T0 + 200);
  t.deepEqual(p.inSync(T0 + 200, 100), ['n1', 'n3']);
});

test('reports: matches per follower', (t) => {
  const p = primary(ofEpoch(5));
  p.onFetch(fetch('n2', 5), T0);
  p.onFetch(fetch('n3', 1), T0);
  t.deepEqual(p.matches(), { n2: 5, n3: 1 });
  t.is(p.logEnd, 5);
});
