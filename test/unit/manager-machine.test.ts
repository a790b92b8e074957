/**
 * The manager machine (actors/manager/manager.machine.ts) on XState's SimulatedClock, with fake
 * effects over the simulated cluster of manager-fakes.ts: the lease (taken, renewed, lost, taken
 * over), the decision loop (only while active, one batch at a time, again after a lost CAS), and a
 * failover driven by heartbeats alone.
 */
import test from 'ava';
import { createActor, fromPromise, SimulatedClock, type Actor } from 'xstate';
import {
  DEFAULT_MANAGER_OPTIONS,
  type LeaseWriteInput,
  type LeaseWriteOutput,
  type ManagerEmitted,
  type ManagerOptions,
  type WriteInput,
  type WriteOutput,
} from '../../actors/manager/manager.events.ts';
import { managerMachine } from '../../actors/manager/manager.machine.ts';
import { releasedLease } from '../../actors/lease/lease.ts';
import type { Write } from '../../actors/manager/view.ts';
import { flush } from './partition-fakes.ts';
import { World } from './manager-fakes.ts';

const LEASE = DEFAULT_MANAGER_OPTIONS.leaseTimeoutMs;
const HEARTBEAT_MS = 500;

interface Manager {
  id: string;
  actor: Actor<typeof managerMachine>;
  /** Cut off from NATS: its writes fail and it hears nothing. */
  cut: boolean;
  writes: Write[][];
  leaseWrites: number;
  events: Array<ManagerEmitted & { at: number }>;
  /** Makes the next assignment writes lose their CAS this many times. */
  conflicts: number;
}

function harness(options: Partial<ManagerOptions> = {}) {
  const clock = new SimulatedClock();
  clock.set(10_000);
  const opts: ManagerOptions = { ...DEFAULT_MANAGER_OPTIONS, ...options };
  const world = new World(opts);
  world.now = clock.now();
  const managers: Manager[] = [];

  const broadcast = () => {
    for (const m of managers) if (!m.cut) m.actor.send({ type: 'metadata', snapshot: world.snapshot() });
  };
  const disconnected = <T>(): Promise<T> => Promise.reject(new Error('disconnected'));

  const spawn = (id: string, { synced = true } = {}): Manager => {
    const m = { id, cut: false, writes: [], leaseWrites: 0, events: [], conflicts: 0 } as unknown as Manager;
    const machine = managerMachine.provide({
      actors: {
        casLease: fromPromise<LeaseWriteOutput, LeaseWriteInput>(async ({ input }) => {
          if (m.cut) return disconnected();
          m.leaseWrites++;
          const revision = world.casLease(input.lease, input.revision);
          queueMicrotask(broadcast);
          return revision;
        }),
        writeDecisions: fromPromise<WriteOutput, WriteInput>(async ({ input }) => {
          if (m.cut) return disconnected();
          m.writes.push(input.decisions);
          if (m.conflicts > 0) {
            m.conflicts--;
            // Someone else moved every assignment first.
            for (const d of input.decisions) if (d.kind !== 'node' && d.kind !== 'create' && d.kind !== 'layout') world.put(world.get(d.assignment.queue, d.assignment.partition));
          }
          const outcomes = world.apply(input.decisions);
          queueMicrotask(broadcast);
          return { outcomes, snapshot: world.snapshot() };
        }),
      },
    });
    m.actor = createActor(machine, {
      clock,
      input: { nodeId: id, options: opts, now: () => clock.now(), wall: () => 1_700_000_000_000 + clock.now() },
    });
    m.actor.on('leadership', (e) => m.events.push({ ...e, at: clock.now() }));
    m.actor.start();
    if (synced) m.actor.send({ type: 'metadata', snapshot: world.snapshot() });
    managers.push(m);
    return m;
  };

  const heartbeat = () => {
    for (const node of world.nodes.keys()) {
      if (world.down.has(node)) continue;
      const hb = world.heartbeatOf(node);
      for (const m of managers) if (!m.cut) m.actor.send({ type: 'heartbeat', heartbeat: hb });
    }
  };

  let lastBeat = clock.now();
  /** Moves time in steps, nodes heartbeating every HEARTBEAT_MS, letting every actor run. */
  const advance = async (ms: number, step = 50) => {
    await flush(5);
    for (let done = 0; done < ms; done += step) {
      clock.increment(Math.min(step, ms - done));
      world.now = clock.now();
      if (clock.now() - lastBeat >= HEARTBEAT_MS) {
        lastBeat = clock.now();
        heartbeat();
      }
      await flush(5);
    }
  };

  const active = (m: Manager) => m.actor.getSnapshot().matches('active');
  return { clock, world, spawn, advance, heartbeat, broadcast, active, managers };
}

