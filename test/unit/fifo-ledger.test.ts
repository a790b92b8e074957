/**
 * FIFO partitions (actors/partition/ledger.ts with fifo-groups.ts) over a simulated disk and clock:
 * random interleavings of sends, receives, deletes, failures (visibility 0), lease timeouts, window
 * paging and restarts (a new ledger from what was committed) never deliver a group out of order,
 * never lose a message, and remember deduplication ids for the queue's window.
 */
import test from 'ava';
import fc from 'fast-check';
import { Ledger, type Delivery, type LedgerLimits, type LedgerSettings } from '../../actors/partition/ledger.ts';
import type { MessageRecord } from '../../actors/partition/records.ts';
import { MemDisk } from './partition-fakes.ts';

const T0 = 1_700_000_000_000;
const FOREVER = 1e13;
const WINDOW_MS = 60_000;
const SETTINGS: LedgerSettings = { fifo: true, dedupWindowMs: WINDOW_MS };

class FifoHarness {
  readonly disk = new MemDisk();
  ledger: Ledger;
  now = T0;
  private nextId = 0;
  settings: LedgerSettings = { ...SETTINGS };

  readonly limits: LedgerLimits;

  constructor(limits: LedgerLimits) {
    this.limits = limits;
    this.ledger = new Ledger(this.disk.load(), { ...limits }, this.now, this.settings);
  }

  /** A new deduplication window, as the partition machine's `configure` (a reload keeps it). */
  configure(dedupWindowMs: number): void {
    this.settings = { ...this.settings, dedupWindowMs };
    this.ledger.configure({ dedupWindowMs });
  }

  commit(): void {
    this.disk.apply(this.ledger.takeChanges());
  }

  /** Commits, then pages the window in until the ledger wants nothing more (as the partition machine does). */
  page(): void {
    this.commit();
    for (let i = 0; ; i++) {
      if (i > 10_000) throw new Error('paging makes no progress');
      if (this.ledger.needsTimers) {
        const { scanned, complete } = this.disk.scanTimers(this.ledger.timersFrom, 4096);
        this.ledger.fillTimers(scanned, complete);
        continue;
      }
      const end = this.disk.state.nextOffset;
      if (!this.ledger.needsWindow) break;
      const from = this.ledger.windowFrom;
      if (from >= end) break;
      const { scanned, complete } = this.disk.scanWindow(from, end, this.ledger.windowWanted);
      this.ledger.fillWindow(scanned, complete, end);
    }
    this.commit();
  }

  record(group: string, size = 8): MessageRecord {
    return { id: `m${this.nextId++}`, body: new Uint8Array(size), sentAt: this.now, group };
  }

  advance(ms: number): void {
    this.now += ms;
    this.ledger.tick(this.now, FOREVER);
    this.page();
  }

  restart(): void {
    this.commit();
    this.ledger = new Ledger(this.disk.load(), { ...this.limits }, this.now, this.settings);
    this.page();
  }

  receive(max: number, visibilityMs: number, maxBytes = Infinity): Delivery[] {
    const out = this.ledger.receive(max, maxBytes, visibilityMs, this.now, FOREVER);
    this.page();
    return out;
  }

  groupOfDelivery(d: Delivery): string {
    return d.delivery.group ?? '';
  }

  idOf(d: Delivery): string {
    const record = d.record ?? this.disk.messages.get(d.offset);
    if (!record) throw new Error(`no body for offset ${d.offset}`);
    return record.id;
  }
}

type Op =
  | { kind: 'send'; groups: string[]; dedup: Array<string | undefined>; delays: number[] }
  | { kind: 'receive'; max: number; visibilityMs: number }
  | { kind: 'delete'; pick: number }
  | { kind: 'fail'; pick: number }
  | { kind: 'advance'; ms: number }
  | { kind: 'restart' };

