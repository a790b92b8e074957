/**
 * Store identity in the manager's decisions (actors/manager/stores.ts, election.ts): a voting
 * replica whose node came back with another store is a learner until it has caught up — never
 * elected, its report not counted toward an election's quorum nor in sync — then its new store is
 * recorded and it votes again. Assignments without recorded stores keep working and get them.
 */
import test from 'ava';
import { decide } from '../../actors/manager/decide.ts';
import { DEFAULT_DECISION_OPTIONS, keyOf } from '../../actors/manager/view.ts';
import { asSeenByStore, storeReplaced } from '../../src/meta/store-identity.ts';
import { assignment, threeNodes, World, written } from './manager-fakes.ts';

const TIMEOUT = DEFAULT_DECISION_OPTIONS.failureTimeoutMs;

const placed = () => threeNodes(true);

test('a new partition records the store of each of its replicas', (t) => {
  const w = new World();
  for (const n of ['a', 'b', 'c']) w.addNode(n, 'active', `${n}-1`);
  w.addNode('old'); // a node that reports no store
  w.addQueue('q', 2, 4);
  w.heartbeat();
  w.settle(decide);
  for (const p of [0, 1]) {
    const a = w.get('q', p);
    t.deepEqual(a.stores, { a: 'a-1', b: 'b-1', c: 'c-1' }, 'the node without a store id is left out');
    t.true(a.replicas.includes('old'));
  }
});

test('the node acts as a learner on an assignment that recorded another store for it', (t) => {
  const a = assignment('q', 0, ['a', 'b', 'c'], { stores: { a: 'a-1', b: 'b-1', c: 'c-1' } });
  t.is(asSeenByStore(a, 'c', 'c-1'), a, 'its own store: unchanged');
  t.like(asSeenByStore(a, 'c', 'c-2'), { replicas: ['a', 'b'], learners: ['c'], primary: 'a' });
  t.like(asSeenByStore(a, 'a', 'a-2'), { replicas: ['b', 'c'], learners: ['a'], primary: 'a' }, 'a primary too: it must not lead');
  const legacy = assignment('q', 0, ['a', 'b', 'c']);
  t.is(asSeenByStore(legacy, 'c', 'c-2'), legacy, 'nothing recorded: taken at its word');
  t.false(storeReplaced(legacy, 'c', 'c-2'));
  t.false(storeReplaced(a, 'c', undefined));
});

test('a wiped follower is not counted in an election, and the lagging one is not elected on its say', (t) => {
  const w = placed();
  // c comes back on an empty store; b lags behind what a and c had committed.
  w.log('b', 'q.0').logEnd = 7;
  w.down.add('b');
  w.heartbeat();
  w.wipe('c', 'c-2');
  w.down.delete('b');
  w.down.add('a'); // the primary dies before c has caught up
  w.log('b', 'q.0').logEnd = 7;
  w.now += TIMEOUT;
  w.heartbeat();
  const [fence] = decide(w.view());
  t.like(written(fence), { primary: null, epoch: 2 });
  w.apply([fence!]);
  for (let i = 0; i < 5; i++) {
    w.now += 500;
    w.heartbeat();
    t.deepEqual(decide(w.view()), [], 'b alone is not a quorum: c lost its log and does not count');
  }
  t.is(w.get('q').primary, null);
  // a comes back: a and b are a quorum, and a has the entries.
  w.down.delete('a');
  w.heartbeat();
  const [pick] = decide(w.view());
  t.like(written(pick), { primary: 'a', epoch: 2 });
  t.regex(pick?.reason ?? '', /logEnd 10/);
});

test('without store ids the same loss goes unnoticed: the lagging follower is elected', (t) => {
  // The counter-test: what the store ids are for.
  const w = threeNodes();
  w.log('b', 'q.0').logEnd = 7;
  w.logs.set('c', new Map()); // wiped, unseen
  w.down.add('a');
  w.now += TIMEOUT;
  w.heartbeat();
  w.apply(decide(w.view()));
  w.heartbeat();
  const [pick] = decide(w.view());
  t.like(written(pick), { primary: 'b' }, 'b (7 entries) wins over c (0): 3 committed entries are lost');
});

test('a wiped follower catches up as a learner, then its new store is recorded and it votes again', (t) => {
  const w = placed();
  w.wipe('c', 'c-2');
  // Its first report, before it copied anything (this world copies at every heartbeat).
  w.receive({ ...w.heartbeatOf('c'), replicas: [{ queue: 'q', partition: 0, role: 'learner', epoch: 1, lastEpoch: 0, logEnd: 0, commitIndex: 0 }] });
  w.receive(w.heartbeatOf('a'));
  t.deepEqual(decide(w.view()), [], 'still behind: nothing to record yet');
  w.heartbeat();
  const decisions = decide(w.view());
  t.is(decisions.length, 1);
  t.like(written(decisions[0]), { replicas: ['a', 'b', 'c'], stores: { a: 'a-1', b: 'b-1', c: 'c-2' }, primary: 'a', epoch: 1 });
  t.regex(decisions[0]?.reason ?? '', /new store c-2 and has caught up: it votes again/);
  w.apply(decisions);
  w.heartbeat();
  t.is(w.heartbeatOf('c').replicas[0]?.role, 'follower', 'the node acts as a voter again');
});

