/**
 * The external cluster manager machine (actors/external) on XState's SimulatedClock, over an
 * in-memory deployment metadata with revisions and compare-and-swap: placement of new queues,
 * split and merge, moving queues away from a cluster that fails or goes silent, retiring drained
 * parts, and a standby taking over.
 */
import test from 'ava';
import { createActor, fromPromise, SimulatedClock, type Actor } from 'xstate';
import { DEFAULT_EXTERNAL_OPTIONS, type ExternalAnswer, type ExternalDecision, type ExternalOptions, type ExternalOutcome, type ExternalRequest, type ExternalWriteInput, type ExternalWriteOutput, type DeploymentSnapshot } from '../../actors/external/external.events.ts';
import { externalMachine } from '../../actors/external/external.machine.ts';
import type { LeaseWriteInput, LeaseWriteOutput } from '../../actors/manager/manager.events.ts';
import type { ClusterHealth, ClusterRecord, QueueRoute } from '../../src/meta/deployment-records.ts';
import type { ManagerLease } from '../../src/meta/records.ts';
import type { Versioned } from '../../src/meta/watched-bucket.ts';
import { creationAttributes } from '../../src/protocol/attributes.ts';
import { flush } from './partition-fakes.ts';

const OPTIONS: ExternalOptions = { ...DEFAULT_EXTERNAL_OPTIONS, clusterTimeoutMs: 5000, moveAfterMs: 10_000 };
const LEASE = OPTIONS.leaseTimeoutMs;
const REPORT_MS = 1000;

class Deployment {
  revision = 0;
  clusters = new Map<string, Versioned<ClusterRecord>>();
  routes = new Map<string, Versioned<QueueRoute>>();
  lease: Versioned<ManagerLease> | undefined;
  /** Parts that still hold messages (`<queue>@<cluster>`). */
  nonEmpty = new Set<string>();
  /** Queues created on each cluster, and deleted. */
  created: string[] = [];
  deleted: string[] = [];
  /** Clusters that stopped reporting. */
  silent = new Set<string>();
  health = new Map<string, ClusterHealth>();

  report(name: string): void {
    if (this.silent.has(name)) return;
    const record: ClusterRecord = {
      name, model: 'primary', health: this.health.get(name) ?? 'healthy', reason: '', nodes: 3, alive: 3, queues: 0,
      partitions: 0, leaderless: 0, underReplicated: 0, committed: 0, reporter: 'n1', reportedAt: 0,
    };
    this.clusters.set(name, { value: record, revision: ++this.revision });
  }

  snapshot(): DeploymentSnapshot {
    return { clusters: new Map(this.clusters), routes: new Map(this.routes), lease: this.lease };
  }

  casLease(lease: ManagerLease, revision: number): number | undefined {
    if ((this.lease?.revision ?? 0) !== revision) return undefined;
    this.lease = { value: lease, revision: ++this.revision };
    return this.lease.revision;
  }

  casRoute(route: QueueRoute, revision: number): ExternalOutcome {
    if ((this.routes.get(route.queue)?.revision ?? 0) !== revision) return { kind: 'conflict' };
    this.routes.set(route.queue, { value: route, revision: ++this.revision });
    return { kind: 'written', revision: this.revision };
  }

  apply(d: ExternalDecision): ExternalOutcome {
    switch (d.kind) {
      case 'place':
        if (this.silent.has(d.cluster)) return { kind: 'failed', error: 'cluster unreachable' };
        this.created.push(`${d.route.queue}@${d.cluster}`);
        return this.casRoute(d.route, d.revision);
      case 'update':
        return this.casRoute(d.route, d.revision);
      case 'retire': {
        if (this.nonEmpty.has(`${d.queue}@${d.cluster}`)) return { kind: 'busy' };
        const outcome = this.casRoute(d.route, d.revision);
        if (outcome.kind === 'written') this.deleted.push(`${d.queue}@${d.cluster}`);
        return outcome;
      }
      case 'delete':
        if (this.routes.get(d.queue)?.revision !== d.revision) return { kind: 'conflict' };
        this.routes.delete(d.queue);
        for (const c of d.clusters) this.deleted.push(`${d.queue}@${c}`);
        return { kind: 'deleted' };
    }
  }
}

interface Manager {
  id: string;
  actor: Actor<typeof externalMachine>;
  cut: boolean;
  writes: ExternalDecision[][];
  answers: ExternalAnswer[];
}

