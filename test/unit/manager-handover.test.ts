/**
 * Graceful stops (actors/manager/handover.ts, election.ts plannedFence): a stopping node's
 * primaries move to caught-up followers at once, by a fence and an election that avoid it, and
 * nothing is moved to it meanwhile; a restart ends the hand-over.
 */
import test from 'ava';
import { decide } from '../../actors/manager/decide.ts';
import { handoverPlan } from '../../actors/manager/handover.ts';
import { assignment, World, written } from './manager-fakes.ts';

function threeNodes(partitions = 3): World {
  const w = new World();
  for (const n of ['a', 'b', 'c']) w.addNode(n);
  w.addQueue('q', partitions, 3);
  w.heartbeat();
  w.settle(decide);
  for (let p = 0; p < partitions; p++) w.append('q', p, 5);
  w.heartbeat();
  return w;
}

const stopping = (w: World, node: string) => w.handovers.set(node, { boot: `${node}-boot`, until: w.now + 30_000 });

test('a stopping node hands every primary it holds to a caught-up follower, without waiting for silence', (t) => {
  const w = threeNodes();
  const node = w.get('q', 0).primary as string;
  const before = [0, 1, 2].filter((p) => w.get('q', p).primary === node);
  t.true(before.length > 0);
  t.deepEqual(handoverPlan(w.view(), node).staying, []);
  t.deepEqual(
    handoverPlan(w.view(), node).moving.map((m) => m.partition),
    before.map((p) => `q.${p}`),
  );
  stopping(w, node);
  const writes = w.settle(decide);
  for (const p of before) {
    const a = w.get('q', p);
    t.not(a.primary, node);
    t.is(a.epoch, 2, 'one fence, one election');
    t.deepEqual([...a.replicas].sort(), ['a', 'b', 'c'], 'its replicas stay');
  }
  t.true(writes.some((d) => /is stopping/.test(d.reason)));
  t.is(w.primaryCounts().get(node), 0, 'and none is balanced back while it stops');
});

test('a primary with no caught-up follower stays, and the answer says so', (t) => {
  const w = new World();
  for (const n of ['a', 'b']) w.addNode(n);
  w.addQueue('q', 1, 1);
  w.put(assignment('q', 0, ['a']));
  w.heartbeat();
  const plan = handoverPlan(w.view(), 'a');
  t.deepEqual(plan.moving, []);
  t.like(plan.staying[0], { partition: 'q.0', reason: 'no other voting replica on an active, live node' });
  stopping(w, 'a');
  t.is(w.get('q').primary, 'a');
  const decisions = decide(w.view());
  t.false(decisions.some((d) => written(d)?.primary === null), 'no fence without a successor');
});

test('no new partition is placed on a stopping node', (t) => {
  const w = threeNodes(1);
  stopping(w, 'c');
  w.addQueue('r', 1, 2);
  w.heartbeat();
  w.settle(decide);
  t.false(w.get('r').replicas.includes('c'));
});

test('a restart (another boot) ends the hand-over', (t) => {
  const w = threeNodes(3);
  const node = w.get('q', 0).primary as string;
  w.handovers.set(node, { boot: 'an-earlier-boot', until: w.now + 30_000 });
  t.deepEqual(decide(w.view()).filter((d) => written(d)?.primary === null), [], 'its boot is another one now');
  stopping(w, node);
  w.now += 30_000;
  w.heartbeat();
  t.deepEqual(decide(w.view()).filter((d) => written(d)?.primary === null), [], 'expired');
});

test('the election after a hand-over waits for every live voter rather than re-elect the stopping node', (t) => {
  const w = new World();
  for (const n of ['a', 'b', 'c']) w.addNode(n);
  w.addQueue('q', 1, 3);
  w.put(assignment('q', 0, ['a', 'b', 'c']));
  w.heartbeat();
  w.append('q', 0, 10);
  w.heartbeat();
  stopping(w, 'a');
  const [fence] = decide(w.view());
  t.like(written(fence), { primary: null, epoch: 2 });
  w.apply([fence!]);
  // a had two more entries its followers had not fetched (uncommitted): from a and b alone, only a is safe.
  w.log('a', 'q.0').logEnd = 12;
  w.now += 100;
  w.receive(w.heartbeatOf('a'));
  w.receive(w.heartbeatOf('b'));
  t.deepEqual(decide(w.view()), [], 'c has not reported yet');
  w.receive(w.heartbeatOf('c'));
  const [pick] = decide(w.view());
  t.is(written(pick)?.primary, 'b', 'b is as complete as c: a quorum of two');
});