test('a primary back on a new store is fenced at once and a follower with the log is elected', (t) => {
  const w = placed();
  w.wipe('a', 'a-2');
  w.heartbeat();
  const [fence] = decide(w.view());
  t.like(written(fence), { primary: null, epoch: 2 });
  t.regex(fence?.reason ?? '', /new store/);
  w.apply([fence!]);
  w.heartbeat();
  const [pick] = decide(w.view());
  t.not(written(pick)?.primary, 'a');
  t.true(['b', 'c'].includes(written(pick)?.primary ?? ''));
});

test('a report from the store a node no longer has is neither a witness nor a candidate', (t) => {
  const w = placed();
  w.log('b', 'q.0').logEnd = 7;
  w.down.add('a');
  w.down.add('b');
  w.now += TIMEOUT;
  w.heartbeat();
  const [fence] = decide(w.view());
  w.apply([fence!]);
  // c's old process reports its frozen log (10 entries) at the new epoch ...
  w.heartbeat();
  t.like(w.heard.get('c')?.reports.get('q.0'), { role: 'follower', epoch: 2, logEnd: 10 });
  // ... then restarts on an empty store: its record (written at start) shows the new store before any heartbeat does.
  const record = w.nodes.get('c')!;
  w.nodes.set('c', { value: { ...record.value, store: 'c-2' }, revision: record.revision + 100 });
  w.down.delete('b');
  w.down.add('c');
  w.heartbeat();
  t.deepEqual(decide(w.view()), [], 'b alone is not a quorum, and c must not be elected on what its old store held');
});

test('the in-sync set the manager records leaves out a replica in a new store', (t) => {
  const w = placed();
  w.put({ ...w.get('q'), isr: ['a', 'b'] });
  w.wipe('c', 'c-2');
  w.now += TIMEOUT; // the in-sync set is recorded at most once per half failure timeout
  // The primary still names c (it reported before it saw c fetch as a learner); c has not caught up.
  w.receive({ ...w.heartbeatOf('a'), replicas: [{ ...w.heartbeatOf('a').replicas[0]!, isr: ['a', 'b', 'c'] }] });
  w.receive({ ...w.heartbeatOf('c'), replicas: [{ queue: 'q', partition: 0, role: 'learner', epoch: 1, lastEpoch: 0, logEnd: 0, commitIndex: 0 }] });
  t.deepEqual(decide(w.view()), [], 'isr [a, b] stays: c is not in sync');
});

test('when every voting replica lost its store there is nothing to wait for: the new stores are recorded', (t) => {
  const w = new World();
  w.addNode('a', 'active', 'a-1');
  w.addQueue('q', 1, 1);
  w.put(assignment('q', 0, ['a'], { stores: { a: 'a-1' } }));
  w.heartbeat();
  w.wipe('a', 'a-2');
  w.heartbeat();
  const [accept] = decide(w.view());
  t.like(written(accept), { replicas: ['a'], primary: 'a', stores: { a: 'a-2' } });
  t.regex(accept?.reason ?? '', /earlier entries are lost/);
});

test('older assignments without stores keep working and get the stores of replicas that hold them', (t) => {
  const w = new World();
  for (const n of ['a', 'b', 'c']) w.addNode(n, 'active', `${n}-1`);
  w.addQueue('q');
  w.put(assignment('q', 0, ['a', 'b', 'c']));
  w.heartbeat();
  const [record] = decide(w.view());
  t.like(written(record), { replicas: ['a', 'b', 'c'], primary: 'a', epoch: 1, stores: { a: 'a-1', b: 'b-1', c: 'c-1' } });
  w.apply([record!]);
  w.heartbeat();
  t.deepEqual(decide(w.view()), [], 'recorded once');
  // And a failover on such an assignment works as before.
  const legacy = new World();
  for (const n of ['a', 'b', 'c']) legacy.addNode(n);
  legacy.addQueue('q');
  legacy.put(assignment('q', 0, ['a', 'b', 'c']));
  legacy.heartbeat();
  legacy.down.add('a');
  legacy.now += TIMEOUT;
  legacy.settle(decide);
  t.like(legacy.get('q'), { primary: 'b', epoch: 2 });
  t.is(legacy.get('q').stores, undefined, 'nodes without store ids: nothing recorded');
});

test('a voter dropped from a partition loses its recorded store; a learner voted in gets its own', (t) => {
  const w = new World();
  for (const n of ['a', 'b', 'c', 'd']) w.addNode(n, 'active', `${n}-1`);
  w.addQueue('q');
  w.put(assignment('q', 0, ['a', 'b', 'c'], { stores: { a: 'a-1', b: 'b-1', c: 'c-1' } }));
  w.heartbeat();
  w.setNodeState('c', 'draining');
  w.settle(decide);
  const a = w.get('q');
  t.deepEqual([...a.replicas].sort(), ['a', 'b', 'd']);
  t.deepEqual(a.stores, { a: 'a-1', b: 'b-1', d: 'd-1' });
  t.is(keyOf(a), 'q.0');
});
