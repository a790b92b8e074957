/**
 * The hybrid logical clock of hosts clusters (actors/hosts/hlc.ts) on a simulated wall clock:
 * timestamps never go backwards when the wall clock steps back, a received timestamp is always
 * exceeded by the next local one (causality), the physical part follows the wall clock again once
 * it catches up, and packed timestamps compare bytewise in timestamp order and survive the
 * message record's storage encoding.
 */
import test from 'ava';
import { Encoder } from '@msgpack/msgpack';
import { ErrorCode } from '../../src/errors.ts';
import { decodeMessage, encodeMessage } from '../../src/storage/records.ts';
import { compareHlc, hlcText, MAX_LOGICAL, merge, packHlc, tick, unpackHlc, ZERO_HLC, type Hlc } from '../../actors/hosts/hlc.ts';

const T0 = 1_800_000_000_000;

/** Runs ticks at the given wall readings, returns the timestamps. */
function ticks(walls: readonly number[], from: Hlc = ZERO_HLC): Hlc[] {
  const out: Hlc[] = [];
  let h = from;
  for (const wall of walls) {
    h = tick(h, wall);
    out.push(h);
  }
  return out;
}

const increasing = (hs: readonly Hlc[]) => hs.every((h, i) => i === 0 || compareHlc(hs[i - 1] as Hlc, h) < 0);

test('ticks follow the wall clock and order events within one millisecond by the counter', (t) => {
  t.deepEqual(ticks([T0, T0, T0, T0 + 5]), [
    { physical: T0, logical: 0 },
    { physical: T0, logical: 1 },
    { physical: T0, logical: 2 },
    { physical: T0 + 5, logical: 0 },
  ]);
});

test('a step of the wall clock backwards never makes a timestamp go backwards', (t) => {
  const hs = ticks([T0, T0 + 10, T0 - 60_000, T0 - 59_999, T0 + 10, T0 + 11]);
  t.true(increasing(hs));
  // While the wall clock is behind, the physical part stays at the largest reading seen.
  t.deepEqual(hs[2], { physical: T0 + 10, logical: 1 });
  t.deepEqual(hs[4], { physical: T0 + 10, logical: 3 });
  // Once it is ahead again, it follows it.
  t.deepEqual(hs[5], { physical: T0 + 11, logical: 0 });
});

test('a full counter moves the physical part on instead of overflowing', (t) => {
  const next = tick({ physical: T0, logical: MAX_LOGICAL }, T0);
  t.deepEqual(next, { physical: T0 + 1, logical: 0 });
});

test('merge: the next timestamp exceeds both the local clock and the one received, whichever wall clock is behind', (t) => {
  // A host whose wall clock is 30 s behind receives a timestamp from a host on time.
  const remote: Hlc = { physical: T0, logical: 7 };
  const behind = tick(ZERO_HLC, T0 - 30_000);
  const { hlc, skewMs } = merge(behind, remote, T0 - 30_000);
  t.deepEqual(hlc, { physical: T0, logical: 8 });
  t.is(skewMs, 30_000);
  const next = tick(hlc, T0 - 29_999);
  t.true(compareHlc(next, remote) > 0, 'what it accepts after it saw the remote event orders after it');
  // A remote timestamp behind the local one changes nothing but the counter.
  const ahead = tick(ZERO_HLC, T0 + 1000);
  t.deepEqual(merge(ahead, remote, T0 + 1000), { hlc: { physical: T0 + 1000, logical: 1 }, skewMs: 0 });
  // The wall clock ahead of both: it wins, the counter restarts.
  t.deepEqual(merge(behind, remote, T0 + 5), { hlc: { physical: T0 + 5, logical: 0 }, skewMs: 0 });
  // Equal physical parts: above the larger counter.
  t.deepEqual(merge({ physical: T0, logical: 9 }, remote, T0 - 1).hlc, { physical: T0, logical: 10 });
});

test('merging in any order keeps every host above everything it has seen', (t) => {
  // Three hosts with skewed clocks exchange timestamps in a fixed pseudo-random pattern.
  let seed = 42;
  const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
  const skew = [0, -20_000, 7_000];
  const clocks: Hlc[] = [ZERO_HLC, ZERO_HLC, ZERO_HLC];
  const seen: Hlc[] = [ZERO_HLC, ZERO_HLC, ZERO_HLC];
  let wall = T0;
  for (let step = 0; step < 2000; step++) {
    wall += Math.floor(random() * 3);
    const host = Math.floor(random() * 3);
    const local = wall + (skew[host] as number);
    if (random() < 0.5) {
      clocks[host] = tick(clocks[host] as Hlc, local);
    } else {
      const from = Math.floor(random() * 3);
      const remote = clocks[from] as Hlc;
      if (compareHlc(remote, seen[host] as Hlc) > 0) seen[host] = remote;
      clocks[host] = merge(clocks[host] as Hlc, remote, local).hlc;
    }
    t.true(compareHlc(clocks[host] as Hlc, seen[host] as Hlc) > 0 || (seen[host] as Hlc).physical === 0);
  }
  // The physical parts stay within the largest skew of the fastest clock.
  for (const h of clocks) t.true(h.physical <= wall + 7_000 + 1);
});

test('packed timestamps round-trip and compare bytewise as the timestamps do', (t) => {
  const samples: Hlc[] = [
    { physical: 0, logical: 0 },
    { physical: 0, logical: 1 },
    { physical: T0, logical: 0 },
    { physical: T0, logical: 255 },
    { physical: T0, logical: 256 },
    { physical: T0 + 1, logical: 0 },
    { physical: 2 ** 32 - 1, logical: MAX_LOGICAL },
    { physical: 2 ** 32, logical: 0 },
    { physical: 2 ** 48 - 1, logical: MAX_LOGICAL },
  ];
  const bytewise = (a: Uint8Array, b: Uint8Array) => Buffer.compare(Buffer.from(a), Buffer.from(b));
  for (const a of samples) {
    t.deepEqual(unpackHlc(packHlc(a)), a);
    for (const b of samples) t.is(Math.sign(bytewise(packHlc(a), packHlc(b))), Math.sign(compareHlc(a, b)), `${hlcText(a)} vs ${hlcText(b)}`);
  }
  t.is(unpackHlc(new Uint8Array(7)), undefined);
  t.throws(() => packHlc({ physical: 2 ** 48, logical: 0 }), { instanceOf: RangeError });
  t.throws(() => packHlc({ physical: T0, logical: MAX_LOGICAL + 1 }), { instanceOf: RangeError });
  t.true(hlcText({ physical: 9, logical: 2 }) < hlcText({ physical: 10, logical: 1 }));
});

test('a message record keeps its stamp through storage encoding; a malformed stamp is a corrupt record', (t) => {
  const hlc = packHlc({ physical: T0, logical: 3 });
  const record = { id: 'm1', body: new TextEncoder().encode('hello'), sentAt: T0 - 10, hlc };
  const decoded = decodeMessage(encodeMessage(record));
  t.deepEqual(decoded.hlc === undefined ? undefined : unpackHlc(decoded.hlc), { physical: T0, logical: 3 });
  t.is(decodeMessage(encodeMessage({ id: 'm2', body: new Uint8Array(0), sentAt: T0 })).hlc, undefined);
  const bad = new Encoder().encode(['m3', T0, new Uint8Array(0), null, null, { h: new Uint8Array(5) }]);
  t.throws(() => decodeMessage(bad), { code: ErrorCode.StorageFailure });
});
