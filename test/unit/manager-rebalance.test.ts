/**
 * Replica moves, always catch-up then switch: rebalancing when nodes join (rate limited), draining
 * a node, replacing the replicas of a node that stays dead, removing a node. Each scenario is run
 * to a fixed point in the simulated cluster of manager-fakes.ts, checking invariants every round.
 */
import test from 'ava';
import { decide } from '../../actors/manager/decide.ts';
import { spread, World, written } from './manager-fakes.ts';

const OPTIONS = { failureTimeoutMs: 3000, replaceAfterMs: 30_000, maxConcurrentMoves: 2 };

/** `nodes` nodes, `queues` queues of 3 partitions with factor 3, placed and settled, with data. */
function cluster(nodes: string[], queues = 4): World {
  const w = new World(OPTIONS);
  for (const n of nodes) w.addNode(n);
  for (let i = 0; i < queues; i++) w.addQueue(`q${i}`, 3, 3);
  w.settle(decide);
  for (let i = 0; i < queues; i++) for (let p = 0; p < 3; p++) w.append(`q${i}`, p, 10 + p);
  w.heartbeat();
  return w;
}

/** Invariants of every round: no partition ever has fewer voters than its factor, moves are bounded. */
function guard(t: { fail(message: string): void }, maxLearners: number) {
  return (w: World) => {
    let learners = 0;
    for (const { value } of w.assignments.values()) {
      learners += value.learners.length;
      if (value.replicas.length < 3) t.fail(`${value.queue}.${value.partition} has ${value.replicas.length} voters`);
      if (value.primary !== null && !value.replicas.includes(value.primary)) t.fail('primary is not a voter');
    }
    if (learners > maxLearners) t.fail(`${learners} learners in flight`);
  };
}

test('joining nodes receive replicas by catch-up then switch, at most maxConcurrentMoves at a time', (t) => {
  const w = cluster(['a', 'b', 'c']);
  t.deepEqual([...w.replicaCounts().values()], [12, 12, 12]);
  w.addNode('d');
  w.addNode('e');
  const steps = w.settle(decide, { afterRound: guard(t, OPTIONS.maxConcurrentMoves) });
  const nodes = ['a', 'b', 'c', 'd', 'e'];
  t.true(spread(w.replicaCounts(nodes)) <= 1, JSON.stringify([...w.replicaCounts(nodes)]));
  t.true(spread(w.primaryCounts(nodes)) <= 1, JSON.stringify([...w.primaryCounts(nodes)]));
  t.true((w.replicaCounts(nodes).get('d') ?? 0) >= 7);
  for (const { value } of w.assignments.values()) {
    t.deepEqual(value.learners, []);
    t.deepEqual(value.leaving, []);
  }
  t.true(steps.some((d) => /rebalance/.test(d.reason)));
  t.true(steps.some((d) => /caught up: it replaces/.test(d.reason)));
  // Data moved with the replicas: every voter has the primary's log.
  for (const [key, { value }] of w.assignments) {
    const end = w.log(value.primary!, key).logEnd;
    for (const r of value.replicas) t.is(w.log(r, key).logEnd, end, `${key} on ${r}`);
  }
});

test('a learner is voted in only once it has the primary\'s committed entries', (t) => {
  const w = cluster(['a', 'b', 'c'], 1);
  w.addNode('d');
  w.heartbeat();
  const add = decide(w.view()).find((d) => written(d)?.learners.includes('d'));
  t.truthy(add, 'd joins some partition as a learner');
  w.apply([add!]);
  const a = written(add)!;
  const key = `${a.queue}.${a.partition}`;
  // d reports before it has fetched anything: behind the commit index.
  for (const n of ['a', 'b', 'c']) w.receive(w.heartbeatOf(n));
  w.receive({ node: 'd', boot: 'd-boot', at: 0, state: 'active', replicas: [{ queue: a.queue, partition: a.partition, role: 'learner', epoch: a.epoch, lastEpoch: 1, logEnd: 3, commitIndex: 0 }] });
  t.false(decide(w.view()).some((d) => written(d)?.replicas.includes('d')), 'not while behind');
  const end = w.log(a.primary!, key).logEnd;
  w.receive({ node: 'd', boot: 'd-boot', at: 0, state: 'active', replicas: [{ queue: a.queue, partition: a.partition, role: 'learner', epoch: a.epoch, lastEpoch: 1, logEnd: end, commitIndex: end }] });
  const promote = decide(w.view()).find((d) => written(d)?.replicas.includes('d'));
  t.truthy(promote);
  t.is(written(promote)?.replicas.length, 3, 'it replaces the replica it was added for');
  t.deepEqual(written(promote)?.learners, []);
});

