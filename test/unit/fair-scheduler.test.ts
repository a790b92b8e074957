/**
 * The node's fair scheduler (src/node/fair-scheduler.ts): deficit round-robin over partitions with
 * pending requests, a quantum of messages a round each, rounds repeated within a turn of the event
 * loop until each partition's actor holds its bound or nothing is pending; that bound is smaller
 * while other partitions have work too.
 */
import test from 'ava';
import { FairScheduler, opCost, type Pending } from '../../src/node/fair-scheduler.ts';
import { eventually } from '../helpers/eventually.ts';

/** A partition's pending requests (their costs); `handed` records each batch handed over, with the order across partitions. */
class FakePending implements Pending {
  readonly costs: number[];
  readonly name: string;
  readonly log: string[];

  constructor(name: string, costs: number[], log: string[]) {
    this.name = name;
    this.costs = costs;
    this.log = log;
  }

  costAt(i: number): number | undefined {
    return this.costs[i];
  }

  hand(count: number): void {
    const batch = this.costs.splice(0, count);
    this.log.push(`${this.name}:${batch.reduce((a, b) => a + b, 0)}`);
  }
}

test('a quiet partition is served in the first round, not after a flooded one’s backlog', async (t) => {
  const log: string[] = [];
  const scheduler = new FairScheduler({ quantum: 200, maxPending: 10_000 });
  const flooded = new FakePending('A', Array.from({ length: 10 }, () => 100), log);
  const quiet = new FakePending('B', [1], log);
  scheduler.wake(flooded);
  scheduler.wake(quiet);
  await eventually(() => flooded.costs.length === 0);
  // A hands 200 messages a round; B's one request goes in the first round, right after A's quantum.
  t.deepEqual(log, ['A:200', 'B:1', 'A:200', 'A:200', 'A:200', 'A:200']);
});

test('a request larger than the quantum goes once the partition has earned enough', async (t) => {
  const log: string[] = [];
  const scheduler = new FairScheduler({ quantum: 100, maxPending: 10_000 });
  const big = new FakePending('A', [250, 10], log);
  const small = new FakePending('B', [10, 10, 10], log);
  scheduler.wake(big);
  scheduler.wake(small);
  await eventually(() => big.costs.length === 0 && small.costs.length === 0);
  // Rounds 1 and 2: A earns 100, then 200, and waits; B's three go in round 1. Round 3: A has 300.
  t.deepEqual(log, ['B:30', 'A:260']);
});

test('without a quantum everything pending goes at once (one batch per partition and turn)', async (t) => {
  const log: string[] = [];
  const scheduler = new FairScheduler({ quantum: Infinity, maxPending: Infinity });
  const a = new FakePending('A', [500, 500, 500], log);
  scheduler.wake(a);
  scheduler.wake(a);
  await eventually(() => a.costs.length === 0);
  t.deepEqual(log, ['A:1500']);
});

/** A partition whose actor holds what it was handed until its write is done (`written`). */
class WritingPending extends FakePending {
  holding = false;

  override hand(count: number): void {
    super.hand(count);
    this.holding = true;
  }

  accepting(): boolean {
    return !this.holding;
  }
}

test('a partition whose actor still holds a batch for its next write is handed nothing until it takes requests again', async (t) => {
  const log: string[] = [];
  const scheduler = new FairScheduler({ quantum: 100, maxPending: 10_000 });
  const busy = new WritingPending('A', Array.from({ length: 5 }, () => 100), log);
  const quiet = new FakePending('B', [1, 1, 1], log);
  scheduler.wake(busy);
  await eventually(() => log.length === 1);
  // Rounds go by while A's actor holds its batch: A is not handed more (its next write would grow).
  scheduler.wake(quiet);
  await eventually(() => quiet.costs.length === 0);
  t.deepEqual(log, ['A:100', 'B:3']);
  t.is(busy.costs.length, 4);
  // Its write took the batch: woken, it gets one quantum, and holds again.
  busy.holding = false;
  scheduler.wake(busy);
  await eventually(() => log.length === 3);
  t.deepEqual(log, ['A:100', 'B:3', 'A:100']);
  t.is(busy.costs.length, 3);
});