const GROUPS = ['a', 'b', 'c', 'd', 'e'];
const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .array(
        fc.tuple(fc.constantFrom(...GROUPS), fc.option(fc.constantFrom('x', 'y', 'z', 'w'), { nil: undefined }), fc.constantFrom(0, 0, 0, 1000, 5000, 60_000)),
        { minLength: 1, maxLength: 6 },
      )
      .map((pairs): Op => ({ kind: 'send', groups: pairs.map((p) => p[0]), dedup: pairs.map((p) => p[1]), delays: pairs.map((p) => p[2]) })),
  },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('receive' as const), max: fc.integer({ min: 1, max: 4 }), visibilityMs: fc.constantFrom(1000, 5000, 30_000) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('delete' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('fail' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.constantFrom(500, 2000, 10_000, 70_000) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'restart' } as Op) },
);
const limits = fc.record({
  windowMessages: fc.integer({ min: 1, max: 6 }),
  windowBytes: fc.constantFrom(1 << 30, 20),
  maxInflight: fc.constantFrom(3, 100),
  timerWindow: fc.constant(100),
});

interface Sent {
  id: string;
  group: string;
  deleted: boolean;
  /** Not deliverable before this (its per-message delay). */
  due: number;
}

test('random sends (some delayed), receives, deletes, failures, timeouts and restarts never deliver a group out of order nor early, and lose nothing', (t) => {
  fc.assert(
    fc.property(limits, fc.array(op, { maxLength: 60 }), (lim, ops) => {
      const h = new FifoHarness(lim);
      /** Every message stored, by id, in send order per group. */
      const sent = new Map<string, Sent>();
      const byGroup = new Map<string, Sent[]>();
      /** The current delivery of each message: its handle and lease. */
      const current = new Map<string, { offset: number; seq: number; deadline: number }>();
      /** Deduplication ids in their window: the message id each stands for. */
      const dedups = new Map<string, { id: string; expires: number }>();
      const fail = (why: string) => {
        throw new Error(why);
      };

      const check = (ds: Delivery[]) => {
        const thisReceive = new Set<string>();
        for (const d of ds) {
          const id = h.idOf(d);
          const m = sent.get(id) ?? fail(`unknown message ${id}`);
          if (m.deleted) fail(`${id} delivered after its delete`);
          if (h.groupOfDelivery(d) !== m.group) fail(`${id} delivered as group ${h.groupOfDelivery(d)}`);
          if (m.due > h.now) fail(`${id} delivered ${m.due - h.now} ms before its delay ends`);
          // (a) no other message of its group is in flight from an earlier receive.
          for (const other of byGroup.get(m.group) ?? []) {
            const lease = current.get(other.id);
            if (other.id !== id && !other.deleted && !thisReceive.has(other.id) && lease && lease.deadline > h.now) {
              fail(`${id} of group ${m.group} delivered while ${other.id} is in flight`);
            }
          }
          // (b) every earlier message of its group is deleted or came before it in this receive.
          for (const other of byGroup.get(m.group) ?? []) {
            if (other.id === id) break;
            if (!other.deleted && !thisReceive.has(other.id)) fail(`${id} of group ${m.group} delivered before ${other.id}`);
          }
          thisReceive.add(id);
          current.set(id, { offset: d.offset, seq: d.delivery.seq, deadline: d.delivery.deadline });
        }
      };

      const live = () => [...current.entries()].filter(([id, l]) => !(sent.get(id) as Sent).deleted && l.deadline > h.now);

      for (const o of ops) {
        switch (o.kind) {
          case 'send': {
            for (const [k, v] of dedups) if (v.expires <= h.now) dedups.delete(k);
            const records = o.groups.map((g) => h.record(g));
            const answered = h.ledger.append(
              records.map((record, i) => {
                const dedupId = o.dedup[i];
                const delayMs = o.delays[i] ?? 0;
                return dedupId === undefined ? { record, delayMs } : { record, delayMs, dedupId };
              }),
              h.now,
            );
            records.forEach((record, i) => {
              const dedupId = o.dedup[i];
              const seen = dedupId === undefined ? undefined : dedups.get(dedupId);
              if (seen !== undefined) {
                if (answered[i] !== seen.id) fail(`dedup id ${dedupId} answered ${answered[i]}, not ${seen.id}`);
                return;
              }
              if (answered[i] !== record.id) fail(`a new message answered ${answered[i]}`);
              if (dedupId !== undefined) dedups.set(dedupId, { id: record.id, expires: h.now + WINDOW_MS });
              const m: Sent = { id: record.id, group: record.group as string, deleted: false, due: h.now + (o.delays[i] ?? 0) };
              sent.set(m.id, m);
              byGroup.set(m.group, [...(byGroup.get(m.group) ?? []), m]);
            });
            h.page();
            break;
          }
          case 'receive':
            check(h.receive(o.max, o.visibilityMs));
            break;
          case 'delete': {
            const all = [...current.entries()].filter(([id]) => !(sent.get(id) as Sent).deleted);
            const pick = all[o.pick % Math.max(1, all.length)];
            if (pick === undefined) break;
            const [id, lease] = pick;
            const result = h.ledger.remove(lease.offset, lease.seq);
            if (result === 'ok') (sent.get(id) as Sent).deleted = true;
            h.page();
            break;
          }
          case 'fail': {
            // A consumer gives up: visibility 0, the message is due again at the next tick.
            const pick = live()[o.pick % Math.max(1, live().length)];
            if (pick === undefined) break;
            const [id, lease] = pick;
            if (h.ledger.changeVisibility(lease.offset, lease.seq, 0, h.now) === 'ok') current.set(id, { ...lease, deadline: h.now });
            h.advance(0);
            break;
          }
          case 'advance':
            h.advance(o.ms);
            break;
          case 'restart':
            h.restart();
            break;
        }
      }

      // Drain: every message is delivered in the end, in order, whatever was held or paged out.
      for (let round = 0; ; round++) {
        if (round > 2000) fail('the drain makes no progress');
        h.advance(60_000);
        const ds = h.receive(3, 30_000);
        check(ds);
        if (ds.length === 0) break;
        for (const d of ds) {
          if (h.ledger.remove(d.offset, d.delivery.seq) !== 'ok') fail('a fresh delivery could not be deleted');
          (sent.get(h.idOf(d)) as Sent).deleted = true;
        }
        h.page();
      }
      const left = [...sent.values()].filter((m) => !m.deleted);
      if (left.length > 0) fail(`never delivered: ${left.map((m) => `${m.id}(${m.group})`).join()}`);
      h.commit();
      if (h.disk.messages.size !== 0) fail(`${h.disk.messages.size} messages left on disk`);
    }),
    { numRuns: 400 },
  );
  t.pass();
});