test('a drained node hands over its primaries, then its replicas, then is marked removed', (t) => {
  const w = cluster(['a', 'b', 'c', 'd']);
  const before = w.replicaCounts().get('a') ?? 0;
  t.true(before > 0);
  w.setNodeState('a', 'draining');
  const steps = w.settle(decide, { afterRound: guard(t, Infinity) });
  t.is(w.nodes.get('a')?.value.state, 'removed');
  for (const { value } of w.assignments.values()) {
    t.false([...value.replicas, ...value.learners, ...value.leaving].includes('a'));
    t.not(value.primary, 'a');
    t.is(value.replicas.length, 3);
  }
  t.true(steps.some((d) => /drains and .* follows caught up: fencing/.test(d.reason)));
  t.true(spread(w.replicaCounts(['b', 'c', 'd'])) <= 1);
  const last = steps.at(-1);
  t.is(last?.kind, 'node');
});

test('a drain waits while no other node can take the replicas', (t) => {
  const w = cluster(['a', 'b', 'c'], 1);
  w.setNodeState('a', 'draining');
  w.settle(decide, { afterRound: guard(t, Infinity) });
  t.is(w.nodes.get('a')?.value.state, 'draining', 'three replicas need three nodes');
  for (const { value } of w.assignments.values()) t.not(value.primary, 'a', 'its primaries moved all the same');
  w.addNode('d');
  w.settle(decide, { afterRound: guard(t, Infinity) });
  t.is(w.nodes.get('a')?.value.state, 'removed');
});

test('a replica on a node dead for replaceAfterMs is replaced on another node; not sooner', (t) => {
  const w = cluster(['a', 'b', 'c', 'd']);
  const victim = 'c';
  const held = w.replicaCounts().get(victim) ?? 0;
  w.down.add(victim);
  w.now += OPTIONS.failureTimeoutMs;
  // Primaries on c fail over; nothing is moved yet.
  w.settle(decide, { stepMs: 0 });
  t.is(w.replicaCounts().get(victim), held);
  for (const { value } of w.assignments.values()) t.not(value.primary, victim);

  w.now += OPTIONS.replaceAfterMs - 1;
  const moves = (steps: ReturnType<typeof w.settle>) => steps.filter((d) => !/in-sync/.test(d.reason));
  t.deepEqual(moves(w.settle(decide, { stepMs: 0 })), [], 'only in-sync sets recorded');
  w.now += 1;
  const steps = w.settle(decide, { stepMs: 0 });
  t.true(steps.some((d) => /which has been dead for/.test(d.reason)));
  t.is(w.replicaCounts().get(victim), 0);
  for (const { value } of w.assignments.values()) {
    t.is(value.replicas.length, 3);
    t.deepEqual(value.leaving, []);
  }
});

test('a node that comes back before its replicas were replaced keeps them', (t) => {
  const w = cluster(['a', 'b', 'c', 'd']);
  w.down.add('d');
  w.now += OPTIONS.failureTimeoutMs + 1000;
  w.settle(decide, { stepMs: 0 });
  const held = w.replicaCounts().get('d');
  w.down.delete('d');
  w.settle(decide);
  t.is(w.replicaCounts().get('d'), held);
});

test('a removed node is replaced at once, dead or alive', (t) => {
  const w = cluster(['a', 'b', 'c', 'd']);
  w.setNodeState('b', 'removed');
  w.down.add('b');
  w.now += 10;
  const steps = w.settle(decide);
  t.is(w.replicaCounts().get('b'), 0);
  t.true(steps.some((d) => /was removed/.test(d.reason)));
  for (const { value } of w.assignments.values()) t.is(value.replicas.length, 3);
});

test('the learner of a move whose target dies is dropped and another node is chosen', (t) => {
  const w = cluster(['a', 'b', 'c', 'd', 'e'], 1);
  w.setNodeState('a', 'draining');
  w.heartbeat();
  // Let the drain pick learners but not let them catch up: their node goes down at once.
  w.apply(decide(w.view()));
  const learners = new Set([...w.assignments.values()].flatMap(({ value }) => value.learners));
  if (learners.size === 0) {
    w.heartbeat();
    w.apply(decide(w.view()));
  }
  const target = [...w.assignments.values()].flatMap(({ value }) => value.learners)[0];
  t.truthy(target);
  w.down.add(target!);
  w.now += OPTIONS.failureTimeoutMs;
  const steps = w.settle(decide, { afterRound: guard(t, Infinity) });
  t.true(steps.some((d) => new RegExp(`learner ${target} is dead`).test(d.reason)));
  t.is(w.nodes.get('a')?.value.state, 'removed');
});