/** A partition whose actor holds what it is handed, up to the scheduler's `maxWrite`. */
class BoundedPending extends FakePending {
  held = 0;
  readonly scheduler: FairScheduler;

  constructor(name: string, costs: number[], log: string[], scheduler: FairScheduler) {
    super(name, costs, log);
    this.scheduler = scheduler;
  }

  override hand(count: number): void {
    this.held += this.costs.slice(0, count).reduce((a, b) => a + b, 0);
    super.hand(count);
  }

  accepting(): boolean {
    return this.held < this.scheduler.maxWrite;
  }
}

test('a partition alone is handed quantum after quantum in one turn, up to what its actor may hold', async (t) => {
  const log: string[] = [];
  const scheduler = new FairScheduler({ quantum: 100, writeQuanta: 4, maxPending: 10_000 });
  const a = new BoundedPending('A', Array.from({ length: 10 }, () => 100), log, scheduler);
  scheduler.wake(a);
  // One turn (the scheduler's setImmediate runs before this one): four rounds of one quantum, then
  // its actor holds 400 (4 quanta) and A leaves the ring.
  await new Promise((resolve) => setImmediate(resolve));
  t.deepEqual(log, ['A:100', 'A:100', 'A:100', 'A:100']);
  t.is(a.costs.length, 6);
  // Its write took them: woken, it is handed the next four quanta at once.
  a.held = 0;
  scheduler.wake(a);
  await eventually(() => log.length === 8);
  t.is(a.costs.length, 2);
});

test('while another partition has work too, a partition’s actor may hold one quantum; alone again after a while, all its quanta', async (t) => {
  let clock = 0;
  const log: string[] = [];
  const scheduler = new FairScheduler({ quantum: 100, writeQuanta: 4, maxPending: 10_000, now: () => clock });
  t.is(scheduler.maxWrite, 400);
  const a = new BoundedPending('A', Array.from({ length: 10 }, () => 100), log, scheduler);
  const b = new BoundedPending('B', [1], log, scheduler);
  scheduler.wake(a);
  scheduler.wake(b);
  t.is(scheduler.maxWrite, 100);
  await eventually(() => b.costs.length === 0 && log.length === 2);
  // A is handed one quantum, then holds its bound: B's request goes in the same turn.
  t.deepEqual(log, ['A:100', 'B:1']);
  // Long after B's last request, A alone may hold four quanta again.
  clock += 10_000;
  t.is(scheduler.maxWrite, 400);
  a.held = 0;
  scheduler.wake(a);
  await eventually(() => log.length === 6);
  t.deepEqual(log.slice(2), ['A:100', 'A:100', 'A:100', 'A:100']);
});

test('two partitions that stay busy keep each other’s bound at one quantum, however long it lasts', async (t) => {
  let clock = 0;
  const log: string[] = [];
  const scheduler = new FairScheduler({ quantum: 100, writeQuanta: 4, maxPending: 10_000, now: () => clock });
  const a = new BoundedPending('A', Array.from({ length: 20 }, () => 100), log, scheduler);
  const b = new BoundedPending('B', Array.from({ length: 20 }, () => 100), log, scheduler);
  scheduler.wake(a);
  scheduler.wake(b);
  for (let turn = 0; turn < 3; turn++) {
    // Long past the window opened when B joined: their shared turns keep it open.
    clock += 10_000;
    a.held = 0;
    b.held = 0;
    scheduler.wake(a);
    scheduler.wake(b);
    await new Promise((resolve) => setImmediate(resolve));
    t.is(scheduler.maxWrite, 100, `turn ${turn}`);
  }
  t.deepEqual(log, ['A:100', 'B:100', 'A:100', 'B:100', 'A:100', 'B:100']);
});

test('an op costs the messages it writes or reads, at least 1', (t) => {
  t.is(opCost({ type: 'send', messages: [1, 2, 3] }), 3);
  t.is(opCost({ type: 'delete', items: [1, 2] }), 2);
  t.is(opCost({ type: 'receive', max: 10 }), 10);
  t.is(opCost({ type: 'deadLettered', offsets: [1] }), 1);
  t.is(opCost({ type: 'purge' }), 1);
  t.is(opCost({ type: 'send', messages: [] }), 1);
});
