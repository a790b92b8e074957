/**
 * The shard keeper machine (actors/hosts/keeper.machine.ts) of three hosts on XState's
 * SimulatedClock, writing into the simulated cluster of manager-fakes.ts: every keeper runs at once
 * (no leader); a new queue gets one shard per host; a silent host's shard is fenced and taken over
 * only after the failure timeout, once.
 */
import test from 'ava';
import { createActor, fromPromise, SimulatedClock, type Actor } from 'xstate';
import { DEFAULT_KEEPER_OPTIONS, keeperMachine } from '../../actors/hosts/keeper.machine.ts';
import type { WriteInput, WriteOutput } from '../../actors/manager/manager.events.ts';
import { keyOf, type Write } from '../../actors/manager/view.ts';
import { flush } from './partition-fakes.ts';
import { World, written } from './manager-fakes.ts';

const HOSTS = ['a', 'b', 'c'];
const HEARTBEAT_MS = 500;
const FAILURE_MS = DEFAULT_KEEPER_OPTIONS.failureTimeoutMs;

interface Keeper {
  id: string;
  actor: Actor<typeof keeperMachine>;
  cut: boolean;
  /** Decisions whose write won. */
  won: Write[];
}

function harness() {
  const clock = new SimulatedClock();
  clock.set(10_000);
  const world = new World({ failureTimeoutMs: FAILURE_MS });
  world.now = clock.now();
  for (const h of HOSTS) world.addNode(h, 'active', `${h}-1`);
  const keepers: Keeper[] = [];
  const broadcast = () => {
    for (const k of keepers) if (!k.cut) k.actor.send({ type: 'metadata', snapshot: world.snapshot() });
  };
  for (const id of HOSTS) {
    const k = { id, cut: false, won: [] } as unknown as Keeper;
    const machine = keeperMachine.provide({
      actors: {
        writeDecisions: fromPromise<WriteOutput, WriteInput>(async ({ input }) => {
          if (k.cut) throw new Error('disconnected');
          const outcomes = world.apply(input.decisions);
          input.decisions.forEach((d, i) => outcomes[i]?.kind !== 'conflict' && k.won.push(d));
          queueMicrotask(broadcast);
          return { outcomes, snapshot: world.snapshot() };
        }),
      },
    });
    k.actor = createActor(machine, {
      clock,
      input: { nodeId: id, options: DEFAULT_KEEPER_OPTIONS, now: () => clock.now(), wall: () => 1_700_000_000_000 + clock.now() },
    });
    k.actor.start();
    keepers.push(k);
  }
  let lastBeat = -Infinity;
  const advance = async (ms: number, step = 50) => {
    await flush(5);
    for (let done = 0; done < ms; done += step) {
      clock.increment(Math.min(step, ms - done));
      world.now = clock.now();
      if (clock.now() - lastBeat >= HEARTBEAT_MS) {
        lastBeat = clock.now();
        for (const node of HOSTS) {
          if (world.down.has(node)) continue;
          const hb = world.heartbeatOf(node);
          for (const k of keepers) if (!k.cut) k.actor.send({ type: 'heartbeat', heartbeat: hb });
        }
      }
      await flush(5);
    }
  };
  broadcast();
  return { clock, world, keepers, advance, broadcast, keeper: (id: string) => keepers.find((k) => k.id === id) as Keeper };
}

test('three keepers, no leader: a new queue gets one shard per host, created once', async (t) => {
  const h = harness();
  await h.advance(1000);
  h.world.addQueue('q', 3);
  h.broadcast();
  await h.advance(1000);
  const shards = [0, 1, 2].map((p) => h.world.get('q', p));
  t.deepEqual(shards.map((a) => a.primary).sort(), HOSTS);
  const creations = h.keepers.flatMap((k) => k.won.filter((d) => d.kind === 'create'));
  t.is(creations.length, 3, 'each shard created by one keeper');
  t.is(new Set(h.keepers.filter((k) => k.won.length > 0).map((k) => k.id)).size, 1, 'by the queue\'s decider');
});

test('a silent host\'s shard is fenced after the failure timeout, not before, and taken over once', async (t) => {
  const h = harness();
  h.world.addQueue('q', 3);
  h.broadcast();
  await h.advance(2000);
  const dead = h.world.get('q', 0).primary as string;
  const key = keyOf(h.world.get('q', 0));
  h.world.down.add(dead);
  h.keeper(dead).cut = true;
  await h.advance(FAILURE_MS - 600);
  t.is(h.world.get('q', 0).epoch, 1, 'not fenced before the failure timeout');
  await h.advance(5000);
  const after = h.world.get('q', 0);
  t.not(after.primary, null);
  t.not(after.primary, dead);
  t.is(after.epoch, 2);
  const writes = h.keepers
    .flatMap((k) => k.won)
    .filter((d) => d.kind === 'update')
    .map(written)
    .filter((a) => a !== undefined && keyOf(a) === key);
  t.deepEqual(writes.map((a) => [a?.epoch, a?.primary]), [[2, null], [2, after.primary]], 'one fence, one takeover');
  for (const p of [1, 2]) t.is(h.world.get('q', p).epoch, 1, 'the survivors keep their own shards');
});
