/**
 * Auto-scaling decisions (actors/manager/autoscale.ts) in the simulated cluster of
 * manager-fakes.ts: the primaries report their load, time moves by hand, and every round runs the
 * placement and membership decisions too, as the manager does.
 */
import test from 'ava';
import { autoscale, EMPTY_SCALE_MEMORY, type ScaleMemory } from '../../actors/manager/autoscale.ts';
import { decide } from '../../actors/manager/decide.ts';
import { isTombstone, keyOf, type ManagerView, type Write } from '../../actors/manager/view.ts';
import { activePartitions, partitionStates, servedPartitions } from '../../src/meta/layout.ts';
import type { PartitionLoad } from '../../src/meta/records.ts';
import { creationAttributes } from '../../src/protocol/attributes.ts';
import { World } from './manager-fakes.ts';

const POLICY = {
  minPartitions: 1,
  maxPartitions: 3,
  budgetMessages: 1000,
  budgetBytes: 1_000_000,
  budgetSendsPerSecond: 100,
  scaleUpPercent: 80,
  scaleDownPercent: 30,
  scaleUpCooldownSeconds: 10,
  scaleDownAfterSeconds: 60,
};

/** Three nodes and queue `q` with auto-scaling (a FIFO queue with `fifo`), one partition placed and reporting no load. */
function world(fifo = false): { w: World; round: () => Write[]; load: (partition: number, load: Partial<PartitionLoad>) => void } {
  const w = new World();
  for (const n of ['a', 'b', 'c']) w.addNode(n);
  w.addQueue('q', 1, 3);
  const q = w.queues.get('q');
  if (q === undefined) throw new Error('no queue');
  const kind = fifo ? { fifo: true, deduplicationScope: 'messageGroup' as const } : {};
  w.queues.set('q', { ...q, value: { ...q.value, attributes: { ...q.value.attributes, ...kind, autoScaling: POLICY } } });
  let memory: ScaleMemory = EMPTY_SCALE_MEMORY;
  const manager = (view: ManagerView): Write[] => {
    const scaled = autoscale(view, memory);
    memory = scaled.memory;
    return [...decide(view), ...scaled.decisions];
  };
  const load = (partition: number, given: Partial<PartitionLoad>) => {
    const key = keyOf({ queue: 'q', partition });
    w.loads.set(key, { messages: 0, bytes: 0, sent: 0, sealed: false, ...w.loads.get(key), ...given });
  };
  load(0, {});
  // One round: heartbeats, every decision written, one second passes.
  const round = () => {
    for (const id of servedPartitions(meta(w))) if (!w.loads.has(keyOf({ queue: 'q', partition: id }))) load(id, {});
    const writes = w.settle(manager, { rounds: 1_000, stepMs: 1000 });
    w.now += 1000;
    return writes;
  };
  round();
  return { w, round, load };
}

const meta = (w: World) => {
  const q = w.queues.get('q')?.value;
  if (q === undefined) throw new Error('no queue');
  return q;
};

const layouts = (writes: readonly Write[]) => writes.filter((d) => d.kind === 'layout').map((d) => (d.kind === 'layout' ? d.layout.states.join(',') : ''));

test('a queue past 80 % of its message budget gets a partition, placed on the least loaded nodes', (t) => {
  const { w, round, load } = world();
  load(0, { messages: 700 });
  t.deepEqual(layouts(round()), [], '70 % is below the threshold');
  load(0, { messages: 850 });
  // The cool-down counts from when the manager first saw the layout.
  w.now += 10_000;
  const writes = round();
  t.deepEqual(layouts(writes), ['active,active']);
  t.deepEqual(activePartitions(meta(w)), [0, 1]);
  const placed = w.get('q', 1);
  t.is(placed.replicas.length, 3);
  t.truthy(placed.primary);
});

test('send rate counts against the budget from two samples, and the cool-down spaces additions', (t) => {
  const { w, round, load } = world();
  w.now += 10_000;
  load(0, { sent: 0 });
  round();
  // 90 sends/s against a budget of 100.
  load(0, { sent: 90 });
  t.deepEqual(layouts(round()), ['active,active']);
  // Both partitions busy at once: the cool-down holds the next one back for 10 s.
  load(0, { sent: 1000, messages: 900 });
  load(1, { messages: 900 });
  const soon = round();
  t.deepEqual(layouts(soon), [], 'no second partition inside the cool-down');
  w.now += 10_000;
  load(0, { sent: 1000 });
  t.deepEqual(layouts(round()), ['active,active,active']);
  load(0, { messages: 1000 });
  load(1, { messages: 1000 });
  load(2, { messages: 1000 });
  w.now += 60_000;
  t.deepEqual(layouts(round()), [], 'maxPartitions 3');
});

