/**
 * Elections (actors/manager/election.ts through decide.ts): the two steps, what starts one, and
 * properties of the pick over random reports — never a learner, a dead node, a non-replica or a
 * replica behind a quorum; always the most complete log of some quorum; no pick without a quorum.
 */
import test from 'ava';
import fc from 'fast-check';
import { decide } from '../../actors/manager/decide.ts';
import { comparePositions, elect } from '../../actors/manager/election.ts';
import { buildView, DEFAULT_DECISION_OPTIONS, keyOf, type AssignmentView, type Heard } from '../../actors/manager/view.ts';
import { quorum, type NodeRecord, type ReplicaReport, type ReplicaRole } from '../../src/meta/records.ts';
import { assignment, queueMeta, report, threeNodes, World, written } from './manager-fakes.ts';

const TIMEOUT = DEFAULT_DECISION_OPTIONS.failureTimeoutMs;

test('a silent primary is fenced, then the most complete frozen log of a quorum is elected', (t) => {
  const w = threeNodes();
  w.down.add('a');
  w.log('c', 'q.0').logEnd = 8; // c lagged behind b when a stopped
  w.now += TIMEOUT - 1;
  w.heartbeat();
  t.deepEqual(decide(w.view()), [], 'a is only suspected so far');

  w.now += 1;
  const [fence] = decide(w.view());
  t.is(fence?.kind, 'update');
  t.like(written(fence), { primary: null, epoch: 2, replicas: ['a', 'b', 'c'], previous: { primary: 'a', epoch: 1 } });
  t.regex(fence?.reason ?? '', /silent/);
  w.apply([fence!]);

  // Step 2 waits for reports heard after the fence, at its epoch.
  t.deepEqual(decide(w.view()), []);
  w.heartbeat();
  const [pick] = decide(w.view());
  t.like(written(pick), { primary: 'b', epoch: 2, previous: { primary: 'a', epoch: 1 } }, 'the new primary learns whom to ask for the lease');
  t.regex(pick?.reason ?? '', /logEnd 10/);
});

test('no election without a quorum of frozen logs: the partition waits', (t) => {
  const w = threeNodes();
  w.down.add('a');
  w.down.add('b');
  w.now += TIMEOUT;
  w.heartbeat();
  w.apply(decide(w.view()));
  t.is(w.get('q').primary, null);
  for (let i = 0; i < 5; i++) {
    w.now += TIMEOUT;
    w.heartbeat();
    t.deepEqual(decide(w.view()), [], 'c alone is not a quorum of three');
  }
  w.down.delete('b');
  w.heartbeat();
  const [pick] = decide(w.view());
  t.is(written(pick)?.primary, 'b', 'b and c are a quorum; tie on the log, b by name');
});

test('a primary reporting itself fenced, failed or a learner (amnesia) is replaced at once', (t) => {
  for (const role of ['fenced', 'failed', 'learner'] as const) {
    const w = threeNodes();
    w.now += 10;
    w.receive({
      node: 'a',
      boot: 'a-boot',
      at: 0,
      state: 'active',
      replicas: [report('q', 0, role, { epoch: 1, lastEpoch: 1, logEnd: 10, commitIndex: 10 })],
    });
    const [fence] = decide(w.view());
    t.like(written(fence), { primary: null, epoch: 2 }, role);
    t.regex(fence?.reason ?? '', new RegExp(role));
  }
});

test('a fence goes above every epoch a replica persisted, so a replica that saw a higher one obeys it', (t) => {
  // A forged log fetch (or a metadata copy that lost a write) left the primary at epoch 40 while
  // the assignment says 1: a fence at 2 would be refused by it for ever.
  const w = threeNodes();
  w.now += 10;
  w.receive({
    node: 'a',
    boot: 'a-boot',
    at: 0,
    state: 'active',
    replicas: [report('q', 0, 'fenced', { epoch: 40, lastEpoch: 1, logEnd: 10, commitIndex: 10 })],
  });
  const [fence] = decide(w.view());
  t.like(written(fence), { primary: null, epoch: 41, previous: { primary: 'a', epoch: 1 } });
});

test('a fenced report from an older epoch does not start another election', (t) => {
  const w = threeNodes();
  w.put({ ...w.get('q'), epoch: 3 });
  w.now += 10;
  w.receive({ node: 'a', boot: 'a-boot', at: 0, state: 'active', replicas: [report('q', 0, 'fenced', { epoch: 2 })] });
  t.deepEqual(decide(w.view()), []);
});

