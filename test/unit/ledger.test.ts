/**
 * The ledger (actors/partition/ledger.ts): pure decisions of one partition, checked against a
 * simulated disk (MemDisk) that holds exactly what `takeChanges()` said to write.
 */
import test from 'ava';
import fc from 'fast-check';
import { Ledger, type Delivery, type LedgerLimits, type NewMessage } from '../../actors/partition/ledger.ts';
import type { Change, MessageRecord } from '../../actors/partition/records.ts';
import { MemDisk, message } from './partition-fakes.ts';

const T0 = 1_700_000_000_000;
/** Retention long enough never to matter. */
const FOREVER = 1e13;

const BIG: LedgerLimits = { windowMessages: 1000, windowBytes: 1 << 30, maxInflight: 100_000, timerWindow: 1000 };

/** A ledger over a simulated disk, driven the way the partition machine drives it. */
class Harness {
  readonly disk = new MemDisk();
  ledger: Ledger;
  now = T0;
  retentionMs = FOREVER;
  /** Rows a timers page reads at most. */
  timerPage = 4096;

  readonly limits: LedgerLimits;

  constructor(limits: LedgerLimits = BIG) {
    this.limits = limits;
    this.ledger = new Ledger(this.disk.load(), { ...limits }, this.now);
  }

  /** Makes the ledger's changes durable; returns them. */
  commit(): Change[] {
    const changes = this.ledger.takeChanges();
    this.disk.apply(changes);
    return changes;
  }

  /** Commits, then refills the window and the timers from the disk until the ledger needs nothing. */
  page(): void {
    this.commit();
    for (let i = 0; ; i++) {
      if (i > 10_000) throw new Error('paging makes no progress');
      if (this.ledger.needsTimers) {
        const { scanned, complete } = this.disk.scanTimers(this.ledger.timersFrom, this.timerPage);
        this.ledger.fillTimers(scanned, complete);
        continue;
      }
      const end = this.disk.state.nextOffset;
      if (this.ledger.needsWindow && this.ledger.windowFrom < end) {
        const before = this.ledger.windowFrom;
        const { scanned, complete } = this.disk.scanWindow(before, end, this.ledger.windowWanted);
        this.ledger.fillWindow(scanned, complete, end);
        if (this.ledger.windowFrom === before) break; // nothing more fits (see the window-bytes test)
        continue;
      }
      break;
    }
  }

  /** Moves time to `now`, then ticks, commits and pages until nothing changes (a quiet partition). */
  advanceTo(now: number): Change[] {
    this.now = Math.max(this.now, now);
    const all: Change[] = [];
    for (let i = 0; i < 1000; i++) {
      this.ledger.tick(this.now, this.retentionMs);
      const changes = this.commit();
      all.push(...changes);
      this.page();
      if (changes.length === 0) return all;
    }
    throw new Error('the ledger never settles');
  }

  advance(ms: number): Change[] {
    return this.advanceTo(this.now + ms);
  }

  append(records: MessageRecord[], delayMs = 0): void {
    this.ledger.append(
      records.map((record): NewMessage => ({ record, delayMs })),
      this.now,
    );
  }

  receive(max: number, visibilityMs = 30_000, maxBytes = Infinity, attemptId?: string): Delivery[] {
    return this.ledger.receive(max, maxBytes, visibilityMs, this.now, this.retentionMs, attemptId);
  }

  /** A new ledger from what is on disk, as after a crash (uncommitted changes are lost). */
  restart(): void {
    this.ledger = new Ledger(this.disk.load(), { ...this.limits }, this.now);
  }

  /** The message id a delivery is for, reading the disk when the body was not in memory. */
  idOf(d: Delivery): string {
    const record = d.record ?? this.disk.messages.get(d.offset);
    if (!record) throw new Error(`no body for offset ${d.offset}`);
    return record.id;
  }
}

const records = (n: number, size = 8, sentAt = T0): MessageRecord[] => Array.from({ length: n }, () => message(sentAt, size));
const offsets = (ds: readonly Delivery[]) => ds.map((d) => d.offset);
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

// ---- appends and receives ------------------------------------------------------------------------

test('appends get consecutive offsets and are received in offset order', (t) => {
  const h = new Harness();
  const rs = records(5);
  h.append(rs);
  const changes = h.commit();
  t.deepEqual(
    changes.filter((c) => c.kind === 'putMessage').map((c) => (c.kind === 'putMessage' ? c.offset : -1)),
    [0, 1, 2, 3, 4],
  );

  const first = h.receive(3);
  t.deepEqual(offsets(first), [0, 1, 2]);
  t.deepEqual(
    first.map((d) => d.record?.id),
    rs.slice(0, 3).map((r) => r.id),
  );
  for (const d of first) {
    t.is(d.delivery.count, 1);
    t.is(d.delivery.deadline, h.now + 30_000);
    t.is(d.delivery.first, h.now);
  }
  const seqs = first.map((d) => d.delivery.seq);
  t.deepEqual([...seqs].sort((a, b) => a - b), seqs);
  t.is(new Set(seqs).size, 3);

  t.deepEqual(offsets(h.receive(10)), [3, 4]);
  t.deepEqual(h.receive(10), []);
  t.deepEqual(h.ledger.counts(), { visible: 0, inflight: 5, delayed: 0 });
});

test('takeChanges ends with one putState that matches the ledger, and is empty when nothing changed', (t) => {
  const h = new Harness();
  h.append(records(3));
  h.receive(1);
  t.true(h.ledger.hasChanges);
  const changes = h.ledger.takeChanges();
  const last = changes.at(-1);
  t.is(last?.kind, 'putState');
  t.is(changes.filter((c) => c.kind === 'putState').length, 1);
  if (last?.kind === 'putState') {
    t.deepEqual(last.state, { ...h.ledger.partitionState });
    t.is(last.state.nextOffset, 3);
    t.is(last.state.stored, 3);
    t.is(last.state.nextSeq, 3, 'one sequence number for the delivery, one for its group');
  }
  t.false(h.ledger.hasChanges);
  t.deepEqual(h.ledger.takeChanges(), []);

  // The state written is a copy: later changes do not alter a batch already taken.
  h.append(records(1));
  if (last?.kind === 'putState') t.is(last.state.nextOffset, 3);
  t.is(h.ledger.takeChanges().at(-1)?.kind, 'putState');
});