test('a window full of a held group does not stop other groups further on disk', (t) => {
  const h = new FifoHarness({ windowMessages: 4, windowBytes: 1 << 30, maxInflight: 1000, timerWindow: 100 });
  h.ledger.append(Array.from({ length: 50 }, () => ({ record: h.record('held'), delayMs: 0 })), h.now);
  h.ledger.append(Array.from({ length: 3 }, () => ({ record: h.record('other'), delayMs: 0 })), h.now);
  h.page();
  const first = h.receive(1, 30_000);
  t.is(first.length, 1);
  t.is(first[0]?.delivery.group, 'held');
  // 'held' is in flight; its 49 other messages fill the window and the disk before 'other''s.
  const next = h.receive(10, 30_000);
  t.deepEqual(
    next.map((d) => d.delivery.group),
    ['other', 'other', 'other'],
  );
  const summary = h.ledger.summary();
  t.true((summary['window'] ?? 0) <= 4, 'the window stays within its limit');
  // Once 'held' is free, its messages come back from disk in order.
  t.is(h.ledger.remove((first[0] as Delivery).offset, (first[0] as Delivery).delivery.seq), 'ok');
  for (const d of next) h.ledger.remove(d.offset, d.delivery.seq);
  h.page();
  const ids: string[] = [];
  for (let i = 0; i < 100; i++) {
    const ds = h.receive(4, 30_000);
    if (ds.length === 0) break;
    for (const d of ds) {
      ids.push(h.idOf(d));
      h.ledger.remove(d.offset, d.delivery.seq);
    }
    h.page();
  }
  t.deepEqual(ids, Array.from({ length: 49 }, (_, i) => `m${i + 1}`));
});

