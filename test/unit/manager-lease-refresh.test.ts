/**
 * Taking over a lease whose watched revision is not the leader's (the mixed chaos run of
 * 2026-11-23, seed 77). After nats-server hard kills, the manager bucket's replicas numbered the
 * same entries differently: the stream leader (s1) held the last lease, {holder n3, term 17}, at
 * sequence 452, the followers (s2, s3) at 451. The nodes' KV watches are R1 ordered consumers,
 * and all three had been placed on followers, so every standby cached revision 451 and took the
 * lease by CAS on 451, which the leader refused; the machine counted it a lost race, waited a
 * lease timeout and tried 451 again: no manager became active for the whole drain.
 *
 * Here the real manager machine (SimulatedClock) runs over the real Metadata service, whose
 * buckets are fakes: writes and gets go to the "leader", the watch reads a "follower" whose
 * numbering is off by one either way. A lost swap must re-read the key from the leader, so the
 * next attempt names the leader's revision.
 */
import test from 'ava';
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import { pino } from 'pino';
import { createActor, fromPromise, SimulatedClock } from 'xstate';
import {
  DEFAULT_MANAGER_OPTIONS,
  type LeaseWriteInput,
  type LeaseWriteOutput,
  type ManagerEmitted,
  type MetadataSnapshot,
  type WriteInput,
  type WriteOutput,
} from '../../actors/manager/manager.events.ts';
import { managerMachine } from '../../actors/manager/manager.machine.ts';
import { keyOf } from '../../actors/manager/view.ts';
import { Metadata } from '../../src/meta/metadata.ts';
import { buckets, MANAGER_LEASE_KEY, type ManagerLease } from '../../src/meta/records.ts';
import { flush } from './partition-fakes.ts';

const LEASE = DEFAULT_MANAGER_OPTIONS.leaseTimeoutMs;
const encode = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

interface Stored {
  value: Uint8Array;
  revision: number;
}

/** One bucket as its stream leader serves it: the only copy compare-and-swaps are checked against. */
class LeaderKv {
  readonly keys = new Map<string, Stored>();
  seq = 0;
  casAttempts: number[] = [];

  private conflict(key: string): JetStreamApiError {
    return new JetStreamApiError({
      code: 400,
      err_code: JetStreamApiCodes.StreamWrongLastSequence,
      description: `wrong last sequence: ${this.keys.get(key)?.revision ?? 0}`,
    });
  }

  async create(key: string, value: Uint8Array): Promise<number> {
    this.casAttempts.push(0);
    if (this.keys.has(key)) throw this.conflict(key);
    this.keys.set(key, { value, revision: ++this.seq });
    return this.seq;
  }

  async update(key: string, value: Uint8Array, revision: number): Promise<number> {
    this.casAttempts.push(revision);
    if (this.keys.get(key)?.revision !== revision) throw this.conflict(key);
    this.keys.set(key, { value, revision: ++this.seq });
    return this.seq;
  }

  async get(key: string) {
    const e = this.keys.get(key);
    return e === undefined ? null : { key, value: e.value, revision: e.revision, operation: 'PUT' as const };
  }
}

/** A watch served from a follower: the leader's entries, numbered `offset` apart. */
function followerWatch(leader: LeaderKv, offset: number) {
  return {
    status: async () => ({ values: leader.keys.size, streamInfo: { state: { last_seq: leader.seq + offset } } }),
    watch: async () => {
      const entries = [...leader.keys].map(([key, e]) => ({
        key,
        value: e.value,
        revision: e.revision + offset,
        operation: 'PUT',
        isUpdate: false,
        delta: 0,
      }));
      let stop!: () => void;
      const stopped = new Promise<void>((resolve) => (stop = resolve));
      return {
        stop,
        async *[Symbol.asyncIterator]() {
          yield* entries;
          await stopped;
        },
      };
    },
  };
}

/** An empty bucket, for the three the test does not use. */
function emptyKv() {
  const leader = new LeaderKv();
  return { kv: leader, watch: followerWatch(leader, 0) };
}