test('a receive request attempt id repeats the same deliveries while their leases live', (t) => {
  const h = new Harness();
  h.append(records(4));
  const first = h.receive(2, 1000, Infinity, 'attempt-1');
  const again = h.receive(2, 1000, Infinity, 'attempt-1');
  t.deepEqual(offsets(again), offsets(first));
  t.deepEqual(
    again.map((d) => d.delivery.seq),
    first.map((d) => d.delivery.seq),
  );
  // Once a lease ended, the attempt is not repeated: new messages are delivered.
  h.advance(1000);
  const later = h.receive(2, 1000, Infinity, 'attempt-1');
  t.notDeepEqual(
    later.map((d) => d.delivery.seq),
    first.map((d) => d.delivery.seq),
  );
});

// ---- leases --------------------------------------------------------------------------------------

test('an expired lease makes the message receivable again with count + 1 and a new seq', (t) => {
  const h = new Harness();
  h.append(records(1));
  const [d1] = h.receive(1, 1000);
  t.truthy(d1);
  h.commit();
  const first = d1?.delivery.first;

  h.advance(999);
  t.deepEqual(h.receive(1), [], 'not before the deadline');
  t.deepEqual(h.ledger.counts(), { visible: 0, inflight: 1, delayed: 0 });

  h.advance(1);
  t.deepEqual(h.ledger.counts(), { visible: 1, inflight: 0, delayed: 0 });
  const [d2] = h.receive(1, 1000);
  t.is(d2?.offset, 0);
  t.is(d2?.delivery.count, 2);
  t.true((d2?.delivery.seq ?? 0) > (d1?.delivery.seq ?? Infinity));
  t.is(d2?.delivery.first, first);
  // A redelivery reads the body from disk.
  t.is(d2?.record, undefined);
  t.is(d2 ? h.idOf(d2) : undefined, d1?.record?.id);
});

test('remove with a stale seq is stale; with the current seq deletes once', (t) => {
  const h = new Harness();
  h.append(records(2));
  const [d] = h.receive(1);
  if (!d) return t.fail();
  t.is(h.ledger.remove(d.offset, d.delivery.seq + 1), 'stale');
  t.is(h.ledger.remove(d.offset, d.delivery.seq - 1), 'stale');
  t.is(h.ledger.remove(1, d.delivery.seq), 'stale', 'a message never delivered has no handle');
  t.is(h.ledger.remove(99, d.delivery.seq), 'stale');
  t.is(h.ledger.remove(d.offset, d.delivery.seq), 'ok');
  t.is(h.ledger.remove(d.offset, d.delivery.seq), 'stale', 'deleted already');

  const changes = h.commit();
  t.true(changes.some((c) => c.kind === 'delMessage' && c.offset === d.offset));
  t.false(changes.some((c) => c.kind === 'putDeliveries'), 'delivered and deleted in one batch: no delivery record is written');
  t.is(h.disk.groups.size, 0);
  t.false(h.disk.messages.has(d.offset));
  t.deepEqual(h.ledger.counts(), { visible: 1, inflight: 0, delayed: 0 });
  t.is(h.disk.state.stored, 1);
});

test('after a redelivery the old seq is stale and the new one deletes', (t) => {
  const h = new Harness();
  h.append(records(1));
  const [d1] = h.receive(1, 1000);
  h.advance(1000);
  const [d2] = h.receive(1, 1000);
  if (!d1 || !d2) return t.fail();
  t.is(h.ledger.remove(d1.offset, d1.delivery.seq), 'stale');
  t.is(h.ledger.changeVisibility(d1.offset, d1.delivery.seq, 5000, h.now), 'stale');
  t.is(h.ledger.remove(d2.offset, d2.delivery.seq), 'ok');
  h.advance(5000);
  t.deepEqual(h.receive(1), []);
});

test('changeVisibility extends a lease: no redelivery at the old deadline', (t) => {
  const h = new Harness();
  h.append(records(1));
  const [d] = h.receive(1, 1000);
  if (!d) return t.fail();
  h.advance(500);
  t.is(h.ledger.changeVisibility(d.offset, d.delivery.seq, 2000, h.now), 'ok');
  const changes = h.commit();
  t.true(changes.some((c) => c.kind === 'putDeliveries' && c.group.entries.some(([o, x]) => o === d.offset && x.deadline === T0 + 2500)));
  t.is(h.disk.deliveries.get(d.offset)?.deadline, T0 + 2500);

  h.advanceTo(T0 + 1000);
  t.deepEqual(h.receive(1), [], 'the old deadline passed: still leased');
  h.advanceTo(T0 + 2499);
  t.deepEqual(h.receive(1), []);
  h.advanceTo(T0 + 2500);
  const [again] = h.receive(1);
  t.is(again?.offset, d.offset);
  t.is(again?.delivery.count, 2);
});

test('changeVisibility can shorten a lease', (t) => {
  const h = new Harness();
  h.append(records(1));
  const [d] = h.receive(1, 60_000);
  if (!d) return t.fail();
  t.is(h.ledger.changeVisibility(d.offset, d.delivery.seq, 100, h.now), 'ok');
  h.advance(100);
  t.deepEqual(offsets(h.receive(1)), [0]);
});

test('changeVisibility on an expired lease is not_in_flight, before and after the tick', (t) => {
  const h = new Harness();
  h.append(records(2));
  const [a, b] = h.receive(2, 1000);
  if (!a || !b) return t.fail();
  // Deadline passed but no tick yet.
  h.now += 1000;
  t.is(h.ledger.changeVisibility(a.offset, a.delivery.seq, 5000, h.now), 'not_in_flight');
  // After the tick requeued it.
  h.advance(0);
  t.is(h.ledger.changeVisibility(b.offset, b.delivery.seq, 5000, h.now), 'not_in_flight');
  t.is(h.ledger.changeVisibility(b.offset, b.delivery.seq + 100, 5000, h.now), 'stale');
  t.is(h.ledger.changeVisibility(5, 1, 5000, h.now), 'stale');
  t.deepEqual(offsets(h.receive(5)), [0, 1]);
});

// ---- delays --------------------------------------------------------------------------------------

