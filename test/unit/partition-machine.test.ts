/**
 * The partition machine (actors/partition/partition.machine.ts) with fake effects over a simulated
 * disk and XState's SimulatedClock: group commit, replies only after durability, failure and
 * reload, ticks, stop. A few tests run the real storage effect (src/effects/partition-store.ts) over
 * an in-memory Store instead.
 */
import test from 'ava';
import { createActor, fromPromise, SimulatedClock } from 'xstate';
import { Ledger, type NewMessage } from '../../actors/partition/ledger.ts';
import { partitionMachine } from '../../actors/partition/partition.machine.ts';
import type {
  CommitInput,
  CommitOutput,
  LoadInput,
  LoadOutput,
  PageInput,
  PageOutput,
  PartitionLimits,
  PartitionOp,
  PartitionReply,
  PartitionResult,
  SettleInput,
  SettleOutput,
} from '../../actors/partition/partition.events.ts';
import type { MessageRecord } from '../../actors/partition/records.ts';
import { partitionStore } from '../../src/effects/partition-store.ts';
import type { Range } from '../../src/storage/keys.ts';
import { keys } from '../../src/storage/keys.ts';
import { queueName } from '../../src/names.ts';
import { deferred, flush, MemDisk, MemStore, message, type Deferred } from './partition-fakes.ts';

const T0 = 1_700_000_000_000;
const LIMITS: PartitionLimits = { windowMessages: 1024, windowBytes: 1 << 26, maxInflight: 10_000, timerWindow: 1024 };
const TICK = 100;

interface Options {
  limits?: Partial<PartitionLimits>;
  retentionMs?: number;
  retentionCheckMs?: number;
  disk?: MemDisk;
  /** Hold the first load until `control.loadGate` is settled. */
  holdLoads?: boolean;
  /** Effects to use instead of the fakes over `disk` (the real storage effect). */
  effects?: ReturnType<typeof partitionStore>;
}

type PageKind = PageInput['kind'];