test('a FIFO group waits for its message in flight, across a restart; a lease that ends delivers the same message first', (t) => {
  const h = new FifoHarness({ windowMessages: 100, windowBytes: 1 << 30, maxInflight: 1000, timerWindow: 100 });
  h.ledger.append([h.record('g'), h.record('g'), h.record('h')].map((record) => ({ record, delayMs: 0 })), h.now);
  h.page();
  const [a] = h.receive(1, 10_000);
  t.is(a && h.idOf(a), 'm0');
  h.restart();
  t.deepEqual(h.receive(5, 60_000).map((d) => h.idOf(d)), ['m2'], 'g is held after the restart; h proceeds');
  h.advance(10_000);
  const again = h.receive(5, 10_000);
  t.deepEqual(again.map((d) => h.idOf(d)), ['m0', 'm1'], 'the expired message first, then the next of its group');
  t.is(again[0]?.delivery.count, 2);
});

test('deduplication ids are remembered for the configured window, also across a reload', (t) => {
  const h = new FifoHarness({ windowMessages: 100, windowBytes: 1 << 30, maxInflight: 1000, timerWindow: 100 });
  const first = h.record('g');
  t.deepEqual(h.ledger.append([{ record: first, delayMs: 0, dedupId: 'k' }], h.now), [first.id]);
  h.page();
  h.advance(WINDOW_MS - 1);
  h.restart();
  t.deepEqual(h.ledger.append([{ record: h.record('g'), delayMs: 0, dedupId: 'k' }], h.now), [first.id], 'within the window');
  h.advance(1);
  const later = h.record('g');
  t.deepEqual(h.ledger.append([{ record: later, delayMs: 0, dedupId: 'k' }], h.now), [later.id], 'after the window');
  h.configure(3_600_000);
  const longer = h.record('g');
  t.deepEqual(h.ledger.append([{ record: longer, delayMs: 0, dedupId: 'k2' }], h.now), [longer.id]);
  h.page();
  h.advance(30 * 60_000);
  h.restart();
  t.deepEqual(h.ledger.append([{ record: h.record('g'), delayMs: 0, dedupId: 'k2' }], h.now), [longer.id], 'a longer window set later applies to later sends');
  h.advance(WINDOW_MS);
  const fresh = h.record('g');
  t.deepEqual(h.ledger.append([{ record: fresh, delayMs: 0, dedupId: 'k' }], h.now), [fresh.id], 'earlier ids keep the window they were sent with');
});

test('a receive repeated with its attempt id gets the same deliveries of a FIFO group, and a new attempt nothing of the held group', (t) => {
  const h = new FifoHarness({ windowMessages: 100, windowBytes: 1 << 30, maxInflight: 1000, timerWindow: 100 });
  h.ledger.append([h.record('g'), h.record('g'), h.record('h')].map((record) => ({ record, delayMs: 0 })), h.now);
  h.page();
  const first = h.ledger.receive(2, Infinity, 30_000, h.now, FOREVER, 'attempt-1');
  t.deepEqual(first.map((d) => h.idOf(d)), ['m0', 'm1']);
  const again = h.ledger.receive(2, Infinity, 30_000, h.now, FOREVER, 'attempt-1');
  t.deepEqual(again.map((d) => [d.offset, d.delivery.seq]), first.map((d) => [d.offset, d.delivery.seq]));
  t.deepEqual(h.ledger.receive(5, Infinity, 30_000, h.now, FOREVER, 'attempt-2').map((d) => h.idOf(d)), ['m2']);
});