test('a delayed message is receivable only once its due time is ticked', (t) => {
  const h = new Harness();
  h.page(); // load the (empty) timers, as the machine does first
  const [r] = records(1);
  if (!r) return t.fail();
  h.append([r], 5000);
  t.deepEqual(h.ledger.counts(), { visible: 0, inflight: 0, delayed: 1 });
  const put = h.commit();
  t.true(put.some((c) => c.kind === 'putDelayed' && c.due === T0 + 5000 && c.record.id === r.id));
  t.false(put.some((c) => c.kind === 'putMessage'));
  t.is(h.disk.state.delayed, 1);
  t.is(h.ledger.nextWake(), T0 + 5000);

  t.deepEqual(h.receive(1), []);
  h.advance(4999);
  t.deepEqual(h.receive(1), []);
  t.deepEqual(h.ledger.counts(), { visible: 0, inflight: 0, delayed: 1 });

  const released = h.advance(1);
  t.true(released.some((c) => c.kind === 'delDelayed' && c.due === T0 + 5000));
  t.true(released.some((c) => c.kind === 'putMessage' && c.record.id === r.id));
  t.deepEqual(h.ledger.counts(), { visible: 1, inflight: 0, delayed: 0 });
  t.is(h.disk.delayed.size, 0);
  t.is(h.disk.state.delayed, 0);
  const [d] = h.receive(1);
  t.is(d?.record?.id, r.id);
});

test('a delayed message past retention at its due time is dropped, not released', (t) => {
  const h = new Harness();
  h.retentionMs = 3000;
  h.page();
  h.append(records(1), 5000);
  h.commit();
  const changes = h.advance(5000);
  t.false(changes.some((c) => c.kind === 'putMessage'));
  t.deepEqual(h.ledger.counts(), { visible: 0, inflight: 0, delayed: 0 });
  t.is(h.disk.delayed.size, 0);
});

// ---- limits --------------------------------------------------------------------------------------

test('maxInflight stops new deliveries; expired leases are still redelivered at the limit', (t) => {
  const h = new Harness({ ...BIG, maxInflight: 3 });
  h.append(records(5));
  const got = h.receive(10, 1000);
  t.deepEqual(offsets(got), [0, 1, 2]);
  t.deepEqual(h.receive(10), []);

  h.advance(1000); // all three leases expire: redeliveries do not add to the in-flight count
  t.deepEqual(offsets(h.receive(10, 1000)), [0, 1, 2]);
  t.deepEqual(h.receive(10), []);

  const [first] = got;
  const current = h.disk.deliveries.get(0);
  h.commit();
  t.is(h.ledger.remove(0, h.disk.deliveries.get(0)?.seq ?? -1), 'ok');
  t.not(current, undefined);
  t.not(first, undefined);
  t.deepEqual(offsets(h.receive(10)), [3]);
  t.deepEqual(h.receive(10), []);
});

test('maxBytes bounds a receive but one message always goes', (t) => {
  const h = new Harness();
  h.append(records(5, 100));
  t.deepEqual(offsets(h.receive(10, 30_000, 250)), [0, 1]);
  t.deepEqual(offsets(h.receive(10, 30_000, 10)), [2], 'larger than maxBytes, still delivered alone');
  t.deepEqual(offsets(h.receive(10, 30_000, 200)), [3, 4]);
  t.is(h.disk.deliveries.size, 0);
  h.commit();
  t.is(h.disk.deliveries.get(0)?.size, 100, 'the delivery records the size for later bounded redeliveries');
});

// ---- window paging -------------------------------------------------------------------------------

test('with a small window, a large backlog is paged in and received exactly once in offset order', (t) => {
  const h = new Harness({ ...BIG, windowMessages: 16 });
  h.append(records(200));
  h.commit();
  t.true(h.ledger.summary()['window'] === 16, 'the first messages stay in memory');
  t.is(h.ledger.windowFrom, 16);
  t.false(h.ledger.needsWindow, 'the window is full');
  t.true(h.ledger.hasUnpaged);

  const seen: number[] = [];
  for (let i = 0; i < 1000; i++) {
    h.page();
    t.true((h.ledger.summary()['window'] ?? 0) <= 16);
    const got = h.receive(5);
    if (got.length === 0) break;
    for (const d of got) {
      seen.push(d.offset);
      t.is(d.record?.id, h.disk.messages.get(d.offset)?.id);
      t.is(h.ledger.remove(d.offset, d.delivery.seq), 'ok');
    }
    // Appends while the backlog is on disk go to disk, not into the window (no gap).
    if (i === 3) h.append(records(7));
  }
  t.deepEqual(seen, range(0, 207));
  h.commit();
  t.is(h.disk.messages.size, 0);
  t.false(h.ledger.hasUnpaged);
  t.deepEqual(h.ledger.counts(), { visible: 0, inflight: 0, delayed: 0 });
});

test('needsWindow asks for a refill at half a window, from the first unexamined offset', (t) => {
  const h = new Harness({ ...BIG, windowMessages: 16 });
  h.append(records(40));
  h.commit();
  h.receive(8);
  t.false(h.ledger.needsWindow, '8 of 16 left');
  h.receive(1);
  t.true(h.ledger.needsWindow, '7 of 16 left');
  t.is(h.ledger.windowFrom, 16);
  t.is(h.ledger.windowWanted, 16 - 7);
  const { scanned, complete } = h.disk.scanWindow(16, h.disk.state.nextOffset, h.ledger.windowWanted);
  t.false(complete);
  h.ledger.fillWindow(scanned, complete, h.disk.state.nextOffset);
  t.is(h.ledger.windowFrom, 25);
  t.false(h.ledger.needsWindow);
});

test('a window refill never claims offsets at or past its end (not yet durable)', (t) => {
  const h = new Harness({ ...BIG, windowMessages: 16 });
  h.append(records(20));
  h.commit();
  h.receive(16);
  const end = h.disk.state.nextOffset; // 20
  h.append(records(5)); // offsets 20..24, not yet written
  const { scanned, complete } = h.disk.scanWindow(h.ledger.windowFrom, end, h.ledger.windowWanted);
  t.true(complete);
  h.ledger.fillWindow(scanned, complete, end);
  t.is(h.ledger.windowFrom, 20, 'stops at end, not at nextOffset');
  h.page();
  const got = h.receive(100);
  t.deepEqual(offsets(got), range(16, 25));
});