function start(options: Options = {}) {
  const clock = new SimulatedClock();
  clock.set(T0);
  const disk = options.disk ?? new MemDisk();
  const commits: CommitInput[] = [];
  const commitGates: Array<Deferred<void>> = [];
  const settles: SettleInput[] = [];
  const settleGates: Array<Deferred<void>> = [];
  const pages: PageInput[] = [];
  const held: Array<{ input: PageInput; gate: Deferred<void> }> = [];
  const control = {
    holdCommits: false,
    holdSettles: false,
    /** Commits say their settles wait for other replicas (the writer may go on meanwhile). */
    settlesWait: false,
    holdLoads: options.holdLoads ?? false,
    holdPages: new Set<PageKind>(),
    /** Page calls beyond this never resolve (so a paging loop cannot run away with the test). */
    pageCap: 500,
    loads: 0,
    loadGate: undefined as Deferred<void> | undefined,
  };

  const fakes = {
    loadPartition: fromPromise<LoadOutput, LoadInput>(async () => {
      control.loads++;
      if (control.holdLoads) {
        control.loadGate = deferred<void>();
        await control.loadGate.promise;
      }
      return disk.load();
    }),
    commit: fromPromise<CommitOutput, CommitInput>(async ({ input }) => {
      commits.push(input);
      if (control.holdCommits) {
        const gate = deferred<void>();
        commitGates.push(gate);
        await gate.promise; // rejects for a failed write: nothing applied
      }
      disk.apply(input.changes);
      return { ticket: commits.length, waits: control.settlesWait };
    }),
    settle: fromPromise<SettleOutput, SettleInput>(async ({ input }) => {
      settles.push(input);
      if (control.holdSettles) {
        const gate = deferred<void>();
        settleGates.push(gate);
        await gate.promise; // rejects for a write whose outcome is unknown
      }
      const records = new Map<number, MessageRecord>();
      for (const offset of input.reads) {
        const record = disk.messages.get(offset);
        if (record) records.set(offset, record);
      }
      return { records };
    }),
    page: fromPromise<PageOutput, PageInput>(async ({ input }) => {
      pages.push(input);
      if (pages.length > control.pageCap) return new Promise<PageOutput>(() => undefined);
      // The scan reads the disk when it starts (an iterator's implicit snapshot).
      let output: PageOutput;
      switch (input.kind) {
        case 'window':
          output = { kind: 'window', ...disk.scanWindow(input.from, input.end, input.limit), end: input.end };
          break;
        case 'timers':
          output = { kind: 'timers', ...disk.scanTimers(input.from, input.limit) };
          break;
        case 'retention':
          output = { kind: 'retention', ...disk.retentionPage(input.sentBefore, input.limit, input.from, input.end) };
          break;
        case 'purged':
          output = { kind: 'purged', ...disk.scanPurged(input.end, input.limit) };
          break;
        case 'streamHead':
          output = { kind: 'streamHead', rows: disk.streamHead(input.from, input.end, input.limit) };
          break;
      }
      if (control.holdPages.has(input.kind)) {
        const gate = deferred<void>();
        held.push({ input, gate });
        await gate.promise;
      } else {
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      return output;
    }),
  };

  const machine = partitionMachine.provide({ actors: options.effects ?? fakes });
  const actor = createActor(machine, {
    clock,
    input: {
      queue: 'q1',
      partition: 0,
      limits: { ...LIMITS, ...options.limits },
      tickMs: TICK,
      retentionMs: options.retentionMs ?? 4 * 24 * 3600_000,
      retentionCheckMs: options.retentionCheckMs ?? 60_000,
      now: () => clock.now(),
    },
  });
  const replies: PartitionReply[] = [];
  const batches: PartitionReply[][] = [];
  actor.on('replies', (event) => {
    batches.push(event.replies);
    replies.push(...event.replies);
  });
  actor.start();

  let nextId = 1;
  const request = (op: PartitionOp): number => {
    const id = nextId++;
    actor.send({ type: 'requests', items: [{ id, op }] });
    return id;
  };
  const reply = (id: number): PartitionResult | undefined => replies.find((r) => r.id === id)?.result;
  const send = (records: MessageRecord[], delayMs = 0) =>
    request({ type: 'send', messages: records.map((record): NewMessage => ({ record, delayMs })) });
  const receive = (max: number, visibilityMs = 30_000) => request({ type: 'receive', max, maxBytes: 1 << 30, visibilityMs });
  const state = () => JSON.stringify(actor.getSnapshot().value);
  const ledger = () => actor.getSnapshot().context.ledger;
  /** Moves the clock in steps of `step` ms, letting the machine run after each. */
  const advance = async (ms: number, step = TICK) => {
    for (let done = 0; done < ms; done += step) {
      clock.increment(Math.min(step, ms - done));
      await flush(3);
    }
  };
  return { actor, clock, disk, commits, commitGates, settles, settleGates, pages, held, control, replies, batches, request, reply, send, receive, state, ledger, advance };
}

const now = () => T0;
const records = (n: number, sentAt = now(), size = 8) => Array.from({ length: n }, () => message(sentAt, size));

function deliveriesOf(result: PartitionResult | undefined) {
  if (result?.type !== 'received') throw new Error(`not a receive result: ${JSON.stringify(result)}`);
  return result.deliveries;
}

// ---- group commit --------------------------------------------------------------------------------

test('replies are emitted only after the commit resolves', async (t) => {
  const p = start();
  p.control.holdCommits = true;
  await flush();
  t.regex(p.state(), /serving/);

  const sent = records(1);
  const id = p.send(sent);
  await flush();
  t.is(p.commits.length, 1);
  t.regex(p.state(), /committing/);
  t.deepEqual(p.replies, [], 'no reply before the write is durable');
  t.is(p.disk.messages.size, 0);

  p.commitGates[0]?.resolve();
  await flush();
  t.deepEqual(p.reply(id), { type: 'sent', ids: sent.map((r) => r.id) });
  t.is(p.disk.messages.size, 1);
  p.actor.stop();
});

test('requests arriving during a commit are batched into one next commit', async (t) => {
  const p = start();
  p.control.holdCommits = true;
  await flush();
  const [a, b, c] = records(3);
  if (!a || !b || !c) return t.fail();

  const first = p.send([a]);
  await flush();
  t.is(p.commits.length, 1);
  const second = p.send([b]);
  const third = p.receive(10);
  const fourth = p.send([c]);
  await flush();
  t.is(p.commits.length, 1, 'nothing written while the first commit runs');

  p.commitGates[0]?.resolve();
  await flush();
  t.deepEqual(p.reply(first), { type: 'sent', ids: [a.id] });
  t.is(p.commits.length, 2, 'the three waiting requests went into one write');
  const batch = p.commits[1]?.changes ?? [];
  t.deepEqual(
    batch.filter((x) => x.kind === 'putMessage').map((x) => (x.kind === 'putMessage' ? x.record.id : '')),
    [b.id, c.id],
  );
  t.deepEqual(
    batch.filter((x) => x.kind === 'putDeliveries').map((x) => (x.kind === 'putDeliveries' ? x.group.entries.length : 0)),
    [2],
    'the two deliveries are stored as one group',
  );
  t.is(batch.at(-1)?.kind, 'putState');
  t.is(p.reply(second), undefined);
  t.is(p.reply(third), undefined);

  p.commitGates[1]?.resolve();
  await flush();
  t.is(p.batches.length, 2, 'one reply event per write');
  t.deepEqual(
    p.batches[1]?.map((r) => r.id),
    [second, third, fourth],
  );
  // In request order: the receive saw the first two sends, not the one after it.
  t.deepEqual(
    deliveriesOf(p.reply(third)).map((d) => d.record.id),
    [a.id, b.id],
  );
  t.is(p.commits.length, 2);
  p.actor.stop();
});

test('a request that writes nothing is answered without a commit', async (t) => {
  const p = start();
  await flush();
  const id = p.receive(10);
  const del = p.request({ type: 'delete', items: [{ offset: 5, seq: 9 }] });
  await flush();
  t.deepEqual(deliveriesOf(p.reply(id)), []);
  t.deepEqual(p.reply(del), { type: 'handled', results: ['stale'] });
  t.is(p.commits.length, 0);
  p.actor.stop();
});

test('behind a settle that waits for other replicas, the next batch is committed; replies leave in commit order', async (t) => {
  const p = start();
  p.control.holdSettles = true;
  p.control.settlesWait = true;
  await flush();
  const [a, b] = records(2);
  if (!a || !b) return t.fail();
  const first = p.send([a]);
  await flush();
  const second = p.send([b]);
  await flush();
  t.is(p.commits.length, 2, 'the second batch is committed while the first waits for its settle');
  t.is(p.settles.length, 1, 'settles run one at a time, oldest first');
  const nothing = p.request({ type: 'delete', items: [{ offset: 99, seq: 1 }] });
  await flush();
  t.is(p.reply(nothing), undefined, 'an answer that writes nothing waits for the writes before it');
  t.deepEqual(p.replies, []);

  p.settleGates[0]?.resolve();
  await flush();
  t.deepEqual(p.batches.map((batch) => batch.map((r) => r.id)), [[first]]);
  p.settleGates[1]?.resolve();
  await flush();
  p.settleGates[2]?.resolve();
  await flush();
  t.deepEqual(p.batches.map((batch) => batch.map((r) => r.id)), [[first], [second], [nothing]]);
  t.deepEqual(p.reply(nothing), { type: 'handled', results: ['stale'] });
  p.actor.stop();
});

test('behind a settle that does not wait for other replicas, the writer waits: the next requests join one batch', async (t) => {
  const p = start();
  p.control.holdSettles = true;
  await flush();
  p.send(records(1));
  await flush();
  p.send(records(1));
  p.receive(1);
  await flush();
  t.is(p.commits.length, 1);
  p.settleGates[0]?.resolve();
  await flush();
  t.is(p.commits.length, 2, 'the two waiting requests went into one write');
  p.settleGates[1]?.resolve();
  await flush();
  p.actor.stop();
});

test('a failing settle answers every batch in flight with timeout and the queued requests with unavailable, then reloads', async (t) => {
  const p = start();
  p.control.holdSettles = true;
  p.control.settlesWait = true;
  await flush();
  const first = p.send(records(1));
  await flush();
  const second = p.send(records(1));
  await flush();
  p.control.holdCommits = true;
  const third = p.send(records(1)); // being committed when the settle fails
  await flush();
  t.is(p.commits.length, 3);
  p.settleGates[0]?.reject(Object.assign(new Error('no majority'), { code: 'timeout' }));
  await flush();
  const unknown = { type: 'failed', code: 'timeout', message: 'the partition stopped during the write: its outcome is unknown' };
  t.deepEqual(p.reply(first), unknown);
  t.deepEqual(p.reply(second), unknown);
  t.deepEqual(p.reply(third), unknown, 'a write under way when the partition failed has an unknown outcome');
  t.is(p.state(), '"failed"');
  p.control.holdCommits = false;
  p.control.holdSettles = false;
  p.commitGates[0]?.resolve();
  p.clock.increment(Math.max(TICK * 10, 1000));
  await flush();
  t.regex(p.state(), /serving/);
  p.actor.stop();
});

// ---- failure and reload --------------------------------------------------------------------------

test('a failing commit answers storage_failure, goes to failed, then reloads from disk after retryDelay', async (t) => {
  const p = start();
  await flush();
  const [kept, lost, later] = records(3);
  if (!kept || !lost || !later) return t.fail();
  p.send([kept]);
  await flush();
  t.is(p.disk.messages.size, 1);

  p.control.holdCommits = true;
  const failing = p.send([lost]);
  await flush();
  const waiting = p.receive(10); // arrives during the doomed commit
  await flush();
  p.commitGates[0]?.reject(new Error('disk on fire'));
  await flush();

  t.deepEqual(p.reply(failing), { type: 'failed', code: 'storage_failure', message: 'disk on fire' });
  t.deepEqual(p.reply(waiting), { type: 'failed', code: 'unavailable', message: 'the partition is restarting' });
  t.is(p.state(), '"failed"');
  t.is(p.ledger(), undefined, 'memory (ahead of the disk) is dropped');

  // Requests during `failed` wait for the reload.
  p.control.holdCommits = false;
  p.control.holdLoads = true;
  const afterReload = p.send([later]);
  await flush();
  t.is(p.reply(afterReload), undefined);

  const retryDelay = Math.max(TICK * 10, 1000);
  p.clock.increment(retryDelay - 1);
  await flush();
  t.is(p.state(), '"failed"');
  p.clock.increment(1);
  await flush();
  t.is(p.state(), '"loading"');
  t.is(p.control.loads, 2);
  p.control.loadGate?.resolve();
  await flush();
  t.regex(p.state(), /serving/);
  t.like(p.reply(afterReload), { type: 'sent' });

  // The failed write never happened: only the messages of durable writes are there.
  const r = p.receive(10);
  await flush();
  t.deepEqual(
    deliveriesOf(p.reply(r)).map((d) => d.record.id),
    [kept.id, later.id],
  );
  p.actor.stop();
});

test('a failing load goes to failed and retries', async (t) => {
  const p = start({ holdLoads: true });
  await flush();
  t.is(p.state(), '"loading"');
  p.control.loadGate?.reject(new Error('cannot open'));
  await flush();
  t.is(p.state(), '"failed"');
  t.is(p.actor.getSnapshot().context.error?.message, 'cannot open');
  p.control.holdLoads = false;
  p.clock.increment(1000);
  await flush();
  t.regex(p.state(), /serving/);
  t.is(p.actor.getSnapshot().context.error, undefined);
  p.actor.stop();
});

// ---- time ----------------------------------------------------------------------------------------

test('an expired lease makes the message receivable again on a tick', async (t) => {
  const p = start();
  await flush();
  const [m] = records(1);
  if (!m) return t.fail();
  p.send([m]);
  const r1 = p.receive(1, 1000);
  await flush();
  const [d1] = deliveriesOf(p.reply(r1));
  t.is(d1?.record.id, m.id);
  t.is(d1?.delivery.count, 1);

  await p.advance(900);
  const r2 = p.receive(1, 1000);
  await flush();
  t.deepEqual(deliveriesOf(p.reply(r2)), [], 'the lease still lives');

  await p.advance(100);
  t.deepEqual(p.ledger()?.counts(), { visible: 1, inflight: 0, delayed: 0 }, 'the tick requeued it');
  const r3 = p.receive(1, 1000);
  await flush();
  const [d3] = deliveriesOf(p.reply(r3));
  t.is(d3?.record.id, m.id, 'the body is read from disk for a redelivery');
  t.is(d3?.delivery.count, 2);
  t.true((d3?.delivery.seq ?? 0) > (d1?.delivery.seq ?? Infinity));
  t.deepEqual(p.settles.at(-1)?.reads, [0]);
  p.actor.stop();
});

test('a delayed message becomes receivable after its delay', async (t) => {
  const p = start();
  await flush();
  const [m] = records(1);
  if (!m) return t.fail();
  p.send([m], 2000);
  await flush();
  t.deepEqual(p.ledger()?.counts(), { visible: 0, inflight: 0, delayed: 1 });
  await p.advance(1900);
  const early = p.receive(1);
  await flush();
  t.deepEqual(deliveriesOf(p.reply(early)), []);
  await p.advance(200);
  t.deepEqual(p.ledger()?.counts(), { visible: 1, inflight: 0, delayed: 0 });
  const r = p.receive(1);
  await flush();
  t.is(deliveriesOf(p.reply(r))[0]?.record.id, m.id);
  t.is(p.disk.delayed.size, 0);
  p.actor.stop();
});

test('a backlog larger than the window is paged in by the reader and received once, in order', async (t) => {
  const disk = new MemDisk();
  const l = new Ledger(disk.load(), { ...LIMITS }, T0);
  l.append(
    records(100).map((record) => ({ record, delayMs: 0 })),
    T0,
  );
  disk.apply(l.takeChanges());
  const p = start({ disk, limits: { windowMessages: 16 } });
  await flush();
  const seen: number[] = [];
  for (let i = 0; i < 100 && seen.length < 100; i++) {
    const r = p.receive(7);
    await flush();
    for (const d of deliveriesOf(p.reply(r))) {
      seen.push(d.offset);
      p.request({ type: 'delete', items: [{ offset: d.offset, seq: d.delivery.seq }] });
    }
  }
  t.deepEqual(
    seen,
    Array.from({ length: 100 }, (_, i) => i),
  );
  await flush();
  t.is(disk.messages.size, 0);
  p.actor.stop();
});

// ---- stop ----------------------------------------------------------------------------------------

test('stop answers queued requests with unavailable', async (t) => {
  const p = start();
  p.control.holdCommits = true;
  await flush();
  p.send(records(1));
  await flush();
  const queued = [p.send(records(1)), p.receive(5)];
  await flush();
  p.actor.send({ type: 'stop' });
  await flush();
  for (const id of queued) {
    t.deepEqual(p.reply(id), { type: 'failed', code: 'unavailable', message: 'the partition is restarting' });
  }
  t.is(p.actor.getSnapshot().status, 'done');
});

test('stop during a commit does not answer storage_failure for a write that may still land', async (t) => {
  // storage_failure means "the write did not reach disk; nothing of it was applied" (errors.ts), and
  // a client retries a send on it. A write already handed to the store may complete after the stop.
  const p = start();
  p.control.holdCommits = true;
  await flush();
  const id = p.send(records(1));
  await flush();
  p.actor.send({ type: 'stop' });
  await flush();
  p.commitGates[0]?.resolve(); // the store finishes the write it was given
  await flush();
  const result = p.reply(id);
  t.is(p.disk.messages.size, 1, 'the write landed');
  t.false(result?.type === 'failed' && result.code === 'storage_failure', `answered ${JSON.stringify(result)} for a write that was applied`);
});

// ---- races of the reader with the writer ---------------------------------------------------------

test('a window scan racing a delete after a reload does not redeliver the deleted message', async (t) => {
  // On disk: 3 messages, offset 0 in flight. After a (re)load the reader scans the window from the
  // purge mark while the writer deletes offset 0.
  const disk = new MemDisk();
  const l = new Ledger(disk.load(), { ...LIMITS }, T0);
  l.append(
    records(3).map((record) => ({ record, delayMs: 0 })),
    T0,
  );
  const [d] = l.receive(1, 1 << 30, 60_000, T0, 1e12);
  disk.apply(l.takeChanges());
  if (!d) return t.fail();

  const p = start({ disk });
  p.control.holdPages.add('window');
  await flush();
  t.is(p.held.length, 1, 'the reader is scanning the window');
  const del = p.request({ type: 'delete', items: [{ offset: d.offset, seq: d.delivery.seq }] });
  await flush();
  t.deepEqual(p.reply(del), { type: 'handled', results: ['ok'] });
  t.false(disk.messages.has(d.offset));

  p.control.holdPages.clear();
  p.held[0]?.gate.resolve();
  await flush();
  const r = p.receive(10);
  await flush();
  const got = deliveriesOf(p.reply(r)).map((x) => x.offset);
  t.false(got.includes(d.offset), `deleted offset ${d.offset} delivered again: ${got.join()}`);
  p.actor.stop();
});

test('a window full by bytes does not make the reader rescan the disk in a loop', async (t) => {
  const p = start({ limits: { windowMessages: 16, windowBytes: 1000 } });
  await flush();
  p.send(records(10, now(), 400)); // two fit in 1000 bytes; eight wait on disk
  await flush(30);
  const windowScans = p.pages.filter((x) => x.kind === 'window').length;
  t.true(windowScans <= 3, `${windowScans} window scans while nothing could be added`);
  p.actor.stop();
});

test('a receive deferred for a window refill is answered even when a purge removes the backlog', async (t) => {
  const disk = new MemDisk();
  const l = new Ledger(disk.load(), { ...LIMITS }, T0);
  l.append(
    records(40).map((record) => ({ record, delayMs: 0 })),
    T0,
  );
  disk.apply(l.takeChanges());
  const p = start({ disk, limits: { windowMessages: 16 } });
  p.control.holdPages.add('retention');
  await flush();
  t.is(p.held.length, 1, 'the reader filled the window, then started a retention scan');

  const drain = p.receive(16);
  await flush();
  t.is(deliveriesOf(p.reply(drain)).length, 16);
  const waiting = p.receive(1); // window empty, backlog on disk: deferred until a refill
  await flush();
  t.is(p.reply(waiting), undefined);
  const purge = p.request({ type: 'purge' });
  await flush();
  t.deepEqual(p.reply(purge), { type: 'purged', count: 40 });

  p.held[0]?.gate.resolve();
  await flush();
  await p.advance(1000);
  t.deepEqual(p.reply(waiting), { type: 'received', deliveries: [] }, 'the deferred receive was never answered');
  p.actor.stop();
});

// ---- the real storage effect over an in-memory store ---------------------------------------------

/** A store whose scans of one kind of key stop answering after `cap` calls (a loop cannot run away). */
class CappedStore extends MemStore {
  readonly scansOf = new Map<string, number>();
  cap = 20;
  override async scan(range: Range, limit: number): Promise<Array<[string, Uint8Array]>> {
    const kind = range.gte.slice(0, 1);
    const n = (this.scansOf.get(kind) ?? 0) + 1;
    this.scansOf.set(kind, n);
    if (n > this.cap) return new Promise(() => undefined);
    await new Promise<void>((resolve) => setImmediate(resolve));
    return super.scan(range, limit);
  }
}

test('real effect: more than a page of delayed messages due at the same ms are loaded without a paging loop', async (t) => {
  // TIMER_PAGE is 4096. The ledger asks for timers from (due, seq); the effect scans from `due`
  // only, so when every row of a page shares the horizon's due time it returns the same page again.
  const store = new CappedStore();
  const p = start({ effects: partitionStore(store, false), limits: { timerWindow: 16 } });
  await flush();
  const n = 4200;
  p.send(records(n), 1000); // one batch: all due at T0 + 1000
  await flush(60);
  const timerScans = store.scansOf.get('d') ?? 0;
  t.true(timerScans <= 4, `${timerScans} scans of d/ for ${n} delayed messages`);
  await p.advance(1500);
  t.deepEqual(p.ledger()?.counts(), { visible: n, inflight: 0, delayed: 0 });
  p.actor.stop();
});

test('more than a page of delayed messages due at the same ms page in fine when the scan starts at (due, seq)', async (t) => {
  // The control for the test above: the fake page scans d/ from (due, seq), as the ledger asks.
  const p = start({ limits: { timerWindow: 16 } });
  await flush();
  const n = 4200;
  p.send(records(n), 1000);
  await flush(20);
  t.true(p.pages.filter((x) => x.kind === 'timers').length <= 4);
  await p.advance(1500);
  t.deepEqual(p.ledger()?.counts(), { visible: n, inflight: 0, delayed: 0 });
  p.actor.stop();
});

test('real effect: retention expires old messages in the window and on disk', async (t) => {
  const store = new MemStore();
  const p = start({ effects: partitionStore(store, false), limits: { windowMessages: 16 }, retentionMs: 60_000, retentionCheckMs: 1000 });
  await flush();
  p.send(records(300));
  await flush();
  await p.advance(62_000, 1000);
  t.deepEqual(p.ledger()?.counts(), { visible: 0, inflight: 0, delayed: 0 });
  t.deepEqual(store.keysIn(keys.messages(queueName('q1'), 0)), []);
  p.actor.stop();
});

async function purgeThenAge(t: { fail: () => void }) {
  const store = new MemStore();
  const p = start({ effects: partitionStore(store, false), limits: { windowMessages: 16 }, retentionMs: 60_000, retentionCheckMs: 1000 });
  await flush();
  p.send(records(300));
  await flush();
  const purge = p.request({ type: 'purge' });
  await flush();
  if (JSON.stringify(p.reply(purge)) !== JSON.stringify({ type: 'purged', count: 300 })) t.fail();
  p.send(records(20));
  await flush();
  if (p.ledger()?.counts().visible !== 20) t.fail();
  await p.advance(62_000, 1000);
  const left = store.keysIn(keys.messages(queueName('q1'), 0)).map((k) => keys.offsetOf(k));
  const counts = p.ledger()?.counts();
  p.actor.stop();
  return { left, counts };
}

test('real effect: the keys of purged messages are removed from the store afterwards', async (t) => {
  const { left } = await purgeThenAge(t);
  t.is(left.filter((o) => o < 300).length, 0, 'purged messages still stored');
});

test('real effect: after purging more than a retention page, retention still expires later messages', async (t) => {
  // The retention scan reads the first RETENTION_PAGE keys of m/: if those are purged messages that
  // nothing removes, expire() skips them all and never reaches the live ones.
  const { counts } = await purgeThenAge(t);
  t.deepEqual(counts, { visible: 0, inflight: 0, delayed: 0 }, 'messages past retention still stored and counted');
});