function harness(clusters: string[]) {
  const clock = new SimulatedClock();
  clock.set(10_000);
  const world = new Deployment();
  for (const c of clusters) world.report(c);
  const managers: Manager[] = [];
  const broadcast = () => {
    for (const m of managers) if (!m.cut) m.actor.send({ type: 'metadata', snapshot: world.snapshot() });
  };
  const spawn = (id: string): Manager => {
    const m = { id, cut: false, writes: [], answers: [] } as unknown as Manager;
    const machine = externalMachine.provide({
      actors: {
        casLease: fromPromise<LeaseWriteOutput, LeaseWriteInput>(async ({ input }) => {
          if (m.cut) throw new Error('disconnected');
          const revision = world.casLease(input.lease, input.revision);
          queueMicrotask(broadcast);
          return revision;
        }),
        writeDecisions: fromPromise<ExternalWriteOutput, ExternalWriteInput>(async ({ input }) => {
          if (m.cut) throw new Error('disconnected');
          m.writes.push(input.decisions);
          const outcomes = input.decisions.map((d) => world.apply(d));
          queueMicrotask(broadcast);
          return { outcomes, snapshot: world.snapshot() };
        }),
      },
    });
    m.actor = createActor(machine, { clock, input: { nodeId: id, options: OPTIONS, now: () => clock.now(), wall: () => 1_700_000_000_000 + clock.now() } });
    m.actor.on('answer', (a) => m.answers.push(a));
    m.actor.start();
    m.actor.send({ type: 'metadata', snapshot: world.snapshot() });
    managers.push(m);
    return m;
  };
  let lastReport = clock.now();
  /** Moves time in steps; every cluster that is not silent reports every REPORT_MS. */
  const advance = async (ms: number, step = 100) => {
    await flush(5);
    for (let done = 0; done < ms; done += step) {
      clock.increment(Math.min(step, ms - done));
      if (clock.now() - lastReport >= REPORT_MS) {
        lastReport = clock.now();
        for (const c of world.clusters.keys()) world.report(c);
        broadcast();
      }
      await flush(5);
    }
  };
  let next = 0;
  const ask = async (m: Manager, request: ExternalRequest): Promise<ExternalAnswer> => {
    const id = `r${next++}`;
    m.actor.send({ type: 'request', id, request });
    for (let i = 0; i < 50; i++) {
      const a = m.answers.find((x) => x.id === id);
      if (a !== undefined) return a;
      await advance(100);
    }
    throw new Error(`no answer to ${id}`);
  };
  const active = (m: Manager) => m.actor.getSnapshot().matches('active');
  const parts = (queue: string) => world.routes.get(queue)?.value.parts.map((p) => `${p.cluster}:${p.state}`) ?? [];
  return { clock, world, spawn, advance, ask, active, parts, managers };
}

const attributes = (fifo = false) => creationAttributes({ fifo });
const create = (queue: string, fifo = false): ExternalRequest => ({ kind: 'create', queue, attributes: attributes(fifo) });

test('new queues go to the healthy cluster with the fewest active parts, never to a failing one', async (t) => {
  const h = harness(['a', 'b', 'c']);
  h.world.health.set('c', 'failing');
  h.world.report('c');
  const m = h.spawn('m1');
  await h.advance(200);
  t.true(h.active(m));
  const placed: string[] = [];
  for (const q of ['q1', 'q2', 'q3', 'q4']) {
    const answer = await h.ask(m, create(q));
    t.true(answer.ok);
    placed.push(...h.parts(q));
  }
  t.deepEqual(placed.sort(), ['a:active', 'a:active', 'b:active', 'b:active']);
  // Asking again for an existing queue answers its route and writes nothing.
  const writes = m.writes.length;
  const again = await h.ask(m, create('q1'));
  t.like(again, { ok: true });
  t.is(m.writes.length, writes);
  // A degraded cluster is used only when no healthy one is left.
  h.world.health.set('a', 'degraded');
  h.world.health.set('b', 'degraded');
  h.world.health.set('c', 'healthy');
  await h.advance(REPORT_MS + 100);
  await h.ask(m, create('q5'));
  t.deepEqual(h.parts('q5'), ['c:active']);
});