test('a window full by bytes is not asked to refill again and again', (t) => {
  // 400-byte messages in a 1000-byte window: two fit, the window is full with 2 of 16 messages.
  const h = new Harness({ ...BIG, windowMessages: 16, windowBytes: 1000 });
  h.append(records(10, 400));
  h.commit();
  t.is(h.ledger.summary()['window'], 2);
  t.is(h.ledger.summary()['windowBytes'], 800);
  if (h.ledger.needsWindow) {
    const end = h.disk.state.nextOffset;
    const { scanned, complete } = h.disk.scanWindow(h.ledger.windowFrom, end, h.ledger.windowWanted);
    h.ledger.fillWindow(scanned, complete, end);
    t.is(h.ledger.summary()['window'], 2, 'nothing fitted');
  }
  // A refill that can add nothing must not be requested: the machine's reader would rescan the disk
  // in a loop (each scan reading up to windowMessages bodies) while the window stays full by bytes.
  t.false(h.ledger.needsWindow, 'needsWindow is still true with a window full by bytes');
});

// ---- timers paging -------------------------------------------------------------------------------

test('with a tiny timer window, delayed messages are paged from disk and released in due order exactly once', (t) => {
  const h = new Harness({ ...BIG, timerWindow: 2 });
  h.timerPage = 3;
  h.page();
  // Deterministic pseudo-random dues, several sharing a due time, in batches.
  let x = 7;
  const rand = () => (x = (x * 1103515245 + 12345) % 2147483648) / 2147483648;
  const dueOf = new Map<string, number>();
  for (let batch = 0; batch < 6; batch++) {
    for (let i = 0; i < 5; i++) {
      const delay = 1 + Math.floor(rand() * 40) * 50;
      const [r] = records(1);
      if (!r) return t.fail();
      dueOf.set(r.id, h.now + delay);
      h.append([r], delay);
    }
    h.commit();
    h.page();
    h.advance(7);
  }
  t.is(h.ledger.counts().delayed + h.ledger.counts().visible, 30);

  const released: Array<{ id: string; at: number }> = [];
  const collect = (changes: Change[]) => {
    for (const c of changes) if (c.kind === 'putMessage') released.push({ id: c.record.id, at: h.now });
  };
  // The first batches' releases happened while appending.
  for (const b of h.disk.batches) for (const c of b) if (c.kind === 'putMessage') released.push({ id: c.record.id, at: dueOf.get(c.record.id) ?? -1 });
  for (let i = 0; i < 500 && released.length < 30; i++) collect(h.advance(10));

  t.is(released.length, 30, 'every delayed message released');
  t.is(new Set(released.map((r) => r.id)).size, 30, 'each exactly once');
  for (const r of released) {
    const due = dueOf.get(r.id) ?? Infinity;
    t.true(r.at >= due, `released at ${r.at} before its due ${due}`);
    t.true(r.at < due + 10 + 7, `released at ${r.at}, long after its due ${due}`);
  }
  const dues = released.map((r) => dueOf.get(r.id) ?? 0);
  t.deepEqual(dues, [...dues].sort((a, b) => a - b), 'released in due order');
  // Offsets follow the release order.
  const got: string[] = [];
  for (let d = h.receive(100); d.length > 0; d = h.receive(100)) got.push(...d.map((x) => h.idOf(x)));
  t.deepEqual(got, released.map((r) => r.id));
  t.is(h.disk.delayed.size, 0);
  t.deepEqual(h.ledger.counts(), { visible: 0, inflight: 30, delayed: 0 });
});

test('timers are loaded from disk after a restart and released when due', (t) => {
  const h = new Harness({ ...BIG, timerWindow: 2 });
  h.timerPage = 2;
  h.page();
  for (const delay of [500, 100, 300, 100, 900]) h.append(records(1), delay);
  h.commit();
  h.restart();
  t.true(h.ledger.needsTimers, 'a restarted ledger loads timers first');
  t.deepEqual(h.ledger.timersFrom, { due: 0, seq: 0 });
  h.page();
  t.is(h.ledger.counts().delayed, 5);
  h.advance(100);
  t.is(h.ledger.counts().visible, 2);
  h.advance(400);
  t.is(h.ledger.counts().visible, 4);
  h.advance(400);
  t.deepEqual(h.ledger.counts(), { visible: 5, inflight: 0, delayed: 0 });
});

// ---- retention -----------------------------------------------------------------------------------

test('receive drops messages past retention, from the window and on redelivery', (t) => {
  const h = new Harness();
  h.retentionMs = 10_000;
  h.append(records(1, 8, T0)); // 0: will be leased then expire
  h.append(records(1, 8, T0)); // 1: never received
  h.append(records(1, 8, T0 + 5000)); // 2: younger
  const [d] = h.receive(1, 1000);
  t.is(d?.offset, 0);
  h.commit();
  h.advanceTo(T0 + 10_000);
  const got = h.receive(10);
  t.deepEqual(offsets(got), [2]);
  const changes = h.commit();
  t.true(changes.some((c) => c.kind === 'delMessage' && c.offset === 0));
  t.true(changes.some((c) => c.kind === 'delDeliveries'));
  t.is(h.disk.groups.size, 1, 'only the group of the delivery of offset 2 is left');
  t.true(changes.some((c) => c.kind === 'delMessage' && c.offset === 1));
  t.deepEqual([...h.disk.messages.keys()], [2]);
  t.is(h.disk.state.stored, 1);
  t.deepEqual(h.ledger.counts(), { visible: 0, inflight: 1, delayed: 0 });
});

test('expire deletes what a head scan found past retention, in memory and on disk, whatever its state', (t) => {
  const h = new Harness({ ...BIG, windowMessages: 16 });
  h.retentionMs = 60_000;
  h.append(records(40, 8, T0));
  h.append(records(5, 8, T0 + 30_000));
  h.commit();
  const leased = h.receive(2, 1000); // 0, 1 in flight
  h.advanceTo(T0 + 1000); // their leases expired: in the retry queue
  h.receive(1, 100_000); // 0 in flight again
  t.deepEqual(offsets(leased), [0, 1]);
  h.commit();

  h.now = T0 + 60_001;
  const expired = h.disk.scanRetention(h.now - h.retentionMs, 256);
  t.deepEqual(expired, range(0, 40));
  t.is(h.ledger.expire(expired), 40);
  t.deepEqual(h.ledger.counts(), { visible: 5, inflight: 0, delayed: 0 });
  h.commit();
  t.deepEqual([...h.disk.messages.keys()], range(40, 45));
  t.is(h.disk.deliveries.size, 0);
  t.is(h.disk.state.stored, 5);

  // Paging later finds only the live messages.
  h.page();
  t.deepEqual(offsets(h.receive(100)), range(40, 45));
  // A second scan of the same (already deleted) offsets changes nothing.
  t.is(h.ledger.expire(range(0, 40)), 0);
  t.is(h.ledger.partitionState.stored, 5);
});

