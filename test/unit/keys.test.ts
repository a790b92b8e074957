/**
 * The RocksDB key layout (src/storage/keys.ts): byte order is numeric order, ranges hold exactly
 * their keys, parsers invert builders, and one queue's keys never fall in another's ranges.
 */
import test from 'ava';
import fc from 'fast-check';
import { queueName, type QueueName } from '../../src/names.ts';
import { keys, LAYOUT_VERSION, type Range } from '../../src/storage/keys.ts';

const MAX = 2 ** 52 - 1;

/** Byte order, as RocksDB's default comparator sees the UTF-8 keys. */
const cmp = (a: string, b: string) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
const inRange = (key: string, r: Range) => cmp(key, r.gte) >= 0 && cmp(key, r.lt) < 0;
const sign = (n: number) => (n > 0 ? 1 : n < 0 ? -1 : 0);

const q = (name: string): QueueName => queueName(name);
const Q = q('orders');

const EDGES = [0, 1, 9, 10, 15, 16, 255, 256, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 1_700_000_000_000, 4_102_444_800_000, MAX - 1, MAX];
const value = fc.oneof(fc.integer({ min: 0, max: MAX }), fc.constantFrom(...EDGES), fc.integer({ min: 0, max: 300 }));
const queueArb = fc.stringMatching(/^[A-Za-z0-9_-]{1,12}$/).map(q);

test('the layout version and key', (t) => {
  t.is(LAYOUT_VERSION, 2);
  t.is(keys.layout, 'meta/layout');
});

test('keys have the documented shape', (t) => {
  t.is(keys.queue(Q), 'q/orders');
  t.is(keys.deleting(Q), 'x/orders');
  t.is(keys.partition(Q, 10), 's/orders/000a');
  t.is(keys.message(Q, 1, 255), 'm/orders/0001/00000000000ff');
  t.is(keys.delivery(Q, 1, 255), 'l/orders/0001/00000000000ff');
  t.is(keys.delayed(Q, 63, 16, 1), 'd/orders/003f/0000000000010/0000000000001');
  t.is(keys.message(Q, 0, MAX).split('/')[3], 'fffffffffffff', '2^52 - 1 fits 13 hex digits');
});

test('offsets: byte order is numeric order, edge values included', (t) => {
  for (const a of EDGES) for (const b of EDGES) t.is(sign(cmp(keys.message(Q, 0, a), keys.message(Q, 0, b))), sign(a - b), `${a} vs ${b}`);
  fc.assert(
    fc.property(value, value, (a, b) => {
      return (
        sign(cmp(keys.message(Q, 3, a), keys.message(Q, 3, b))) === sign(a - b) &&
        sign(cmp(keys.delivery(Q, 3, a), keys.delivery(Q, 3, b))) === sign(a - b)
      );
    }),
  );
  t.pass();
});

test('delayed keys sort by due time, then sequence', (t) => {
  fc.assert(
    fc.property(value, value, value, value, (d1, s1, d2, s2) => {
      const expected = sign(d1 - d2) || sign(s1 - s2);
      return sign(cmp(keys.delayed(Q, 0, d1, s1), keys.delayed(Q, 0, d2, s2))) === expected;
    }),
  );
  t.pass();
});

test('partitions sort numerically and never mix', (t) => {
  for (let p = 0; p < 64; p++) {
    t.true(cmp(keys.message(Q, p, MAX), keys.message(Q, p + 1, 0)) < 0, `partition ${p}`);
    t.false(inRange(keys.message(Q, p + 1, 0), keys.messages(Q, p)));
    t.false(inRange(keys.message(Q, p, MAX), keys.messages(Q, p + 1)));
  }
});

test('offsetOf and delayedOf invert the builders', (t) => {
  fc.assert(
    fc.property(queueArb, fc.integer({ min: 0, max: 0xffff }), value, value, (queue, p, a, b) => {
      return (
        keys.offsetOf(keys.message(queue, p, a)) === a &&
        keys.offsetOf(keys.delivery(queue, p, a)) === a &&
        JSON.stringify(keys.delayedOf(keys.delayed(queue, p, a, b))) === JSON.stringify({ due: a, seq: b })
      );
    }),
  );
  t.pass();
});

test('queueOf inverts queue and deleting keys', (t) => {
  fc.assert(
    fc.property(queueArb, (queue) => keys.queueOf(keys.queue(queue)) === queue && keys.queueOf(keys.deleting(queue)) === queue),
  );
  t.pass();
});

test('messagesBetween holds exactly the offsets in [from, end)', (t) => {
  fc.assert(
    fc.property(value, value, value, (x, y, o) => {
      const [from, end] = x <= y ? [x, y] : [y, x];
      const r = keys.messagesBetween(Q, 2, from, end);
      return inRange(keys.message(Q, 2, o), r) === (o >= from && o < end);
    }),
  );
  const r = keys.messagesBetween(Q, 2, 5, 5);
  t.false(inRange(keys.message(Q, 2, 5), r), 'an empty range');
  t.false(inRange(keys.delivery(Q, 2, 7), keys.messagesBetween(Q, 2, 0, 100)));
});