test('a split spreads a queue over clusters; a merge drains the other parts and retires them once empty', async (t) => {
  const h = harness(['a', 'b']);
  const m = h.spawn('m1');
  await h.advance(200);
  await h.ask(m, create('q'));
  const split = await h.ask(m, { kind: 'split', queue: 'q', parts: 2 });
  t.true(split.ok);
  t.deepEqual(h.parts('q').sort(), ['a:active', 'b:active']);
  t.deepEqual(h.world.created.sort(), ['q@a', 'q@b'], 'each part was created on its cluster before the route named it');

  h.world.nonEmpty.add('q@b');
  const merge = await h.ask(m, { kind: 'merge', queue: 'q', into: 'a' });
  t.true(merge.ok);
  t.deepEqual(h.parts('q'), ['a:active', 'b:draining']);
  await h.advance(3 * OPTIONS.retireCheckMs);
  t.deepEqual(h.parts('q'), ['a:active', 'b:draining'], 'a part with messages left is not retired');
  t.deepEqual(h.world.deleted, []);
  h.world.nonEmpty.delete('q@b');
  await h.advance(OPTIONS.retireCheckMs + 500);
  t.deepEqual(h.parts('q'), ['a:active']);
  t.deepEqual(h.world.deleted, ['q@b']);

  // Splitting again takes a new part; FIFO queues are not split.
  await h.ask(m, create('f', true));
  const refused = await h.ask(m, { kind: 'split', queue: 'f', parts: 2 });
  t.like(refused, { ok: false, code: 'invalid_parameter' });
  const missing = await h.ask(m, { kind: 'split', queue: 'nope', parts: 2 });
  t.like(missing, { ok: false, code: 'queue_not_found' });
});

test('a queue moves away from a cluster silent for moveAfterMs, and its old part is retired once the cluster is back and empty', async (t) => {
  const h = harness(['a', 'b']);
  const m = h.spawn('m1');
  await h.advance(200);
  await h.ask(m, create('q'));
  const home = h.world.routes.get('q')?.value.parts[0]?.cluster as string;
  const other = home === 'a' ? 'b' : 'a';
  h.world.silent.add(home);
  h.world.nonEmpty.add(`q@${home}`);
  // Unreachable after clusterTimeoutMs, moved after a further moveAfterMs: not before.
  await h.advance(OPTIONS.clusterTimeoutMs + OPTIONS.moveAfterMs - 1500);
  t.deepEqual(h.parts('q'), [`${home}:active`], 'no move before the cluster has been bad for moveAfterMs');
  await h.advance(2000);
  t.deepEqual(h.parts('q'), [`${home}:draining`, `${other}:active`], 'sends go to a new part on the healthy cluster');

  // The cluster comes back: its part drains (consumers still read it), then goes.
  h.world.silent.delete(home);
  await h.advance(3 * OPTIONS.retireCheckMs);
  t.deepEqual(h.parts('q'), [`${home}:draining`, `${other}:active`]);
  h.world.nonEmpty.delete(`q@${home}`);
  await h.advance(OPTIONS.retireCheckMs + 1000);
  t.deepEqual(h.parts('q'), [`${other}:active`]);
});

test('a split queue only stops sending to the failing cluster: its other part takes every send', async (t) => {
  const h = harness(['a', 'b']);
  const m = h.spawn('m1');
  await h.advance(200);
  await h.ask(m, create('q'));
  await h.ask(m, { kind: 'split', queue: 'q', parts: 2 });
  h.world.health.set('b', 'failing');
  await h.advance(OPTIONS.moveAfterMs + 2 * REPORT_MS);
  t.deepEqual(h.parts('q'), ['a:active', 'b:draining']);
  t.is(h.world.created.length, 2, 'no new part was needed');
  // A report of health in between restarts the count: a flapping cluster is not moved off at once.
  h.world.health.set('b', 'healthy');
  await h.advance(OPTIONS.retireCheckMs + REPORT_MS);
  t.deepEqual(h.parts('q'), ['a:active'], 'the drained part went');
});

test('one manager is active; a standby takes over after the lease stops moving and answers the requests', async (t) => {
  const h = harness(['a', 'b']);
  const m1 = h.spawn('m1');
  await h.advance(200);
  const m2 = h.spawn('m2');
  await h.advance(3 * LEASE);
  t.true(h.active(m1));
  t.false(h.active(m2));
  const refused = await h.ask(m2, create('q'));
  t.like(refused, { ok: false, code: 'not_leader' });
  t.deepEqual(m2.writes, []);

  m1.cut = true;
  await h.advance(2 * LEASE);
  t.false(h.active(m1), 'the cut-off manager stepped down before its lease could expire elsewhere');
  t.true(h.active(m2));
  t.like(h.world.lease?.value, { holder: 'm2', term: 2 });
  const answer = await h.ask(m2, create('q'));
  t.true(answer.ok);
  t.is(h.parts('q').length, 1);
});