test('a window scan that read messages before their expiry committed does not bring them back', (t) => {
  const h = new Harness({ ...BIG, windowMessages: 16 });
  h.retentionMs = 60_000;
  h.append(records(30, 8, T0));
  h.append(records(10, 8, T0 + 30_000));
  h.commit();
  h.now = T0 + 60_001;
  // The expiry of 0..29 is decided but not yet durable when a window scan reads the disk.
  t.is(h.ledger.expire(h.disk.scanRetention(h.now - h.retentionMs, 256)), 30);
  const end = h.disk.state.nextOffset;
  const snapshot = h.disk.scanWindow(h.ledger.windowFrom, end, h.ledger.windowWanted);
  h.commit();
  h.ledger.fillWindow(snapshot.scanned, snapshot.complete, end);
  h.page();
  t.deepEqual(offsets(h.receive(100)), range(30, 40));
  t.is(h.ledger.partitionState.stored, 10);
});

test('expire of a message in flight after a restart deletes its delivery too', (t) => {
  // After a restart the window starts at the purge mark, so delivered messages lie at or past the
  // disk cursor. A head scan can name them before any window page did.
  const h = new Harness({ ...BIG, windowMessages: 16 });
  h.retentionMs = 60_000;
  h.append(records(2, 8, T0));
  h.receive(1, 120_000); // offset 0, lease until T0 + 120 s
  h.commit();
  h.now = T0 + 60_001;
  h.restart();
  t.deepEqual(h.ledger.counts(), { visible: 1, inflight: 1, delayed: 0 });

  t.is(h.ledger.expire(h.disk.scanRetention(h.now - h.retentionMs, 256)), 2);
  const changes = h.commit();
  t.true(changes.some((c) => c.kind === 'delDeliveries'), 'the delivery record of an expired message is not left behind');
  t.is(h.disk.groups.size, 0);
  t.is(h.disk.state.stored, 0);
  t.deepEqual(h.ledger.counts(), { visible: 0, inflight: 0, delayed: 0 });
  // Its lease expires: nothing may be redelivered, and stored must not go below zero.
  h.advanceTo(T0 + 130_000);
  t.deepEqual(h.receive(10), []);
  h.commit();
  t.true(h.disk.state.stored >= 0);
});

// ---- purge ---------------------------------------------------------------------------------------

test('purge forgets every message and moves the purge marks', (t) => {
  const h = new Harness({ ...BIG, windowMessages: 16 });
  h.page();
  h.append(records(30));
  h.append(records(2), 5000);
  h.commit();
  const leased = h.receive(3);
  h.commit();
  t.is(h.ledger.purge(), 32);
  t.deepEqual(h.ledger.counts(), { visible: 0, inflight: 0, delayed: 0 });
  const changes = h.commit();
  const last = changes.at(-1);
  t.is(last?.kind, 'putState');
  if (last?.kind === 'putState') {
    t.is(last.state.purgedOffset, 30);
    t.is(last.state.nextOffset, 30);
    t.is(last.state.purgedDelayedSeq, 2);
    t.is(last.state.stored, 0);
    t.is(last.state.delayed, 0);
  }
  t.deepEqual(h.receive(10), []);
  for (const d of leased) t.is(h.ledger.remove(d.offset, d.delivery.seq), 'stale');
  h.advance(10_000);
  t.deepEqual(h.receive(10), [], 'no delayed message released after a purge');

  // After a restart the purged keys still on disk stay forgotten.
  h.restart();
  h.page();
  h.advance(0);
  t.deepEqual(h.ledger.counts(), { visible: 0, inflight: 0, delayed: 0 });
  t.deepEqual(h.receive(10), []);
  t.is(h.ledger.expire(range(0, 30)), 0, 'purged offsets named by a head scan are skipped');

  // New messages continue after the mark.
  h.append(records(1));
  t.deepEqual(offsets(h.receive(10)), [30]);
});

test('the keys of purged messages, deliveries and delays are removed by later scans', (t) => {
  const h = new Harness();
  h.page();
  h.append(records(5));
  h.receive(2);
  h.append(records(3), 5000);
  h.commit();
  t.false(h.ledger.hasPurgedKeys);
  t.is(h.ledger.purge(), 8);
  h.append(records(1)); // offset 5: live, must survive the clean-up
  h.commit();
  t.true(h.ledger.hasPurgedKeys);
  t.is(h.disk.messages.size, 6, 'the purge itself writes only the marks');

  // The timers are read again from the start; the purged delayed messages found are deleted.
  t.true(h.ledger.needsTimers);
  h.page();
  h.commit();
  t.is(h.disk.delayed.size, 0);

  // The purged-keys scan runs in pages: hasPurgedKeys stays false until the deletions are taken.
  const end = h.ledger.partitionState.purgedOffset;
  for (let i = 0; i < 10 && h.ledger.hasPurgedKeys; i++) {
    const { messages, complete } = h.disk.scanPurged(end, 2);
    h.ledger.forgetPurged([...messages, 5], complete);
    if (!complete) t.false(h.ledger.hasPurgedKeys, 'no second scan before the deletions are written');
    h.commit();
  }
  t.false(h.ledger.hasPurgedKeys);
  t.deepEqual([...h.disk.messages.keys()], [5]);
  t.is(h.disk.deliveries.size, 0);
  t.deepEqual(h.ledger.counts(), { visible: 1, inflight: 0, delayed: 0 });
  t.is(h.disk.state.stored, 1);

  // A restarted ledger with purge marks looks for leftovers once.
  h.restart();
  t.true(h.ledger.hasPurgedKeys);
  h.ledger.forgetPurged([], true);
  t.false(h.ledger.hasPurgedKeys);
});

test('a retention scan starts at the lowest stored message, past the keys of deleted ones', (t) => {
  const h = new Harness({ ...BIG, windowMessages: 16 });
  h.append(records(40));
  h.commit();
  t.is(h.ledger.retentionStart, 0);
  const ds = h.receive(10);
  for (const d of ds.slice(0, 6)) h.ledger.remove(d.offset, d.delivery.seq);
  h.commit();
  t.is(h.ledger.retentionStart, 6, 'offsets 0 to 5 are deleted; 6 is in flight');
  for (const d of ds.slice(6)) h.ledger.remove(d.offset, d.delivery.seq);
  t.is(h.ledger.retentionStart, 10, 'the window starts at 10');
  h.page();
  for (const d of h.receive(30)) h.ledger.remove(d.offset, d.delivery.seq);
  h.commit();
  t.is(h.ledger.retentionStart, 26, 'the window held 16: the rest is on disk from 26 on');
  h.page();
  for (const d of h.receive(30)) h.ledger.remove(d.offset, d.delivery.seq);
  h.commit();
  t.is(h.ledger.retentionStart, 40, 'everything is deleted: nothing to scan below the next offset');
});