async function takeOver(t: import('ava').ExecutionContext, offset: number) {
  const lease: ManagerLease = { holder: 'n3', term: 17, renewedAt: 1_795_477_585_328 };
  const manager = new LeaderKv();
  manager.seq = 451;
  manager.keys.set(MANAGER_LEASE_KEY, { value: encode(lease), revision: 452 });
  manager.seq = 452;

  const others = { queues: emptyKv(), partitions: emptyKv(), nodes: emptyKv() };
  const kvs = { queues: others.queues.kv, partitions: others.partitions.kv, nodes: others.nodes.kv, manager };
  const watchKvs = {
    queues: others.queues.watch,
    partitions: others.partitions.watch,
    nodes: others.nodes.watch,
    manager: followerWatch(manager, offset),
  };
  const nc = { isClosed: () => false };
  // The constructor is private (Metadata.open needs a NATS server); the buckets are the fakes above.
  const Ctor = Metadata as unknown as new (...args: unknown[]) => Metadata;
  const metadata = new Ctor(nc, {}, kvs, watchKvs, buckets('wharf-t'), pino({ level: 'silent' }));
  const watched = (metadata as unknown as { buckets: Record<string, { start(): Promise<void>; stop(): void }> }).buckets;
  await Promise.all(Object.values(watched).map((b) => b.start()));
  t.teardown(() => Object.values(watched).forEach((b) => b.stop()));
  t.is(metadata.lease()?.revision, 452 + offset, 'the cache holds the follower-numbered revision');

  const snapshot = (): MetadataSnapshot => ({
    queues: new Map(metadata.queues().map((q) => [q.value.name, q.value])),
    assignments: new Map(metadata.assignments().map((a) => [keyOf(a.value), a])),
    nodes: new Map(metadata.nodes().map((n) => [n.value.id, n])),
    lease: metadata.lease(),
  });
  const clock = new SimulatedClock();
  clock.set(10_000);
  const machine = managerMachine.provide({
    actors: {
      casLease: fromPromise<LeaseWriteOutput, LeaseWriteInput>(({ input }) => metadata.casLease(input.lease, input.revision)),
      writeDecisions: fromPromise<WriteOutput, WriteInput>(async () => ({ outcomes: [], snapshot: snapshot() })),
    },
  });
  const actor = createActor(machine, {
    clock,
    input: { nodeId: 'n1', options: DEFAULT_MANAGER_OPTIONS, now: () => clock.now(), wall: () => 1_795_477_600_000 + clock.now() },
  });
  const events: ManagerEmitted[] = [];
  actor.on('leadership', (e) => events.push(e));
  actor.start();
  t.teardown(() => actor.stop());
  metadata.onLease(() => actor.send({ type: 'metadata', snapshot: snapshot() }));
  actor.send({ type: 'metadata', snapshot: snapshot() });

  // The holder is gone (the final restart): nobody renews. Ten lease timeouts is plenty.
  await flush(5);
  for (let ms = 0; ms < 10 * LEASE; ms += 50) {
    clock.increment(50);
    await flush(5);
  }
  t.true(actor.getSnapshot().matches('active'), `took the lease; CAS attempts on revisions ${manager.casAttempts.join(', ')}`);
  t.deepEqual(
    events.map((e) => ({ active: e.active, term: e.term })),
    [{ active: true, term: 18 }],
  );
  const stored = manager.keys.get(MANAGER_LEASE_KEY);
  t.like(JSON.parse(new TextDecoder().decode(stored?.value)), { holder: 'n1' });
  t.is(manager.casAttempts[0], 452 + offset, 'the first attempt names the watched revision and loses');
  t.true(manager.casAttempts.includes(452), 'a later attempt names the leader’s revision');
}

test('a standby whose watch numbers the lease one behind the leader takes it over', (t) => takeOver(t, -1));

test('a standby whose watch numbers the lease one ahead of the leader takes it over', (t) => takeOver(t, +1));