test('a manager takes an absent lease only once it has the metadata, and renews it', async (t) => {
  const h = harness();
  const m = h.spawn('m1', { synced: false });
  await h.advance(LEASE);
  t.false(h.active(m));
  t.is(m.leaseWrites, 0, 'no lease write before the first metadata snapshot');
  h.broadcast();
  await h.advance(10);
  t.true(h.active(m));
  t.like(h.world.lease?.value, { holder: 'm1', term: 1 });
  const revision = h.world.lease?.revision ?? 0;
  await h.advance(10 * LEASE);
  t.true(h.active(m));
  t.like(h.world.lease?.value, { holder: 'm1', term: 1 }, 'renewals keep the term');
  t.true((h.world.lease?.revision ?? 0) >= revision + 9, 'renewed about every third of the timeout');
  t.deepEqual(m.events.map((e) => e.active), [true]);
});

test('one manager is active; the standby takes over only after the holder stopped, with the next term', async (t) => {
  const h = harness();
  for (const n of ['a', 'b', 'c']) h.world.addNode(n);
  h.world.addQueue('q', 2, 3);
  const m1 = h.spawn('m1');
  await h.advance(10);
  const m2 = h.spawn('m2');
  await h.advance(5 * LEASE);
  t.true(h.active(m1));
  t.false(h.active(m2));
  t.is(h.world.assignments.size, 2, 'the active manager placed the queue');
  const before = [...h.world.assignments.values()].map((a) => ({ ...a.value, updatedAt: 0 }));
  t.deepEqual(m2.writes, [], 'the standby wrote nothing');

  const cutAt = h.clock.now();
  m1.cut = true;
  await h.advance(2 * LEASE);
  const down = m1.events.find((e) => !e.active);
  const up = m2.events.find((e) => e.active);
  t.truthy(down, 'the cut-off manager stepped down');
  t.truthy(up, 'the standby took over');
  t.true(down!.at < up!.at, `stepped down at +${down!.at - cutAt} ms, taken over at +${up!.at - cutAt} ms`);
  t.true(down!.at - cutAt <= LEASE, 'the holder gives up before its lease can have expired elsewhere');
  t.true(up!.at - cutAt >= LEASE - LEASE / 3, 'the standby waited for the lease to stop moving');
  t.like(h.world.lease?.value, { holder: 'm2', term: 2 });
  t.false(h.active(m1));

  await h.advance(3 * LEASE);
  const after = [...h.world.assignments.values()].map((a) => ({ ...a.value, updatedAt: 0 }));
  t.deepEqual(after, before, 'the new manager resumed from the metadata without resetting anything');
});

/** m1 active, m2 standing by, a lease after m1 took it. */
async function activeAndStandby() {
  const h = harness();
  const m1 = h.spawn('m1');
  await h.advance(10);
  const m2 = h.spawn('m2');
  await h.advance(LEASE);
  return { h, m1, m2 };
}

test('a lease given up by a stopping holder is taken at once, with the next term', async (t) => {
  const { h, m1, m2 } = await activeAndStandby();
  t.true(h.active(m1));
  const held = h.world.lease;
  if (held === undefined) return t.fail('no lease');

  // What the node's stop does (src/manager/manager.ts): stop the machine, then give the lease up by CAS.
  m1.actor.send({ type: 'stop' });
  t.truthy(h.world.casLease(releasedLease({ revision: held.revision, term: held.value.term, validFrom: 0 }, 'm1', 0), held.revision));
  h.broadcast();
  await h.advance(50);
  t.true(h.active(m2), 'taken well before the lease could have run out');
  t.like(h.world.lease?.value, { holder: 'm2', term: held.value.term + 1 });
  t.is(h.world.lease?.value.released, undefined, 'the new holder holds it outright');
});

test('a holder whose renewals did not get through takes its own lease back at once while nobody else wrote it', async (t) => {
  const { h, m1, m2 } = await activeAndStandby();
  t.true(h.active(m1));
  const term = h.world.lease?.value.term ?? 0;

  // The metadata stalls for m1 (its writes fail, it hears nothing) until it stops acting.
  m1.cut = true;
  await h.advance(LEASE * 0.9);
  t.false(h.active(m1), 'stopped acting before the lease could have run out elsewhere');
  t.false(h.active(m2), 'and the standby still waits it out');
  m1.cut = false;
  h.broadcast();
  await h.advance(50);
  t.true(h.active(m1), 'the lease was still at its last write: taken back without waiting');
  t.false(h.active(m2));
  t.like(h.world.lease?.value, { holder: 'm1', term: term + 1 });

  // Once another manager wrote the lease, its old revision no longer counts.
  m1.cut = true;
  await h.advance(2 * LEASE);
  t.true(h.active(m2), 'the standby took over after the lease stopped moving');
  m1.cut = false;
  h.broadcast();
  await h.advance(LEASE);
  t.false(h.active(m1));
  t.like(h.world.lease?.value, { holder: 'm2' });
});