// ---- delivery groups -----------------------------------------------------------------------------

test('the deliveries of one batch are stored as one group, which goes once none of its records is current', (t) => {
  const h = new Harness();
  h.append(records(10));
  h.commit();
  const ds = h.receive(10);
  const changes = h.commit();
  const puts = changes.filter((c) => c.kind === 'putDeliveries');
  t.is(puts.length, 1);
  t.deepEqual(puts[0]?.kind === 'putDeliveries' ? puts[0].group.entries.map(([o]) => o) : [], range(0, 10));
  t.is(h.disk.groups.size, 1);

  // Deleting some leaves the group: their records there are no longer current, and a load skips them.
  for (const d of ds.slice(0, 5)) t.is(h.ledger.remove(d.offset, d.delivery.seq), 'ok');
  t.false(h.commit().some((c) => c.kind === 'delDeliveries' || c.kind === 'putDeliveries'), 'nothing rewritten');
  t.deepEqual([...h.disk.deliveries.keys()], range(5, 10));
  h.restart();
  t.deepEqual(h.ledger.counts(), { visible: 0, inflight: 5, delayed: 0 });

  // The last one deleted takes the group with it.
  for (const d of ds.slice(5)) t.is(h.ledger.remove(d.offset, d.delivery.seq), 'ok');
  t.true(h.commit().some((c) => c.kind === 'delDeliveries'));
  t.is(h.disk.groups.size, 0);
});

test('a redelivery or a visibility change moves the record to a newer group; a load takes the newest', (t) => {
  const h = new Harness();
  h.append(records(3));
  const [a, b] = h.receive(2, 1000);
  h.commit();
  if (!a || !b) return t.fail();
  h.advanceTo(T0 + 1000); // both requeued
  const [a2] = h.receive(1, 5000);
  t.is(a2?.offset, a.offset);
  h.commit();
  t.is(h.disk.groups.size, 2, 'the old group still holds the current record of b');
  t.is(h.disk.deliveries.get(a.offset)?.seq, a2?.delivery.seq);
  t.is(h.ledger.changeVisibility(a.offset, a2?.delivery.seq ?? -1, 9000, h.now), 'ok');
  h.commit();
  h.restart();
  t.is(h.disk.deliveries.get(a.offset)?.deadline, h.now + 9000);
  t.deepEqual(h.ledger.counts(), { visible: 2, inflight: 1, delayed: 0 });
  h.advance(8999);
  t.deepEqual(offsets(h.receive(10, 1000)), [b.offset, 2], 'a is still leased after the reload');
});

test('a group whose records are mostly stale is rewritten: stored records stay within a few times the current ones', (t) => {
  const h = new Harness();
  h.append(records(40));
  h.commit();
  const ds = h.receive(40);
  h.commit();
  const [group] = [...h.disk.groups.keys()];
  for (const d of ds.slice(0, 29)) h.ledger.remove(d.offset, d.delivery.seq);
  t.is(h.disk.groups.size, 1);
  h.commit();
  t.is(h.disk.groups.size, 1, '11 of 40 current: kept');
  h.ledger.remove(ds[29]?.offset ?? -1, ds[29]?.delivery.seq ?? -1);
  const changes = h.commit();
  t.true(changes.some((c) => c.kind === 'delDeliveries' && c.id === group));
  const rewritten = changes.find((c) => c.kind === 'putDeliveries');
  t.deepEqual(rewritten?.kind === 'putDeliveries' ? rewritten.group.entries.map(([o]) => o) : [], range(30, 40), 'the 10 current records, unchanged');
  h.restart();
  t.deepEqual(h.ledger.counts(), { visible: 0, inflight: 10, delayed: 0 });
  for (const d of ds.slice(30)) t.is(h.ledger.remove(d.offset, d.delivery.seq), 'ok');
  h.commit();
  t.is(h.disk.groups.size, 0);
});

test('a purge deletes every delivery group; a load deletes groups left with nothing current', (t) => {
  const h = new Harness();
  h.append(records(4));
  h.receive(2);
  h.commit();
  h.receive(2);
  h.commit();
  t.is(h.disk.groups.size, 2);
  h.ledger.purge();
  h.commit();
  t.is(h.disk.groups.size, 0);

  // A group whose messages are gone (deleted by a scan after a purge, say) is dropped at the next load.
  h.append(records(1));
  h.receive(1);
  h.commit();
  const offset = [...h.disk.deliveries.keys()][0] ?? -1;
  h.disk.messages.delete(offset);
  h.restart();
  h.commit();
  t.is(h.disk.groups.size, 0);
});

// ---- restart -------------------------------------------------------------------------------------

test('after a restart, in-flight leases survive with their counts and ready messages are paged in', (t) => {
  const h = new Harness({ ...BIG, windowMessages: 16 });
  h.append(records(30));
  h.commit();
  const first = h.receive(5, 1000); // 0..4, count 1, deadline T0 + 1000
  h.advanceTo(T0 + 1000); // all five requeued
  const second = h.receive(2, 10_000); // 0, 1 again: count 2, deadline T0 + 11000
  t.deepEqual(offsets(second), [0, 1]);
  const d2 = first[2];
  if (!d2) return t.fail();
  t.is(h.ledger.remove(2, h.disk.deliveries.get(2)?.seq ?? d2.delivery.seq), 'ok');
  h.commit();
  // Uncommitted work is lost in the crash.
  h.append(records(3));

  h.now = T0 + 1500;
  h.restart();
  const seqAtRestart = h.disk.state.nextSeq;
  t.deepEqual(h.ledger.counts(), { visible: 29 - 2, inflight: 2, delayed: 0 });
  t.is(h.ledger.partitionState.nextOffset, 30);
  h.page();

  // The expired ones (3, 4) come first, then never-delivered messages from the disk.
  const got: Delivery[] = [];
  for (let more = h.receive(100, 100_000); more.length > 0; more = h.receive(100, 100_000)) {
    got.push(...more);
    h.page();
  }
  t.deepEqual(offsets(got), [3, 4, ...range(5, 30)]);
  t.deepEqual(
    got.slice(0, 2).map((d) => d.delivery.count),
    [2, 2],
  );
  t.true(got.slice(2).every((d) => d.delivery.count === 1));
  t.true(got.every((d) => d.delivery.seq >= seqAtRestart), 'sequences continue, never reused');

  // The live leases of 0 and 1 are honoured until their deadline, then redelivered with count 3.
  h.advanceTo(T0 + 10_999);
  t.deepEqual(h.receive(100).filter((d) => d.offset < 2), []);
  h.advanceTo(T0 + 11_000);
  const third = h.receive(2);
  t.deepEqual(offsets(third), [0, 1]);
  t.deepEqual(
    third.map((d) => d.delivery.count),
    [3, 3],
  );
});