test('a delayed FIFO message holds its group until it is due and handled; other groups proceed; it survives a restart', (t) => {
  const h = new FifoHarness({ windowMessages: 100, windowBytes: 1 << 30, maxInflight: 1000, timerWindow: 100 });
  const [a, b, c] = [h.record('g'), h.record('g'), h.record('h')];
  h.ledger.append([{ record: a, delayMs: 10_000 }, { record: b, delayMs: 0 }, { record: c, delayMs: 0 }], h.now);
  h.page();
  t.deepEqual(h.ledger.counts(), { visible: 2, inflight: 0, delayed: 1 });
  t.deepEqual(h.receive(10, 30_000).map((d) => h.idOf(d)), ['m2'], 'g waits behind its delayed first message; h proceeds');
  t.is(h.ledger.nextWake(), T0 + 10_000, 'the partition wakes when the delayed message is due');
  h.restart();
  h.advance(9_999);
  t.deepEqual(h.receive(10, 30_000), [], 'still early after the restart');
  h.advance(1);
  t.deepEqual(h.ledger.counts(), { visible: 2, inflight: 1, delayed: 0 });
  const [first] = h.receive(1, 30_000);
  t.is(first && h.idOf(first), 'm0', 'the delayed message first');
  t.deepEqual(h.receive(10, 30_000), [], 'its group is held while it is in flight');
  t.is(h.ledger.remove((first as Delivery).offset, (first as Delivery).delivery.seq), 'ok');
  h.page();
  t.deepEqual(h.receive(10, 30_000).map((d) => h.idOf(d)), ['m1'], 'then the later message of its group');
});

test('a later message of a group with a shorter delay still waits for the earlier delayed one', (t) => {
  const h = new FifoHarness({ windowMessages: 2, windowBytes: 1 << 30, maxInflight: 1000, timerWindow: 1 });
  h.ledger.append([{ record: h.record('g'), delayMs: 60_000 }], h.now);
  h.ledger.append([{ record: h.record('g'), delayMs: 1_000 }], h.now);
  h.ledger.append(Array.from({ length: 5 }, () => ({ record: h.record('h'), delayMs: 0 })), h.now);
  h.page();
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) {
    for (const d of h.receive(1, 30_000)) {
      ids.push(h.idOf(d));
      h.ledger.remove(d.offset, d.delivery.seq);
    }
    h.advance(2_000);
  }
  t.deepEqual(ids, ['m2', 'm3', 'm4', 'm5', 'm6'], 'h drains past g\'s messages, kept in place on disk');
  h.advance(60_000);
  const [first] = h.receive(10, 30_000);
  t.is(first && h.idOf(first), 'm0');
});

test('a FIFO message received maxReceives times is dead-lettered at its next receive and its group moves on; the mark holds across a restart', (t) => {
  const h = new FifoHarness({ windowMessages: 100, windowBytes: 1 << 30, maxInflight: 1000, timerWindow: 100 });
  h.ledger.append([h.record('g'), h.record('g'), h.record('h')].map((record) => ({ record, delayMs: 0 })), h.now);
  h.page();
  const receive = () => {
    const out = h.ledger.receive(1, Infinity, 1000, h.now, FOREVER, undefined, undefined, 2);
    h.page();
    return out.map((d) => h.idOf(d));
  };
  t.deepEqual(receive(), ['m0']);
  h.advance(1000);
  t.deepEqual(receive(), ['m0'], 'a second receive of the same message');
  h.advance(1000);
  t.deepEqual(receive(), ['m1'], 'm0 goes to the DLQ; its group delivers its next message at once');
  t.is(h.ledger.pendingDeadLetters, 1);
  t.deepEqual([...h.disk.marks.entries()].map(([offset, mark]) => [offset, mark.reason, mark.receiveCount]), [[0, 'max-receives', 2]]);
  h.restart();
  h.advance(1000);
  const after: string[] = [];
  for (let i = 0; i < 4; i++) {
    for (const d of h.ledger.receive(10, Infinity, 60_000, h.now, FOREVER, undefined, undefined, 2)) {
      after.push(h.idOf(d));
      h.ledger.remove(d.offset, d.delivery.seq);
    }
    h.page();
  }
  t.deepEqual(after.sort(), ['m1', 'm2'], 'the marked message is not delivered again after a restart');
  t.deepEqual(h.ledger.deadLettered([0]), ['ok']);
});
