/**
 * The lease-release registry (src/replication/releases.ts): a node releases an epoch only when it
 * served it, persisted a later one, and holds no open primary log of it or an older one; answers
 * are per queue incarnation; a stopping node can wait for its successors to have asked. A follower's
 * silence towards earlier epochs, and the end of every earlier lease that the voters' silences bound.
 */
import test from 'ava';
import { oldLeaseEnd, Releases } from '../../src/replication/releases.ts';

const K = 'orders/0';

test('released only after serving the epoch and persisting a later one, with no primary log of it left open', (t) => {
  const open = new Map<string, { epoch: number }>();
  const r = new Releases(open, () => 0);
  t.false(r.released(K, 7, 3), 'nothing seen');

  open.set(K, { epoch: 3 });
  r.stored(K, 7, 3);
  t.false(r.released(K, 7, 3), 'promoting at 3, not served');
  r.served(K, 7, 3);
  t.false(r.released(K, 7, 3), 'serving 3');

  r.stored(K, 7, 4);
  t.false(r.released(K, 7, 3), 'a later epoch persisted, but the log of 3 is still open');
  open.delete(K);
  t.true(r.released(K, 7, 3), 'stepped down and fenced');
  t.false(r.released(K, 7, 2), 'an epoch it did not serve');
  t.false(r.released(K, 7, 4), 'nor one it only persisted');
  t.false(r.released(K, 8, 3), 'another incarnation of the queue');

  // Promoting again at a later epoch: 3 stays released; 5 is not until it is served and left.
  open.set(K, { epoch: 5 });
  r.stored(K, 7, 5);
  t.true(r.released(K, 7, 3));
  r.served(K, 7, 5);
  t.false(r.released(K, 7, 3), 'only the last served epoch is known');
  t.false(r.released(K, 7, 5));
});

test('a new incarnation starts over, and a forgotten replica releases nothing', (t) => {
  const r = new Releases(new Map(), () => 0);
  r.served(K, 7, 2);
  r.stored(K, 7, 3);
  t.true(r.released(K, 7, 2));
  r.stored(K, 8, 9);
  t.false(r.released(K, 7, 2), 'the queue was re-created: the old incarnation is gone');
  t.false(r.released(K, 8, 2));
  r.served(K, 8, 2);
  r.stored(K, 8, 3);
  t.true(r.released(K, 8, 2));
  r.forget(K);
  t.false(r.released(K, 8, 2));
});

test('whenTold resolves once every successor was told, or returns those left when the wait ends', async (t) => {
  const r = new Releases(new Map(), () => 0);
  for (const k of ['a/0', 'b/0']) {
    r.served(k, 1, 1);
    r.stored(k, 1, 2);
  }
  t.deepEqual(await r.whenTold([], 60_000), []);
  const waiting = r.whenTold(['a/0', 'b/0'], 60_000);
  t.true(r.released('a/0', 1, 1));
  t.true(r.released('b/0', 1, 1));
  t.deepEqual(await waiting, []);
  t.deepEqual(await r.whenTold(['c/0', 'a/0'], 1), ['c/0'], 'nobody asked about c/0');

  // a/0 served again: the earlier answer does not count for its next successor.
  r.served('a/0', 1, 3);
  t.deepEqual(await r.whenTold(['a/0'], 1), ['a/0']);
  r.stored('a/0', 1, 4);
  const again = r.whenTold(['a/0'], 60_000);
  t.true(r.released('a/0', 1, 3));
  t.deepEqual(await again, []);
});

test('a follower tells its silence towards earlier epochs only once it persisted the epoch asked about', (t) => {
  let now = 1_000;
  const r = new Releases(new Map(), () => now);
  now = 5_000;
  t.is(r.silentBelow(K, 7, 3), undefined, 'nothing persisted');
  r.stored(K, 7, 2);
  r.heard(K, 7, 2);
  now = 6_000;
  t.is(r.silentBelow(K, 7, 3), undefined, 'epoch 3 not persisted: it may still fetch from 2 and extend its lease');
  r.stored(K, 7, 3);
  t.deepEqual(r.silentBelow(K, 7, 3), { silentMs: 1_000, epoch: 2 });
  // Answers from the new primary do not count; a late one from the old primary does (never less silent than true).
  r.heard(K, 7, 3);
  now = 7_000;
  t.deepEqual(r.silentBelow(K, 7, 3), { silentMs: 2_000, epoch: 2 });
  r.heard(K, 7, 2);
  t.deepEqual(r.silentBelow(K, 7, 3), { silentMs: 0, epoch: 2 });
  t.is(r.silentBelow(K, 8, 3), undefined, 'another incarnation of the queue');
});

test('a follower that heard nothing in this process counts from its start', (t) => {
  let now = 1_000;
  const r = new Releases(new Map(), () => now);
  now = 4_000;
  r.stored(K, 7, 5);
  t.deepEqual(r.silentBelow(K, 7, 5), { silentMs: 3_000, epoch: 0 });
  // The oldest epochs fold into one bound, never earlier than what they held.
  for (let e = 1; e <= 12; e++) {
    now = 4_000 + e;
    r.heard(K, 7, e);
  }
  r.stored(K, 7, 13);
  now = 5_000;
  t.deepEqual(r.silentBelow(K, 7, 13), { silentMs: 5_000 - 4_012, epoch: 12 });
  t.deepEqual(r.silentBelow(K, 7, 5), { silentMs: 5_000 - 4_004, epoch: 0 }, 'epochs 1–4 folded: bounded by the last of them, which one no longer known');
});

test('the old lease ends a lease after the last time any voter asked heard from an earlier epoch', (t) => {
  const LEASE = 2_000;
  const silent = (arrivedAt: number, silentMs: number, epoch: number) => ({ arrivedAt, silence: { silentMs, epoch } });
  t.is(oldLeaseEnd([silent(10_000, 3_000, 4), silent(10_050, 2_000, 4)], LEASE, 4), 8_050 + LEASE);
  t.is(oldLeaseEnd([silent(10_000, 3_000, 4), { arrivedAt: 10_050, silence: undefined }], LEASE, 4), undefined, 'a voter that cannot say');
  t.is(oldLeaseEnd([silent(10_000, 3_000, 3), silent(10_000, 3_500, 2)], LEASE, 4), undefined, 'nobody heard from the predecessor: its own tokens to earlier primaries are not bounded');
  t.is(oldLeaseEnd([silent(10_000, 3_000, 3), silent(10_000, 3_500, 2)], LEASE, undefined), 7_000 + LEASE, 'no predecessor: every voter was asked');
  t.is(oldLeaseEnd([], LEASE, undefined), undefined);
});