test('a window page racing a delete of a delivered message does not resurrect it', (t) => {
  // After a restart, delivered messages sit at or past the disk cursor; a window scan that read the
  // disk before a delete was durable must not put the deleted message back into the window.
  const h = new Harness({ ...BIG, windowMessages: 16 });
  h.append(records(3));
  const [d] = h.receive(1, 60_000);
  if (!d) return t.fail();
  h.commit();
  h.restart();

  const end = h.disk.state.nextOffset;
  const snapshot = h.disk.scanWindow(h.ledger.windowFrom, end, h.ledger.windowWanted); // reader starts
  t.is(h.ledger.remove(d.offset, d.delivery.seq), 'ok'); // writer deletes meanwhile
  h.commit();
  h.ledger.fillWindow(snapshot.scanned, snapshot.complete, end); // the scan lands
  const got = h.receive(10);
  t.false(offsets(got).includes(d.offset), 'the deleted message was delivered again');
  t.is(h.ledger.partitionState.stored, 2);
});

// ---- a model-based property ----------------------------------------------------------------------

interface ModelMessage {
  id: string;
  due: number;
  delayed: boolean;
  released: boolean;
  deleted: boolean;
  count: number;
  seqs: number[];
  deadline: number;
}

type Op =
  | { kind: 'append'; n: number; delayMs: number }
  | { kind: 'receive'; max: number; visibilityMs: number }
  | { kind: 'remove'; pick: number; stale: boolean }
  | { kind: 'changeVisibility'; pick: number; stale: boolean; visibilityMs: number }
  | { kind: 'advance'; ms: number }
  | { kind: 'restart' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('append' as const),
      n: fc.integer({ min: 1, max: 5 }),
      delayMs: fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 1, max: 3000 })),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('receive' as const),
      max: fc.integer({ min: 1, max: 6 }),
      visibilityMs: fc.oneof(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 3000 })),
    }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('remove' as const), pick: fc.nat(), stale: fc.boolean() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('changeVisibility' as const),
      pick: fc.nat(),
      stale: fc.boolean(),
      visibilityMs: fc.integer({ min: 1, max: 3000 }),
    }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 2000 }) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'restart' as const }) },
);

const limitsArb: fc.Arbitrary<LedgerLimits> = fc.record({
  windowMessages: fc.integer({ min: 2, max: 12 }),
  windowBytes: fc.constant(1 << 30),
  maxInflight: fc.integer({ min: 1, max: 15 }),
  timerWindow: fc.integer({ min: 1, max: 4 }),
});