test('a standby makes no decisions, whatever it sees', async (t) => {
  const h = harness();
  for (const n of ['a', 'b', 'c']) h.world.addNode(n);
  h.world.casLease({ holder: 'elsewhere', term: 4, renewedAt: 0 }, 0);
  const m = h.spawn('m1');
  h.world.addQueue('q', 3, 3);
  for (let i = 0; i < 10; i++) {
    // The holder elsewhere renews, so the lease never stops moving.
    h.world.casLease({ holder: 'elsewhere', term: 4, renewedAt: i }, h.world.lease?.revision ?? 0);
    h.broadcast();
    await h.advance(LEASE / 2);
  }
  t.false(h.active(m));
  t.deepEqual(m.writes, []);
  t.is(m.leaseWrites, 0);
  t.is(h.world.assignments.size, 0);
});

test('seeing another holder write the lease ends leadership at once', async (t) => {
  const h = harness();
  const m = h.spawn('m1');
  await h.advance(100);
  t.true(h.active(m));
  h.world.casLease({ holder: 'usurper', term: 9, renewedAt: 0 }, h.world.lease?.revision ?? 0);
  h.broadcast();
  await h.advance(1);
  t.false(h.active(m));
  t.regex(m.events.at(-1)?.reason ?? '', /taken by usurper/);
});

test('a renewal that loses its CAS ends leadership', async (t) => {
  const h = harness();
  const m = h.spawn('m1');
  await h.advance(100);
  // The lease moved, but this manager has not seen it (its cache lags): the renewal finds out.
  h.world.casLease({ holder: 'usurper', term: 9, renewedAt: 0 }, h.world.lease?.revision ?? 0);
  await h.advance(LEASE / 3 + 100);
  t.false(h.active(m));
  t.deepEqual(m.events.map((e) => e.active), [true, false]);
});

test('a failover from heartbeats alone: silence, fence, frozen reports, election of the most complete log', async (t) => {
  const h = harness();
  for (const n of ['a', 'b', 'c']) h.world.addNode(n);
  h.world.addQueue('q', 1, 3);
  h.spawn('m1');
  await h.advance(2000);
  const primary = h.world.get('q').primary as string;
  t.truthy(primary);
  h.world.append('q', 0, 20);
  await h.advance(1000);
  const [ahead, behind] = h.world.get('q').replicas.filter((n) => n !== primary) as [string, string];
  h.world.down.add(primary);
  h.world.log(behind, 'q.0').logEnd = 17; // it had not fetched the last entries
  const stoppedAt = h.clock.now();
  await h.advance(DEFAULT_MANAGER_OPTIONS.failureTimeoutMs - 600);
  t.is(h.world.get('q').primary, primary, 'not before the failure timeout');
  await h.advance(3000);
  const a = h.world.get('q');
  t.is(a.primary, ahead);
  t.is(a.epoch, 2);
  t.log(`new primary ${h.clock.now() - stoppedAt} ms after the last heartbeat (upper bound of this check)`);
});

test('a batch that loses its CAS is decided again from fresher metadata', async (t) => {
  const h = harness();
  for (const n of ['a', 'b', 'c']) h.world.addNode(n);
  h.world.addQueue('q', 1, 3);
  const m = h.spawn('m1');
  await h.advance(1000);
  h.world.setNodeState(h.world.get('q').primary as string, 'draining');
  m.conflicts = 2;
  h.broadcast();
  await h.advance(3000);
  t.true(m.writes.length >= 3, `${m.writes.length} batches`);
  t.not(h.world.get('q').primary, null);
  t.true(h.world.get('q').epoch >= 2, 'the planned move went through in the end');
});

test('after a reconnection, silence is counted afresh: nodes heard from again are not fenced', async (t) => {
  const h = harness();
  for (const n of ['a', 'b', 'c']) h.world.addNode(n);
  h.world.addQueue('q', 3, 3);
  const m = h.spawn('m1');
  await h.advance(2000);
  const epochs = () => [0, 1, 2].map((p) => h.world.get('q', p).epoch);
  t.deepEqual(epochs(), [1, 1, 1]);
  m.cut = true;
  await h.advance(3 * LEASE);
  t.false(h.active(m), 'it stepped down while cut off');
  m.cut = false;
  m.actor.send({ type: 'reconnected' });
  h.broadcast();
  await h.advance(3 * LEASE);
  t.true(h.active(m), 'it took the lease again');
  t.deepEqual(epochs(), [1, 1, 1], 'no primary was fenced for the heartbeats it could not hear');
});

test('stop ends the machine', async (t) => {
  const h = harness();
  const m = h.spawn('m1');
  await h.advance(100);
  m.actor.send({ type: 'stop' });
  await h.advance(10);
  t.is(m.actor.getSnapshot().status, 'done');
  t.deepEqual(m.events.map((e) => e.active), [true, false]);
});
