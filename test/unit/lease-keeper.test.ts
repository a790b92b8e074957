/**
 * The lease keeper (actors/partition/lease-keeper.ts) over a real ledger, and the ledger's held
 * messages (time-window `notBefore`, long delays) at scale: pure, with time passed in.
 */
import test from 'ava';
import { Ledger, type LedgerLimits } from '../../actors/partition/ledger.ts';
import { LeaseKeeper, leaseHolder, type BeatsOf } from '../../actors/partition/lease-keeper.ts';
import { MemDisk, message } from './partition-fakes.ts';

const T0 = 1_700_000_000_000;
const FOREVER = 1e13;
const TIMEOUT = 5000;
const LIMITS: LedgerLimits = { windowMessages: 1000, windowBytes: 1 << 30, maxInflight: 100_000, timerWindow: 1000 };

/** A ledger and a keeper, driven the way the partition machine drives them. */
function setup(n: number) {
  const disk = new MemDisk();
  const ledger = new Ledger(disk.load(), { ...LIMITS }, T0);
  const keeper = new LeaseKeeper(TIMEOUT);
  const beats = new Map<string, { at: number; goodbye: boolean }>();
  const beatsOf: BeatsOf = (c) => beats.get(c);
  ledger.append(Array.from({ length: n }, () => ({ record: message(T0), delayMs: 0 })), T0);
  disk.apply(ledger.takeChanges());
  const tick = (now: number) => {
    const result = keeper.tick(ledger, now, beatsOf);
    ledger.tick(now, FOREVER);
    const changes = ledger.takeChanges();
    disk.apply(changes);
    return { ...result, writes: changes.filter((c) => c.kind === 'putDeliveries').length };
  };
  return { ledger, keeper, beats, tick };
}

test('a beating consumer keeps its leases past the visibility timeout, with one write per extension round', (t) => {
  // A 2 s visibility timeout: the partition machine leases kept messages for max(2 s, the 5 s timeout).
  const { ledger, keeper, beats, tick } = setup(50);
  const got = ledger.receive(50, Infinity, TIMEOUT, T0, FOREVER, undefined, 'w');
  keeper.track('p', 'w', got.map((d) => ({ offset: d.offset, seq: d.delivery.seq })), TIMEOUT, T0);
  let writes = 0;
  for (let now = T0 + 1000; now <= T0 + 60_000; now += 1000) {
    beats.set(leaseHolder('p', 'w'), { at: now, goodbye: false });
    writes += tick(now).writes;
    t.deepEqual(ledger.counts().inflight, 50, `still in flight at +${now - T0} ms`);
  }
  // Looked at every 1.25 s, renewed to 5 s when under 2.5 s are left: about every 3 s, all 50 in one group.
  t.true(writes >= 15 && writes <= 25, `${writes} delivery-group writes in 60 s`);
  t.deepEqual(keeper.size, { leases: 50, consumers: 1 });
});

test('a silent consumer loses its leases after the timeout; a goodbye ends them at once', (t) => {
  const { ledger, keeper, beats, tick } = setup(4);
  const a = ledger.receive(2, Infinity, 600_000, T0, FOREVER, undefined, 'a');
  const b = ledger.receive(2, Infinity, 600_000, T0, FOREVER, undefined, 'b');
  keeper.track('p', 'a', a.map((d) => ({ offset: d.offset, seq: d.delivery.seq })), 600_000, T0);
  keeper.track('p', 'b', b.map((d) => ({ offset: d.offset, seq: d.delivery.seq })), 600_000, T0);
  beats.set(leaseHolder('p', 'a'), { at: T0 + 1000, goodbye: false });
  beats.set(leaseHolder('p', 'b'), { at: T0 + 1000, goodbye: false });
  t.like(tick(T0 + 1000), { released: 0 });
  beats.set(leaseHolder('p', 'b'), { at: T0 + 1500, goodbye: true });
  t.like(tick(T0 + 1500), { released: 2 }, 'goodbye: b released at once');
  t.is(ledger.counts().inflight, 2);
  t.like(tick(T0 + 1000 + TIMEOUT), { released: 0 }, 'a is silent for exactly the timeout: kept');
  t.like(tick(T0 + 1001 + TIMEOUT), { released: 2 }, 'a is silent past the timeout: released');
  t.is(ledger.counts().inflight, 0);
  t.is(ledger.receive(10, Infinity, 1000, T0 + 7000, FOREVER).length, 4, 'all four receivable again');
  t.deepEqual(keeper.size, { leases: 0, consumers: 0 });
});