test('an idle queue drains its emptiest partition after the delay, and retires it only once sealed and empty', (t) => {
  const { w, round, load } = world();
  w.now += 10_000;
  load(0, { messages: 900 });
  round();
  t.deepEqual(activePartitions(meta(w)), [0, 1]);
  load(0, { messages: 100 });
  load(1, { messages: 20 });
  // 6 % of the budget, 12 % with one partition fewer: below 30 %, but not for 60 s yet.
  for (let i = 0; i < 30; i++) t.deepEqual(layouts(round()), []);
  w.now += 30_000;
  t.deepEqual(layouts(round()), ['active,draining'], 'the emptiest partition drains');
  t.deepEqual(servedPartitions(meta(w)), [0, 1], 'a draining partition is still read');
  // Empty but not sealed (its primary has not seen the layout: a send may still arrive), then
  // sealed with messages left.
  load(1, { sealed: false, messages: 0 });
  t.deepEqual(layouts(round()), []);
  load(1, { sealed: true, messages: 3 });
  t.deepEqual(layouts(round()), []);
  load(1, { sealed: true, messages: 0 });
  const writes = round();
  t.deepEqual(layouts(writes), ['active,retired']);
  t.true(isTombstone(w.get('q', 1)), 'its replicas are taken away');
  t.deepEqual(partitionStates(meta(w)), ['active', 'retired']);
  // At minPartitions: nothing more, however idle.
  load(0, { messages: 0 });
  w.now += 600_000;
  t.deepEqual(layouts(round()), []);
  t.deepEqual(round().length, 0, 'the retired partition stays as it is');
});

test('a busy queue does not shrink, and a burst restarts the idle delay', (t) => {
  const { w, round, load } = world();
  w.now += 10_000;
  load(0, { messages: 900 });
  round();
  load(0, { messages: 200 });
  load(1, { messages: 200 });
  // 20 %, 40 % with one fewer: above 30 %, never drained.
  w.now += 600_000;
  t.deepEqual(layouts(round()), []);
  load(0, { messages: 10 });
  load(1, { messages: 10 });
  round();
  w.now += 50_000;
  t.deepEqual(layouts(round()), [], 'low for 50 s');
  load(0, { messages: 300 });
  round();
  load(0, { messages: 10 });
  round();
  w.now += 10_000;
  t.deepEqual(layouts(round()), [], 'low for 60 s in all, but only 11 s since the burst');
  w.now += 50_000;
  t.deepEqual(layouts(round()), ['active,draining']);
});

test('a partition without a load report holds decisions back; other queues are never touched', (t) => {
  const { w, round, load } = world();
  w.addQueue('plain', 2, 3);
  round();
  w.now += 10_000;
  w.loads.delete(keyOf({ queue: 'q', partition: 0 }));
  t.deepEqual(
    layouts(w.settle((view) => autoscale(view, EMPTY_SCALE_MEMORY).decisions, { rounds: 5 })),
    [],
    'no report, no decision',
  );
  load(0, { messages: 5000 });
  const writes = round();
  t.deepEqual(layouts(writes), ['active,active']);
  t.is(w.queues.get('plain')?.value.layout, undefined);
});

test('autoScaling is checked: queues only, FIFO with scope messageGroup, ranges, min below max, defaults filled in', (t) => {
  const stored = creationAttributes({ autoScaling: { maxPartitions: 4 } }).autoScaling;
  t.like(stored, { minPartitions: 1, maxPartitions: 4, scaleUpPercent: 80, scaleDownPercent: 30 });
  t.throws(() => creationAttributes({ fifo: true, autoScaling: {} }), { message: /needs deduplicationScope messageGroup/ });
  t.like(creationAttributes({ fifo: true, deduplicationScope: 'messageGroup', autoScaling: {} }).autoScaling, { maxPartitions: 8 });
  t.throws(() => creationAttributes({ mode: 'stream', autoScaling: {} }), { message: /queues only \(not streams\)/ });
  t.throws(() => creationAttributes({ autoScaling: { minPartitions: 5, maxPartitions: 2 } }), { message: /minPartitions at most maxPartitions/ });
  t.throws(() => creationAttributes({ autoScaling: { scaleUpPercent: 20, scaleDownPercent: 40 } }), { message: /scaleDownPercent below/ });
  t.throws(() => creationAttributes({ autoScaling: { budgetMessages: 0 } }), { message: /autoScaling.budgetMessages/ });
  t.throws(() => creationAttributes({ autoScaling: { burst: 1 } }), { message: /autoScaling/ });
});

test('a FIFO queue replaces its active partitions to grow and to shrink, and changes nothing while one drains', (t) => {
  const { w, round, load } = world(true);
  w.now += 10_000;
  load(0, { messages: 900 });
  t.deepEqual(layouts(round()), ['draining,active,active'], 'one partition replaced by two new ones');
  t.deepEqual(meta(w).layout?.previous, [0]);
  t.is(w.get('q', 1).replicas.length, 3, 'the new partitions are placed');
  // Busy again, but partition 0 still drains: no change until it is retired.
  load(1, { messages: 900 });
  load(2, { messages: 900 });
  w.now += 10_000;
  t.deepEqual(layouts(round()), []);
  load(0, { sealed: true, messages: 0 });
  t.deepEqual(layouts(round()), ['retired,active,active']);
  w.now += 10_000;
  t.deepEqual(layouts(round()), ['retired,draining,draining,active,active,active'], 'two replaced by three');
  t.deepEqual(meta(w).layout?.previous, [1, 2]);
  // Idle: once both have retired and the delay has passed, three are replaced by two.
  for (const id of [1, 2]) load(id, { sealed: true, messages: 0 });
  for (const id of [3, 4, 5]) load(id, { messages: 0 });
  const seen: string[] = [];
  for (let i = 0; i < 200 && seen.length < 3; i++) {
    seen.push(...layouts(round()));
    w.now += 1000;
  }
  t.deepEqual(seen, ['retired,retired,draining,active,active,active', 'retired,retired,retired,active,active,active', 'retired,retired,retired,draining,draining,draining,active,active']);
  t.deepEqual(meta(w).layout?.previous, [3, 4, 5]);
});