test('model: random appends, receives, removes, visibility changes, time and restarts', (t) => {
  fc.assert(
    fc.property(limitsArb, fc.integer({ min: 1, max: 5 }), fc.array(opArb, { maxLength: 80 }), (limits, timerPage, ops) => {
      const h = new Harness(limits);
      h.timerPage = timerPage;
      const model = new Map<string, ModelMessage>();
      const byOffset = new Map<number, string>();
      let maxSeq = 0;
      const fail = (why: string): never => {
        throw new Error(why);
      };

      /** Reads the offsets given to messages, and checks no release before its due time. */
      const learn = (changes: readonly Change[]) => {
        for (const c of changes) {
          if (c.kind !== 'putMessage') continue;
          byOffset.set(c.offset, c.record.id);
          const m = model.get(c.record.id) ?? fail(`unknown message ${c.record.id}`);
          if (m.released) fail(`${m.id} released twice`);
          if (m.delayed && h.now < m.due) fail(`${m.id} released at ${h.now}, due ${m.due}`);
          m.released = true;
        }
      };
      const settle = () => learn(h.advanceTo(h.now));

      const ready = () =>
        [...byOffset.entries()]
          .sort((a, b) => a[0] - b[0])
          .filter(([, id]) => {
            const m = model.get(id);
            return m !== undefined && m.released && !m.deleted && (m.count === 0 || m.deadline <= h.now);
          })
          .map(([offset]) => offset);

      const checkCounts = () => {
        const all = [...model.values()];
        const delayed = all.filter((m) => !m.released && !m.deleted).length;
        const inflight = all.filter((m) => m.released && !m.deleted && m.count > 0 && m.deadline > h.now).length;
        const stored = all.filter((m) => m.released && !m.deleted).length;
        const counts = h.ledger.counts();
        if (counts.delayed !== delayed || counts.inflight !== inflight || counts.visible !== stored - inflight) {
          fail(`counts ${JSON.stringify(counts)}, model ${JSON.stringify({ visible: stored - inflight, inflight, delayed })}`);
        }
        for (const m of all) if (m.delayed && !m.released && m.due <= h.now) fail(`${m.id} due ${m.due} not released at ${h.now}`);
      };

      const deliveredOnes = () => [...model.values()].filter((m) => m.seqs.length > 0);
      const handleFor = (pick: number, stale: boolean) => {
        const candidates = deliveredOnes();
        const m = candidates[pick % candidates.length];
        if (!m) return undefined;
        const offset = [...byOffset.entries()].find(([, id]) => id === m.id)?.[0] ?? fail('no offset');
        const latest = m.seqs.at(-1) ?? 0;
        const seq = stale ? (m.seqs.length > 1 ? (m.seqs[0] ?? 0) : latest + 100_000) : latest;
        return { m, offset, seq, current: !m.deleted && seq === latest };
      };

      const doReceive = (max: number, visibilityMs: number): Delivery[] => {
        const expected = ready();
        const got = h.receive(max, visibilityMs);
        if (got.length > max) fail('more than max delivered');
        const gotOffsets = offsets(got);
        if (gotOffsets.join() !== expected.slice(0, got.length).join()) {
          fail(`delivered ${gotOffsets.join()} but the lowest ready offsets are ${expected.join()}`);
        }
        const inflightNow = [...model.values()].filter((m) => !m.deleted && m.count > 0).length;
        const retryable = expected.some((o) => (model.get(byOffset.get(o) ?? '')?.count ?? 0) > 0);
        if (got.length === 0 && expected.length > 0 && (inflightNow < limits.maxInflight || retryable)) {
          fail(`nothing delivered though ${expected.join()} are ready`);
        }
        for (const d of got) {
          const id = byOffset.get(d.offset) ?? fail(`offset ${d.offset} unknown`);
          if (d.record && d.record.id !== id) fail('wrong body');
          if (!d.record && h.disk.messages.get(d.offset)?.id !== id) fail('body not on disk');
          const m = model.get(id) ?? fail('unknown');
          if (d.delivery.count !== m.count + 1) fail(`count ${d.delivery.count}, expected ${m.count + 1}`);
          if (d.delivery.seq <= maxSeq) fail('seq not increasing');
          if (d.delivery.deadline !== h.now + visibilityMs) fail('deadline');
          maxSeq = d.delivery.seq;
          m.count++;
          m.seqs.push(d.delivery.seq);
          m.deadline = d.delivery.deadline;
        }
        return got;
      };

      settle();
      for (const op of ops) {
        switch (op.kind) {
          case 'append': {
            const rs = records(op.n);
            for (const r of rs) {
              model.set(r.id, {
                id: r.id,
                due: h.now + op.delayMs,
                delayed: op.delayMs > 0,
                released: false,
                deleted: false,
                count: 0,
                seqs: [],
                deadline: 0,
              });
            }
            h.append(rs, op.delayMs);
            break;
          }
          case 'receive':
            doReceive(op.max, op.visibilityMs);
            break;
          case 'remove': {
            const handle = handleFor(op.pick, op.stale);
            if (!handle) break;
            const result = h.ledger.remove(handle.offset, handle.seq);
            if (result !== (handle.current ? 'ok' : 'stale')) fail(`remove: ${result}, expected ${handle.current ? 'ok' : 'stale'}`);
            if (result === 'ok') handle.m.deleted = true;
            break;
          }
          case 'changeVisibility': {
            const handle = handleFor(op.pick, op.stale);
            if (!handle) break;
            const result = h.ledger.changeVisibility(handle.offset, handle.seq, op.visibilityMs, h.now);
            const expected = !handle.current ? 'stale' : handle.m.deadline <= h.now ? 'not_in_flight' : 'ok';
            if (result !== expected) fail(`changeVisibility: ${result}, expected ${expected}`);
            if (result === 'ok') handle.m.deadline = h.now + op.visibilityMs;
            break;
          }
          case 'advance':
            h.now += op.ms;
            break;
          case 'restart':
            h.commit();
            h.restart();
            break;
        }
        settle();
        checkCounts();
        const start = h.ledger.retentionStart;
        for (const o of h.disk.messages.keys()) {
          if (o >= h.disk.state.purgedOffset && o < start) fail(`offset ${o} is stored below the retention scan start ${start}`);
        }
        const stored = [...h.disk.groups.values()].reduce((n, g) => n + g.entries.length, 0);
        if (stored > 8 * h.disk.deliveries.size) fail(`${stored} delivery records stored for ${h.disk.deliveries.size} current ones`);
      }

      // Liveness: once time passes, repeated receives deliver every message not deleted, once each.
      h.now += 1_000_000;
      settle();
      checkCounts();
      const drained: string[] = [];
      for (let i = 0; i < 10_000; i++) {
        const got = doReceive(7, 1e9);
        if (got.length === 0) break;
        for (const d of got) {
          const id = byOffset.get(d.offset) ?? fail('unknown offset');
          drained.push(id);
          if (h.ledger.remove(d.offset, d.delivery.seq) !== 'ok') fail('remove of a fresh delivery failed');
          const m = model.get(id);
          if (m) m.deleted = true;
        }
        settle();
      }
      if (new Set(drained).size !== drained.length) fail('a message was delivered twice in the drain');
      const left = [...model.values()].filter((m) => !m.deleted);
      if (left.length > 0) fail(`never delivered: ${left.map((m) => m.id).join()}`);
      h.commit();
      if (h.disk.messages.size !== 0 || h.disk.groups.size !== 0 || h.disk.delayed.size !== 0) fail('the disk is not empty');
      if (h.disk.state.stored !== 0 || h.disk.state.delayed !== 0) fail(`state ${JSON.stringify(h.disk.state)}`);
    }),
    { numRuns: 500 },
  );
  t.pass();
});

test('deduplication ids: a repeat in the window answers the first message id and stores nothing; one record per send; forgotten after the window, also after a reload', async (t) => {
  const { DEDUP_WINDOW_MS } = await import('../../actors/partition/ledger.ts');
  const disk = new MemDisk();
  const ledger = new Ledger(disk.load(), BIG, T0);
  const a = message(T0);
  const b = message(T0);
  t.deepEqual(ledger.append([{ record: a, delayMs: 0, dedupId: 'x' }, { record: b, delayMs: 0, dedupId: 'y' }], T0), [a.id, b.id]);
  const first = ledger.takeChanges();
  t.is(first.filter((c) => c.kind === 'putDedups').length, 1, 'one record for the whole send');
  disk.apply(first);

  const again = new Ledger(disk.load(), BIG, T0 + 1000);
  const c = message(T0);
  t.deepEqual(again.append([{ record: c, delayMs: 0, dedupId: 'x' }], T0 + 1000), [a.id], 'remembered across a reload');
  t.false(again.takeChanges().some((ch) => ch.kind === 'putMessage'), 'the duplicate stores nothing');

  again.tick(T0 + DEDUP_WINDOW_MS, FOREVER);
  const expired = again.takeChanges();
  t.true(expired.some((ch) => ch.kind === 'delDedups'), 'the group is deleted when its window ends');
  disk.apply(expired);
  const d = message(T0);
  t.deepEqual(again.append([{ record: d, delayMs: 0, dedupId: 'x' }], T0 + DEDUP_WINDOW_MS), [d.id], 'a new message after the window');
  t.is(new Ledger(disk.load(), BIG, T0 + DEDUP_WINDOW_MS).counts().visible, 2);
});