test('deleted and redelivered messages leave the keeper; a goodbye from before a new receive does not count', (t) => {
  const { ledger, keeper, beats, tick } = setup(3);
  const got = ledger.receive(3, Infinity, 10_000, T0, FOREVER, undefined, 'w');
  beats.set(leaseHolder('p', 'w'), { at: T0 - 1, goodbye: true }); // an earlier life of the same name said goodbye
  keeper.track('p', 'w', got.map((d) => ({ offset: d.offset, seq: d.delivery.seq })), 10_000, T0);
  const [first, second] = got;
  t.is(ledger.remove(first?.offset ?? -1, first?.delivery.seq ?? -1), 'ok');
  keeper.forget(first?.offset ?? -1);
  t.deepEqual(keeper.size, { leases: 2, consumers: 1 });
  t.like(tick(T0 + 100), { released: 0 });
  // The lease of `second` runs out without beats and the message goes to someone else.
  beats.set(leaseHolder('p', 'w'), { at: T0 + 200, goodbye: false });
  t.is(ledger.changeVisibility(second?.offset ?? -1, second?.delivery.seq ?? -1, 0, T0 + 200), 'ok');
  tick(T0 + 300);
  const again = ledger.receive(1, Infinity, 1000, T0 + 300, FOREVER, undefined, 'other');
  t.is(again[0]?.offset, second?.offset);
  beats.set(leaseHolder('p', 'w'), { at: T0 + 2000, goodbye: false });
  tick(T0 + 2000);
  t.deepEqual(keeper.size, { leases: 1, consumers: 1 }, 'only the third message is still w\'s');
});

test('a holder is a principal and a consumer name: another principal\'s beats and goodbyes under the same name count for nothing', (t) => {
  const { ledger, keeper, beats, tick } = setup(2);
  const got = ledger.receive(2, Infinity, 600_000, T0, FOREVER, undefined, 'w');
  keeper.track('alice', 'w', got.map((d) => ({ offset: d.offset, seq: d.delivery.seq })), 600_000, T0);
  // bob beats as `w` all along: alice's leases still end once alice is silent past the timeout.
  for (let now = T0 + 1000; now <= T0 + TIMEOUT; now += 1000) {
    beats.set(leaseHolder('bob', 'w'), { at: now, goodbye: false });
    t.like(tick(now), { released: 0 }, `bob's beat at +${now - T0} ms ends nothing`);
  }
  // ...and his goodbye under that name did not end them early either.
  beats.set(leaseHolder('bob', 'w'), { at: T0 + TIMEOUT, goodbye: true });
  t.like(tick(T0 + TIMEOUT), { released: 0 });
  t.is(ledger.counts().inflight, 2);
  t.like(tick(T0 + TIMEOUT + 1), { released: 2 }, 'alice silent past the timeout: released, whatever bob said');
});

/** The timer window, plus one page the machine reads from disk (TIMER_PAGE): the bound on delayed messages in memory. */
const TIMER_BOUND = 65_536 + 4096;
const timersIn = (ledger: Ledger) => ledger.summary()['timers'] ?? Infinity;

test('held messages are released in (due, arrival) order, and the in-memory timers stay bounded at 200,000 delayed', (t) => {
  const disk = new MemDisk();
  const limits: LedgerLimits = { ...LIMITS, windowMessages: 1 << 20, timerWindow: 65_536 };
  const ledger = new Ledger(disk.load(), limits, T0);
  const page = () => {
    disk.apply(ledger.takeChanges());
    while (ledger.needsTimers) {
      const { scanned, complete } = disk.scanTimers(ledger.timersFrom, 4096);
      ledger.fillTimers(scanned, complete);
    }
  };
  page();
  const N = 200_000;
  // Due times spread over a week in a scrambled order, several per ms: as a 7-day delay queue fills.
  const week = 7 * 86_400_000;
  for (let i = 0; i < N; i += 1000) {
    ledger.append(
      Array.from({ length: 1000 }, (_, k) => {
        const n = i + k;
        return { record: message(T0, 8, `d${n}`), delayMs: 0, notBefore: T0 + 1 + ((n * 7919) % N) * (week / N) };
      }),
      T0,
    );
    page();
  }
  t.true(timersIn(ledger) <= TIMER_BOUND, `${timersIn(ledger)} timers in memory`);
  t.is(ledger.counts().delayed, N);
  let released = 0;
  let lastDue = -1;
  for (let now = T0; released < N; now += 3_600_000) {
    ledger.tick(now, FOREVER);
    page();
    for (const d of ledger.receive(N, Infinity, 1000, now, FOREVER)) {
      const n = Number((d.record?.id ?? '').slice(1));
      const due = T0 + 1 + ((n * 7919) % N) * (week / N);
      t.true(due <= now, 'never before its time');
      if (due < lastDue) t.fail(`released out of due order: ${due} after ${lastDue}`);
      lastDue = due;
      released++;
      ledger.remove(d.offset, d.delivery.seq);
    }
    if (timersIn(ledger) > TIMER_BOUND) t.fail(`${timersIn(ledger)} timers in memory`);
  }
  t.is(released, N);
});