test('delayedFrom holds the delayed keys at or after its (due, seq), of its partition only', (t) => {
  fc.assert(
    fc.property(value, value, value, value, (fromDue, fromSeq, due, seq) =>
      inRange(keys.delayed(Q, 1, due, seq), keys.delayedFrom(Q, 1, fromDue, fromSeq)) ===
      (due > fromDue || (due === fromDue && seq >= fromSeq)),
    ),
  );
  t.false(inRange(keys.delayed(Q, 2, 10, 0), keys.delayedFrom(Q, 1, 0, 0)));
  t.false(inRange(keys.delayed(Q, 0, MAX, MAX), keys.delayedFrom(Q, 1, 0, 0)));
  t.true(inRange(keys.delayed(Q, 1, MAX, MAX), keys.delayedFrom(Q, 1, 0, 0)));
});

test('whole-kind ranges hold their keys and nothing else', (t) => {
  const sample = (queue: QueueName, p: number, n: number) => ({
    queue: keys.queue(queue),
    deleting: keys.deleting(queue),
    partition: keys.partition(queue, p),
    message: keys.message(queue, p, n),
    delivery: keys.delivery(queue, p, n),
    delayed: keys.delayed(queue, p, n, n),
  });
  fc.assert(
    fc.property(queueArb, fc.integer({ min: 0, max: 63 }), value, (queue, p, n) => {
      const k = sample(queue, p, n);
      const all = Object.values(k).concat(keys.layout);
      const holds = (r: Range, expected: string[]) => all.every((key) => inRange(key, r) === expected.includes(key));
      return (
        holds(keys.queues, [k.queue]) &&
        holds(keys.allDeleting, [k.deleting]) &&
        holds(keys.messages(queue, p), [k.message]) &&
        holds(keys.deliveries(queue, p), [k.delivery]) &&
        holds(keys.delayedAll(queue, p), [k.delayed]) &&
        keys.queueRanges(queue).every((r) => !inRange(k.queue, r) && !inRange(k.deleting, r)) &&
        [k.partition, k.message, k.delivery, k.delayed].every((key) => keys.queueRanges(queue).some((r) => inRange(key, r)))
      );
    }),
  );
  t.pass();
});

test('queue prefixes cannot overlap: q1 and q10', (t) => {
  const q1 = q('q1');
  const q10 = q('q10');
  const ranges = (queue: QueueName): Range[] => [
    ...keys.queueRanges(queue),
    keys.messages(queue, 0),
    keys.deliveries(queue, 0),
    keys.delayedAll(queue, 0),
    keys.delayedFrom(queue, 0, 0, 0),
    keys.messagesBetween(queue, 0, 0, MAX),
  ];
  const keysOf = (queue: QueueName) => [
    keys.partition(queue, 0),
    keys.message(queue, 0, 0),
    keys.message(queue, 0, MAX),
    keys.delivery(queue, 0, 7),
    keys.delayed(queue, 0, 0, 0),
    keys.delayed(queue, 0, MAX, MAX),
  ];
  for (const r of ranges(q1)) for (const k of keysOf(q10)) t.false(inRange(k, r), `${k} in ${JSON.stringify(r)}`);
  for (const r of ranges(q10)) for (const k of keysOf(q1)) t.false(inRange(k, r), `${k} in ${JSON.stringify(r)}`);
  t.is(String(keys.queueOf(keys.queue(q10))), 'q10');
});

test('no two distinct queues share a key or a range', (t) => {
  fc.assert(
    fc.property(queueArb, queueArb, fc.integer({ min: 0, max: 63 }), value, (a, b, p, n) => {
      if (a === b) return true;
      const bKeys = [keys.partition(b, p), keys.message(b, p, n), keys.delivery(b, p, n), keys.delayed(b, p, n, n)];
      const aRanges = [...keys.queueRanges(a), keys.messages(a, p), keys.deliveries(a, p), keys.delayedAll(a, p)];
      return keys.queue(a) !== keys.queue(b) && bKeys.every((k) => aRanges.every((r) => !inRange(k, r)));
    }),
    { numRuns: 500 },
  );
  // Names that are prefixes of one another, or differ in the characters around '/'.
  const pairs: Array<[string, string]> = [
    ['a', 'a-'],
    ['a', 'a_'],
    ['a', 'a0'],
    ['A', 'a'],
    ['x', 'x-y'],
    ['q', 'q-0001'],
  ];
  for (const [a, b] of pairs) {
    const qa = q(a);
    const qb = q(b);
    for (const r of keys.queueRanges(qa)) t.false(inRange(keys.message(qb, 0, 0), r), `${b} in ${a}'s range`);
    for (const r of keys.queueRanges(qb)) t.false(inRange(keys.message(qa, 0, 0), r), `${a} in ${b}'s range`);
  }
});
