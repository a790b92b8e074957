/**
 * The lease-release registry (src/replication/releases.ts): a node releases an epoch only when it
 * served it, persisted a later one, and holds no open primary log of it or an older one; answers
 * are per queue incarnation; a stopping node can wait for its successors to have asked.
 */
import test from 'ava';
import { Releases } from '../../src/replication/releases.ts';

const K = 'orders/0';

test('released only after serving the epoch and persisting a later one, with no primary log of it left open', (t) => {
  const open = new Map<string, { epoch: number }>();
  const r = new Releases(open);
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
  const r = new Releases(new Map());
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
  const r = new Releases(new Map());
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