test('an interrupted election (primary null in KV) resumes at step 2 after a takeover', (t) => {
  const w = new World();
  for (const n of ['a', 'b', 'c']) w.addNode(n);
  w.addQueue('q');
  w.put(assignment('q', 0, ['a', 'b', 'c'], { primary: null, epoch: 4 }));
  w.logs.get('a')?.set('q.0', { epoch: 4, lastEpoch: 3, logEnd: 50, commitIndex: 40 });
  w.logs.get('b')?.set('q.0', { epoch: 4, lastEpoch: 3, logEnd: 52, commitIndex: 40 });
  w.logs.get('c')?.set('q.0', { epoch: 4, lastEpoch: 2, logEnd: 60, commitIndex: 30 });
  w.heartbeat();
  const [pick] = decide(w.view());
  t.like(written(pick), { primary: 'b', epoch: 4 }, 'the highest (lastEpoch, logEnd): epoch 3 beats a longer epoch-2 log');
  t.is(pick?.revision, w.assignments.get('q.0')?.revision);
});

test('learners, non-replicas and stale reports are never counted or elected', (t) => {
  const w = threeNodes();
  w.addNode('d');
  w.put({ ...w.get('q'), primary: null, epoch: 2, learners: ['d'] });
  w.now += 1;
  // d claims to be a follower with a longer log; c's report predates the fence.
  const fresh = (node: string, fields: Partial<ReplicaReport>) =>
    w.receive({ node, boot: `${node}-boot`, at: 0, state: 'active', replicas: [report('q', 0, 'follower', { epoch: 2, ...fields })] });
  fresh('d', { lastEpoch: 1, logEnd: 99 });
  fresh('b', { lastEpoch: 1, logEnd: 10 });
  t.deepEqual(decide(w.view()), [], 'b alone: d is a learner, a and c have not reported');
  fresh('c', { lastEpoch: 1, logEnd: 12, epoch: 1 });
  t.deepEqual(decide(w.view()), [], 'c still reports epoch 1: not frozen at the fence');
  fresh('c', { lastEpoch: 1, logEnd: 12 });
  t.is(written(decide(w.view())[0])?.primary, 'c');
});

test('a draining primary moves by a planned election to a caught-up follower', (t) => {
  const w = threeNodes();
  w.setNodeState('a', 'draining');
  w.heartbeat();
  const [fence] = decide(w.view());
  t.like(written(fence), { primary: null, epoch: 2 });
  t.is(fence?.kind === 'update' ? fence.move?.from : undefined, 'a');
  w.apply([fence!]);
  w.heartbeat();
  const [pick] = decide(w.view());
  t.true(written(pick)?.primary === 'b' || written(pick)?.primary === 'c');
});

test('a planned move waits for a caught-up follower', (t) => {
  const w = threeNodes();
  w.setNodeState('a', 'draining');
  w.append('q', 0, 5);
  // Followers have not fetched the last entries, and the primary says they are committed.
  const hb = w.heartbeatOf('a');
  w.receive({ ...hb, replicas: hb.replicas.map((r) => ({ ...r, commitIndex: 15 })) });
  for (const n of ['b', 'c']) {
    w.receive({ node: n, boot: `${n}-boot`, at: 0, state: 'active', replicas: [report('q', 0, 'follower', { logEnd: 10, commitIndex: 10 })] });
  }
  const decisions = decide(w.view()).filter((d) => d.kind !== 'node' && d.assignment.primary === null);
  t.deepEqual(decisions, []);
});

// ---- properties of step 2 over random reports ----

const NODES = ['n0', 'n1', 'n2', 'n3', 'n4', 'n5', 'n6'];
const ROLES: ReplicaRole[] = ['loading', 'primary', 'follower', 'learner', 'fenced', 'failed'];

const nodeArb = fc.record({
  silentMs: fc.constantFrom(0, TIMEOUT / 2, TIMEOUT),
  state: fc.constantFrom<NodeRecord['state']>('active', 'active', 'draining', 'removed'),
  report: fc.option(
    fc.record({
      role: fc.constantFrom(...ROLES, 'follower', 'follower'),
      epochDelta: fc.integer({ min: -1, max: 1 }),
      lastEpoch: fc.integer({ min: 0, max: 3 }),
      logEnd: fc.integer({ min: 0, max: 6 }),
      late: fc.boolean(),
      /** An amnesiac learner's witness position. */
      witness: fc.option(fc.record({ lastEpoch: fc.integer({ min: 0, max: 3 }), logEnd: fc.integer({ min: 0, max: 6 }) }), { freq: 3 }),
    }),
    { freq: 4 },
  ),
});

const scenarioArb = fc
  .record({
    voters: fc.integer({ min: 1, max: 5 }),
    learners: fc.integer({ min: 0, max: 2 }),
    epoch: fc.integer({ min: 2, max: 5 }),
    nodes: fc.array(nodeArb, { minLength: NODES.length, maxLength: NODES.length }),
    move: fc.option(fc.record({ from: fc.constantFrom(...NODES), to: fc.constantFrom(...NODES) })),
  })
  .map((s) => ({ ...s, replicas: NODES.slice(0, s.voters), learnerIds: NODES.slice(s.voters, s.voters + s.learners) }));

type Scenario = typeof scenarioArb extends fc.Arbitrary<infer T> ? T : never;

function scenarioView(s: Scenario) {
  const now = 100_000;
  const since = now - 500;
  const a: AssignmentView = {
    value: assignment('q', 0, s.replicas, { primary: null, epoch: s.epoch, learners: s.learnerIds }),
    revision: 9,
    since,
  };
  const heard = new Map<string, Heard>();
  const records = new Map<string, { value: NodeRecord; revision: number }>();
  NODES.forEach((id, i) => {
    const n = s.nodes[i]!;
    records.set(id, { value: { id, boot: id, state: n.state, registeredAt: 0 }, revision: i + 1 });
    const r = n.report;
    const reports = new Map<string, ReplicaReport>();
    if (r !== null) {
      const witness = r.role === 'learner' && r.witness !== null ? { witness: r.witness } : {};
      reports.set('q.0', report('q', 0, r.role, { epoch: s.epoch + r.epochDelta, lastEpoch: r.lastEpoch, logEnd: r.logEnd, ...witness }));
    }
    // A late report arrived before the fence was seen; its node may have spoken since only through silence.
    heard.set(id, { boot: id, state: n.state, at: r?.late === true ? since - 1 : now - n.silentMs, reports });
  });
  const view = buildView({
    now,
    wall: 0,
    options: DEFAULT_DECISION_OPTIONS,
    listeningSince: 0,
    queues: new Map([['q', queueMeta('q', 1, s.voters)]]),
    records,
    assignments: new Map([[keyOf(a.value), a]]),
    heard,
    moves: s.move === null ? new Map() : new Map([['q.0', s.move]]),
  });
  return { view, a };
}

test('property: the elected replica is a live voter holding the most complete log of a quorum', (t) => {
  fc.assert(
    fc.property(scenarioArb, (s) => {
      const { view, a } = scenarioView(s);
      const outcome = elect(view, a);
      // The frozen logs the protocol counts: voters' follower reports at the fence epoch, heard after
      // it, and amnesiac learners' witness positions (counted, never elected).
      const frozen = s.replicas.flatMap((id) => {
        const r = view.reports.get(id)?.get('q.0');
        if (r === undefined || r.epoch < s.epoch || r.at < a.since) return [];
        if (r.role === 'follower') return [{ id, r, witness: false }];
        if (r.role === 'learner' && r.witness !== undefined) return [{ id, r: { ...r, ...r.witness }, witness: true }];
        return [];
      });
      const needed = quorum(s.replicas.length);
      const maxOfQuorum = (r: ReplicaReport) => frozen.filter((o) => comparePositions(o.r, r) <= 0).length >= needed;
      if (frozen.length < needed) return outcome.kind === 'wait';
      if (outcome.kind === 'wait') {
        // A planned move waits, for a while, for every live voter's report rather than elect the
        // node it moves off.
        const from = s.move?.from;
        const silent = s.replicas.some((id) => view.nodes.get(id)?.liveness === 'alive' && !frozen.some((f) => f.id === id));
        if (from !== undefined && silent && frozen.some((f) => f.id === from && !f.witness && maxOfQuorum(f.r))) return true;
        // Otherwise waiting is allowed only when no live, non-removed follower is the maximum of a quorum.
        return frozen.every(({ id, r, witness }) => {
          const node = view.nodes.get(id)!;
          return witness || !maxOfQuorum(r) || node.liveness !== 'alive' || node.state === 'removed';
        });
      }
      const pick = frozen.find((f) => f.id === outcome.primary);
      const node = view.nodes.get(outcome.primary);
      return (
        pick !== undefined &&
        !pick.witness &&
        s.replicas.includes(outcome.primary) &&
        !s.learnerIds.includes(outcome.primary) &&
        node?.liveness === 'alive' &&
        node.state !== 'removed' &&
        // Not behind: at least as complete as a quorum of frozen logs, itself included.
        maxOfQuorum(pick.r)
      );
    }),
    { numRuns: 3000 },
  );
  t.pass();
});

test('property: with no preference in play the pick is the most complete frozen log of all', (t) => {
  fc.assert(
    fc.property(scenarioArb, (s) => {
      const { view, a } = scenarioView({ ...s, move: null, nodes: s.nodes.map((n) => ({ ...n, silentMs: 0, state: 'active' })) });
      const outcome = elect(view, a);
      if (outcome.kind === 'wait') return true;
      const frozen = s.replicas.flatMap((id) => {
        const r = view.reports.get(id)?.get('q.0');
        return r !== undefined && r.role === 'follower' && r.epoch >= s.epoch && r.at >= a.since ? [r] : [];
      });
      const picked = view.reports.get(outcome.primary)?.get('q.0') as ReplicaReport;
      return frozen.every((r) => comparePositions(r, picked) <= 0);
    }),
    { numRuns: 2000 },
  );
  t.pass();
});
