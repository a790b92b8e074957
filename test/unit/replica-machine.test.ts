/**
 * The replica machine (actors/replica/replica.machine.ts) with fake effects: every effect is a
 * promise the test settles by hand, and XState's SimulatedClock drives the retry timers. The fakes
 * also watch the invariant that the machine never starts a write while another of its writes is
 * under way (its meta is rewritten by every one of them): only the fetch, which only reads, may be
 * abandoned.
 *
 * The last section holds the cases found in review: an assignment during a step-down or a
 * promotion, a newer epoch learned while primary, a removal during a write, a token of the old
 * primary.
 */
import test from 'ava';
import { createActor, fromPromise, SimulatedClock } from 'xstate';
import type { LoadInput, LoadOutput, PartitionInput } from '../../actors/partition/partition.events.ts';
import { partitionMachine } from '../../actors/partition/partition.machine.ts';
import type { ReplicaMeta } from '../../actors/replica/log.ts';
import {
  FIRST_FETCH_RETRY_MS,
  replicaMachine,
  replicaRole,
  type FetchInput,
  type FetchOutput,
  type PersistInput,
  type PromoteInput,
  type ReplicaKey,
} from '../../actors/replica/replica.machine.ts';
import type { Assignment } from '../../src/meta/records.ts';
import { deferred, flush, type Deferred } from './partition-fakes.ts';
import { ErrorCode, WharfError } from '../../src/errors.ts';

const SELF = 'n1';
const RETRY = 500;
const T0 = 1_700_000_000_000;

interface Call<I, O> {
  input: I;
  gate: Deferred<O>;
  settled: boolean;
}

/** Writes under way, across all effects: a second one starting is recorded as an overlap. */
class Writes {
  readonly active = new Set<string>();
  readonly overlaps: string[] = [];
}

class Effect<I, O> {
  readonly calls: Array<Call<I, O>> = [];
  private readonly name: string;
  private readonly writes: Writes | undefined;

  constructor(name: string, writes: Writes | undefined) {
    this.name = name;
    this.writes = writes;
  }

  logic() {
    return fromPromise<O, I>(({ input }) => {
      const call: Call<I, O> = { input, gate: deferred<O>(), settled: false };
      this.calls.push(call);
      const id = `${this.name}#${this.calls.length}`;
      if (this.writes) {
        if (this.writes.active.size > 0) this.writes.overlaps.push(`${id} started while ${[...this.writes.active].join(', ')} under way`);
        this.writes.active.add(id);
      }
      const done = () => {
        call.settled = true;
        this.writes?.active.delete(id);
      };
      return call.gate.promise.then(
        (value) => {
          done();
          return value;
        },
        (err: unknown) => {
          done();
          throw err;
        },
      );
    });
  }

  get count(): number {
    return this.calls.length;
  }

  /** The latest call. */
  get last(): Call<I, O> {
    const call = this.calls[this.calls.length - 1];
    if (!call) throw new Error(`${this.name} was never called`);
    return call;
  }

  /** Settles the latest call and lets the machine run. */
  async resolve(value: O): Promise<void> {
    this.last.gate.resolve(value);
    await flush();
  }

  async reject(err: Error): Promise<void> {
    this.last.gate.reject(err);
    await flush();
  }
}

type Meta = ReplicaMeta;
type Key = ReplicaKey;

function meta(fields: Partial<Meta> = {}): Meta {
  return { incarnation: 7, epoch: 1, epochs: [[1, 0]], logStart: 0, logEnd: 4, applied: 2, mark: 4, markEpoch: 1, installing: false, ...fields };
}

function assignment(fields: Partial<Assignment> = {}): Assignment {
  return {
    queue: 'q1',
    partition: 0,
    incarnation: 7,
    replicas: ['n1', 'n2', 'n3'],
    learners: [],
    primary: 'n2',
    epoch: 1,
    isr: [],
    leaving: [],
    updatedAt: T0,
    ...fields,
  };
}

function entries(from: number, count: number, fields: Partial<Extract<FetchOutput, { kind: 'entries' }>> = {}): FetchOutput {
  return { kind: 'entries', epoch: 1, from, entries: Array.from({ length: count }, () => new Uint8Array(1)), commit: from, token: 0, ...fields };
}

function start() {
  const clock = new SimulatedClock();
  clock.set(T0);
  const writes = new Writes();
  const fx = {
    loadReplica: new Effect<Key & { incarnation: number }, Meta>('loadReplica', writes),
    saveEpoch: new Effect<Key & { meta: Meta; epoch: number }, Meta>('saveEpoch', writes),
    fetch: new Effect<Key & FetchInput, FetchOutput>('fetch', undefined),
    persist: new Effect<Key & PersistInput, Meta>('persist', writes),
    truncate: new Effect<Key & { meta: Meta; to: number }, Meta>('truncate', writes),
    beginInstall: new Effect<Key & { meta: Meta }, Meta>('beginInstall', writes),
    install: new Effect<Key & { meta: Meta; primary: string; epoch: number }, Meta>('install', writes),
    promote: new Effect<Key & PromoteInput, Meta>('promote', writes),
    stepDown: new Effect<Key & { meta: Meta; reason: string }, Meta>('stepDown', writes),
    dropReplica: new Effect<Key & { incarnation: number }, void>('dropReplica', writes),
  };
  const partitionLoads: LoadInput[] = [];
  /** Each load of the partition actor waits here: tests may fail one. */
  const partitionGates: Array<Deferred<LoadOutput>> = [];
  // The real partition machine, held in `loading` (its load never settles): only its input matters here.
  const partition = partitionMachine.provide({
    actors: {
      loadPartition: fromPromise<LoadOutput, LoadInput>(({ input }) => {
        partitionLoads.push(input);
        const gate = deferred<LoadOutput>();
        partitionGates.push(gate);
        return gate.promise;
      }),
    },
  });
  const voterUpdates: string[][] = [];
  const machine = replicaMachine.provide({
    actors: {
      partition,
      loadReplica: fx.loadReplica.logic(),
      saveEpoch: fx.saveEpoch.logic(),
      fetch: fx.fetch.logic(),
      persist: fx.persist.logic(),
      truncate: fx.truncate.logic(),
      beginInstall: fx.beginInstall.logic(),
      install: fx.install.logic(),
      promote: fx.promote.logic(),
      stepDown: fx.stepDown.logic(),
      dropReplica: fx.dropReplica.logic(),
    },
    actions: {
      updateVoters: ({ context }) => {
        voterUpdates.push([...(context.assignment?.replicas ?? [])]);
      },
    },
  });
  const partition$: PartitionInput = {
    queue: 'q1',
    partition: 0,
    limits: { windowMessages: 1024, windowBytes: 1 << 26, maxInflight: 10_000, timerWindow: 1024 },
    tickMs: 100,
    retentionMs: 3600_000,
    retentionCheckMs: 60_000,
    now: () => clock.now(),
  };
  const actor = createActor(machine, {
    clock,
    input: { queue: 'q1', partition: 0, incarnation: 7, self: SELF, partition$, retryMs: RETRY },
  });
  const visited: string[] = [];
  actor.subscribe((snapshot) => {
    const value = JSON.stringify(snapshot.value);
    if (visited[visited.length - 1] !== value) visited.push(value);
  });
  actor.start();

  const state = () => JSON.stringify(actor.getSnapshot().value);
  const role = () => replicaRole(actor.getSnapshot());
  const context = () => actor.getSnapshot().context;
  const partitionChild = () => actor.getSnapshot().children['partition'];
  const assign = async (a: Assignment) => {
    actor.send({ type: 'assignment', assignment: a });
    await flush();
  };
  const advance = async (ms: number) => {
    clock.increment(ms);
    await flush();
  };
  return { actor, clock, fx, writes, visited, partitionLoads, partitionGates, voterUpdates, state, role, context, partitionChild, assign, advance };
}

type Replica = ReturnType<typeof start>;

/** Loaded from `m` and told `a`. */
async function loaded(m: Meta, a?: Assignment): Promise<Replica> {
  const r = start();
  await flush();
  await r.fx.loadReplica.resolve(m);
  if (a) await r.assign(a);
  return r;
}

/** Loaded at epoch 1 and promoted to primary of epoch 2 (log end 5 after its first entry). */
async function primaryAtEpoch2(): Promise<Replica> {
  const r = await loaded(meta(), assignment({ epoch: 2, primary: SELF }));
  await r.fx.saveEpoch.resolve(meta({ epoch: 2 }));
  await r.fx.promote.resolve(meta({ epoch: 2, epochs: [[1, 0], [2, 4]], logEnd: 5, applied: 4, mark: 5 }));
  return r;
}

/** Loaded at epoch 2 (log end 4) and following n2 at epoch 2. */
async function following(): Promise<Replica> {
  return loaded(meta({ epoch: 2 }), assignment({ epoch: 2, primary: 'n2' }));
}

// ---- loading -----------------------------------------------------------------------------------------

test('loads its meta, then waits in standby without an assignment', async (t) => {
  const r = start();
  await flush();
  t.is(r.role(), 'loading');
  t.deepEqual(r.fx.loadReplica.last.input, { queue: 'q1', partition: 0, incarnation: 7 });
  await r.fx.loadReplica.resolve(meta());
  t.is(r.state(), '"standby"');
  t.is(r.context().commit, 2, 'what it applied is committed');
  t.false(r.context().amnesiac);
  t.deepEqual(r.writes.overlaps, []);
  r.actor.stop();
});

test('a failed load is retried after retryMs', async (t) => {
  const r = start();
  await flush();
  await r.fx.loadReplica.reject(new Error('disk'));
  t.is(r.role(), 'failed');
  t.regex(r.context().error ?? '', /disk/);
  await r.advance(RETRY - 1);
  t.is(r.fx.loadReplica.count, 1);
  await r.advance(1);
  t.is(r.fx.loadReplica.count, 2);
  r.actor.stop();
});

// ---- becoming primary ----------------------------------------------------------------------------

test('an assignment naming this replica at a newer epoch: fencing, then promoting, then primary', async (t) => {
  const r = await loaded(meta());
  t.is(r.state(), '"standby"');
  await r.assign(assignment({ epoch: 2, primary: SELF }));

  t.is(r.state(), '"fencing"', 'the newer epoch is persisted before anything else');
  t.deepEqual(r.fx.saveEpoch.last.input, { queue: 'q1', partition: 0, meta: meta(), epoch: 2 });
  t.is(r.fx.promote.count, 0);

  await r.fx.saveEpoch.resolve(meta({ epoch: 2 }));
  t.is(r.state(), '"promoting"');
  t.is(r.role(), 'follower', 'not serving until the promotion finished');
  t.deepEqual(r.fx.promote.last.input, { queue: 'q1', partition: 0, meta: meta({ epoch: 2 }), epoch: 2, voters: ['n1', 'n2', 'n3'], commit: 2 });
  t.is(r.partitionChild(), undefined);

  const promoted = meta({ epoch: 2, epochs: [[1, 0], [2, 4]], logEnd: 5, applied: 4, mark: 5 });
  await r.fx.promote.resolve(promoted);
  t.is(r.state(), '"primary"');
  t.is(r.role(), 'primary');
  t.deepEqual(r.context().meta, promoted);
  t.not(r.partitionChild(), undefined, 'the partition actor serves clients');
  t.deepEqual(r.partitionLoads, [{ queue: 'q1', partition: 0 }]);
  t.is(r.fx.fetch.count, 0, 'a primary does not fetch');
  t.deepEqual(r.writes.overlaps, []);
  r.actor.stop();
});

test('the partition actor of a primary gets seqFloor = epoch × 2^32 (receipt handles of older primaries cannot match)', async (t) => {
  const r = await primaryAtEpoch2();
  const child = r.actor.getSnapshot().children['partition'];
  if (!child) return t.fail('no partition child');
  const snapshot = child.getSnapshot() as { context: { seqFloor?: number } };
  t.is(snapshot.context.seqFloor, 2 * 2 ** 32);
  r.actor.stop();
});

test('a primary whose store failed its partition reports failed, so that the manager moves the partition', async (t) => {
  const r = await primaryAtEpoch2();
  t.is(r.role(), 'primary');
  (r.partitionGates[0] as Deferred<LoadOutput>).reject(new WharfError(ErrorCode.StorageFailure, 'IO error: No space left on device'));
  await flush();
  t.is(r.state(), '"primary"', 'the replica stays primary: only its report changes');
  t.is(r.role(), 'failed');
  // The partition reloads after its retry delay (max(10 ticks, 1 s)); still failed while it loads.
  await r.advance(1000);
  t.is(r.partitionLoads.length, 2);
  t.is(r.role(), 'failed');
  // A failure that is not the store's (a replicated write whose outcome is unknown) does not.
  (r.partitionGates[1] as Deferred<LoadOutput>).reject(new WharfError(ErrorCode.Timeout, 'the write was logged but not finished'));
  await flush();
  t.is(r.role(), 'primary');
  r.actor.stop();
});

test('an assignment naming this replica at the epoch it has already persisted promotes without fencing', async (t) => {
  const r = await loaded(meta({ epoch: 3 }), assignment({ epoch: 3, primary: SELF }));
  t.is(r.state(), '"promoting"');
  t.is(r.fx.saveEpoch.count, 0);
  t.is(r.fx.promote.last.input.epoch, 3);
  r.actor.stop();
});

test('a failed promotion steps down and decides again from the disk\'s view', async (t) => {
  const r = await loaded(meta({ epoch: 2 }), assignment({ epoch: 2, primary: SELF }));
  await r.fx.promote.reject(new Error('no majority persisted the first entry'));
  t.is(r.state(), '"steppingDown"');
  t.is(r.fx.stepDown.last.input.meta.epoch, 2);
  await r.fx.stepDown.resolve(meta({ epoch: 2, logEnd: 5, applied: 5 }));
  t.is(r.state(), '"promoting"', 'still named primary: it tries again');
  t.is(r.fx.promote.last.input.meta.logEnd, 5);
  t.is(r.fx.promote.last.input.commit, 5);
  t.deepEqual(r.writes.overlaps, []);
  r.actor.stop();
});

test('an assignment naming a replica that is not a voter never promotes it', async (t) => {
  const r = await loaded(meta({ epoch: 2 }), assignment({ epoch: 2, primary: SELF, replicas: ['n2', 'n3'], learners: [SELF] }));
  t.is(r.fx.promote.count, 0);
  t.regex(r.state(), /following/);
  t.is(r.role(), 'learner');
  r.actor.stop();
});

// ---- leaving the primary role -----------------------------------------------------------------------

test('an assignment with a newer epoch while primary: steps down first, persists the epoch, then follows', async (t) => {
  const r = await primaryAtEpoch2();
  await r.assign(assignment({ epoch: 3, primary: 'n2' }));
  t.is(r.state(), '"steppingDown"');
  t.is(r.partitionChild(), undefined, 'the partition actor stopped serving');
  t.is(r.fx.stepDown.last.input.reason, 'a newer assignment');
  t.is(r.fx.saveEpoch.count, 1, 'no write before the step-down finished');

  const down = meta({ epoch: 2, epochs: [[1, 0], [2, 4]], logEnd: 9, applied: 9, mark: 9 });
  await r.fx.stepDown.resolve(down);
  t.is(r.state(), '"fencing"');
  t.deepEqual(r.fx.saveEpoch.last.input.meta, down, 'the epoch is saved over the log the primary wrote, not its meta at promotion');
  t.is(r.fx.saveEpoch.last.input.epoch, 3);
  await r.fx.saveEpoch.resolve({ ...down, epoch: 3 });

  t.is(r.state(), '{"following":"fetching"}');
  t.is(r.role(), 'follower');
  t.is(r.context().commit, 9);
  t.deepEqual(r.fx.fetch.last.input, { queue: 'q1', partition: 0, primary: 'n2', epoch: 3, from: 9, lastEpoch: 2, token: 0, learner: false, incarnation: 7 });
  const seen = r.visited.indexOf('"steppingDown"');
  t.deepEqual(r.visited.slice(seen), ['"steppingDown"', '"fencing"', '{"following":"fetching"}']);
  t.deepEqual(r.writes.overlaps, []);
  r.actor.stop();
});

test('an assignment naming another primary at the same epoch steps down too', async (t) => {
  const r = await primaryAtEpoch2();
  await r.assign(assignment({ epoch: 2, primary: 'n3' }));
  t.is(r.state(), '"steppingDown"');
  await r.fx.stepDown.resolve(meta({ epoch: 2, logEnd: 5, applied: 5, mark: 5, epochs: [[1, 0], [2, 4]] }));
  t.is(r.state(), '{"following":"fetching"}');
  t.is(r.fx.fetch.last.input.primary, 'n3');
  r.actor.stop();
});

test('a same-epoch assignment changing the voters keeps serving and updates the voters', async (t) => {
  const r = await primaryAtEpoch2();
  await r.assign(assignment({ epoch: 2, primary: SELF, replicas: ['n1', 'n2', 'n4'], learners: ['n3'] }));
  t.is(r.state(), '"primary"');
  t.deepEqual(r.voterUpdates, [['n1', 'n2', 'n4']]);
  t.is(r.fx.stepDown.count, 0);
  r.actor.stop();
});

test('superseded while primary: steps down, persists the epoch it learned, and stays fenced until an assignment moves on', async (t) => {
  const r = await primaryAtEpoch2();
  r.actor.send({ type: 'superseded', epoch: 3 });
  await flush();
  t.regex(r.state(), /fenced/);
  t.is(r.role(), 'fenced');
  t.is(r.fx.stepDown.last.input.reason, 'a newer epoch exists');
  await r.fx.stepDown.resolve(meta({ epoch: 2, logEnd: 6, applied: 6, mark: 6, epochs: [[1, 0], [2, 4]] }));
  t.is(r.fx.saveEpoch.last.input.epoch, 3, 'the epoch the follower showed is persisted');
  t.is(r.fx.saveEpoch.last.input.meta.logEnd, 6, 'over the log the primary wrote');
  await r.fx.saveEpoch.resolve(meta({ epoch: 3, logEnd: 6, applied: 6, mark: 6, epochs: [[1, 0], [2, 4]] }));
  t.regex(r.state(), /fenced/);
  await r.assign(assignment({ epoch: 2, primary: SELF }));
  t.regex(r.state(), /fenced/, 'an assignment that still names it at its old epoch does not bring it back');
  await r.assign(assignment({ epoch: 3, primary: 'n2' }));
  t.is(r.state(), '{"following":"fetching"}');
  t.is(r.fx.fetch.last.input.primary, 'n2');
  t.deepEqual(r.writes.overlaps, []);
  r.actor.stop();
});

// ---- no primary ----------------------------------------------------------------------------------

test('no primary with a newer epoch: fencing, then standby (a frozen log)', async (t) => {
  const r = await following();
  t.is(r.fx.fetch.count, 1);
  await r.assign(assignment({ epoch: 3, primary: null }));
  t.is(r.state(), '"fencing"', 'the fetch is abandoned at once');
  t.is(r.fx.saveEpoch.last.input.epoch, 3);
  await r.fx.saveEpoch.resolve(meta({ epoch: 3 }));
  t.is(r.state(), '"standby"');
  t.is(r.role(), 'follower', 'reported as a follower: its frozen log counts for the election');
  t.is(r.context().meta.epoch, 3);
  await r.advance(RETRY * 4);
  t.is(r.fx.fetch.count, 1, 'a frozen log fetches nothing');

  await r.assign(assignment({ epoch: 3, primary: 'n3' }));
  t.is(r.state(), '{"following":"fetching"}');
  t.is(r.fx.saveEpoch.count, 1);
  t.like(r.fx.fetch.last.input, { primary: 'n3', epoch: 3, from: 4 });
  t.deepEqual(r.writes.overlaps, []);
  r.actor.stop();
});

test('an assignment older than the epoch it has persisted leaves it in standby', async (t) => {
  const r = await loaded(meta({ epoch: 5 }), assignment({ epoch: 4, primary: SELF }));
  t.is(r.state(), '"standby"');
  t.is(r.fx.promote.count + r.fx.saveEpoch.count + r.fx.fetch.count, 0);
  r.actor.stop();
});

// ---- following -------------------------------------------------------------------------------------

test('following: fetch, persist, fetch on from the new log end with the commit and token', async (t) => {
  const r = await following();
  t.deepEqual(r.fx.fetch.last.input, { queue: 'q1', partition: 0, primary: 'n2', epoch: 2, from: 4, lastEpoch: 1, token: 0, learner: false, incarnation: 7 });
  const reply = entries(4, 3, { epoch: 2, commit: 6, token: 1234 });
  await r.fx.fetch.resolve(reply);
  t.is(r.state(), '{"following":"persisting"}');
  t.deepEqual(r.fx.persist.last.input, { queue: 'q1', partition: 0, meta: meta({ epoch: 2 }), reply });
  await r.fx.persist.resolve(meta({ epoch: 2, epochs: [[1, 0], [2, 4]], logEnd: 7, applied: 6, mark: 7 }));
  t.is(r.state(), '{"following":"fetching"}');
  t.is(r.context().commit, 6);
  t.deepEqual(r.fx.fetch.last.input, { queue: 'q1', partition: 0, primary: 'n2', epoch: 2, from: 7, lastEpoch: 2, token: 1234, learner: false, incarnation: 7 });
  t.is(r.fx.fetch.count, 2);
  t.deepEqual(r.writes.overlaps, []);
  r.actor.stop();
});

test('following: a truncate answer drops the tail, then fetches again', async (t) => {
  const r = await following();
  await r.fx.fetch.resolve({ kind: 'truncate', epoch: 2, to: 3 });
  t.is(r.state(), '{"following":"truncating"}');
  t.like(r.fx.truncate.last.input, { to: 3 });
  await r.fx.truncate.resolve(meta({ epoch: 2, logEnd: 3, mark: 3 }));
  t.is(r.state(), '{"following":"fetching"}');
  t.like(r.fx.fetch.last.input, { from: 3 });
  r.actor.stop();
});

test('following: refused or failed fetches are retried after a wait that doubles up to retryMs', async (t) => {
  const r = await following();
  // 25, 50, 100, 200, 400 ms, then retryMs (500) from there on.
  const waits = [FIRST_FETCH_RETRY_MS, 50, 100, 200, 400, RETRY, RETRY];
  for (const [i, wait] of waits.entries()) {
    if (i % 2 === 0) await r.fx.fetch.resolve({ kind: 'fenced', epoch: 0 });
    else await r.fx.fetch.reject(new Error('no responders'));
    t.is(r.state(), '{"following":"waiting"}');
    await r.advance(wait - 1);
    t.is(r.fx.fetch.count, i + 1, `still waiting ${wait - 1} ms after failure ${i + 1}`);
    await r.advance(1);
    t.is(r.fx.fetch.count, i + 2, `fetched again ${wait} ms after failure ${i + 1}`);
  }
  r.actor.stop();
});

test('following: a fetch that gets entries starts the waits over from the shortest', async (t) => {
  const r = await following();
  for (let i = 0; i < 4; i++) {
    await r.fx.fetch.resolve({ kind: 'fenced', epoch: 0 });
    await r.advance(RETRY);
  }
  await r.fx.fetch.resolve(entries(4, 1, { epoch: 2, commit: 4 }));
  await r.fx.persist.resolve(meta({ epoch: 2, epochs: [[1, 0], [2, 4]], logEnd: 5, applied: 4, mark: 5 }));
  t.is(r.state(), '{"following":"fetching"}');
  const before = r.fx.fetch.count;
  await r.fx.fetch.resolve({ kind: 'fenced', epoch: 0 });
  await r.advance(FIRST_FETCH_RETRY_MS);
  t.is(r.fx.fetch.count, before + 1);
  r.actor.stop();
});

test('following: an assignment changed during the wait is acted on at once, not when the wait ends', async (t) => {
  const r = await following();
  await r.fx.fetch.resolve({ kind: 'fenced', epoch: 3 });
  t.is(r.state(), '{"following":"waiting"}');
  await r.assign(assignment({ epoch: 3, primary: 'n3' }));
  t.is(r.state(), '"fencing"');
  r.actor.stop();
});

test('following: after a failed fetch, an assignment naming a new primary is fetched from at once', async (t) => {
  const r = await following();
  await r.fx.fetch.reject(new Error('no responders'));
  t.is(r.state(), '{"following":"waiting"}');
  // The election after a fence: same epoch, a primary named.
  await r.assign(assignment({ epoch: 2, primary: 'n3' }));
  t.is(r.state(), '{"following":"fetching"}');
  t.is(r.fx.fetch.count, 2);
  t.is(r.fx.fetch.last.input.primary, 'n3');
  r.actor.stop();
});

test('following: an assignment that changes nothing leaves the wait to run out', async (t) => {
  const r = await following();
  await r.fx.fetch.resolve({ kind: 'fenced', epoch: 3 });
  await r.assign(assignment({ epoch: 2, primary: 'n2', isr: ['n2', 'n1'], updatedAt: T0 + 5 }));
  t.is(r.state(), '{"following":"waiting"}');
  t.is(r.fx.fetch.count, 1);
  await r.advance(FIRST_FETCH_RETRY_MS);
  t.is(r.fx.fetch.count, 2);
  r.actor.stop();
});

test('an assignment change while persisting is applied only after the write finishes', async (t) => {
  const r = await following();
  await r.fx.fetch.resolve(entries(4, 2, { epoch: 2, commit: 5 }));
  t.is(r.state(), '{"following":"persisting"}');

  await r.assign(assignment({ epoch: 3, primary: 'n3' }));
  t.is(r.state(), '{"following":"persisting"}', 'the write under way is not abandoned');
  t.is(r.fx.saveEpoch.count, 0);
  t.is(r.fx.fetch.count, 1);
  t.is(r.context().assignment?.epoch, 3, 'the assignment is remembered');

  const persisted = meta({ epoch: 2, epochs: [[1, 0], [2, 4]], logEnd: 6, applied: 5, mark: 6 });
  await r.fx.persist.resolve(persisted);
  t.is(r.state(), '"fencing"');
  t.deepEqual(r.fx.saveEpoch.last.input.meta, persisted, 'the new epoch is written over what the persist wrote');
  await r.fx.saveEpoch.resolve({ ...persisted, epoch: 3 });
  t.like(r.fx.fetch.last.input, { primary: 'n3', epoch: 3, from: 6, lastEpoch: 2 });
  t.deepEqual(r.writes.overlaps, []);
  r.actor.stop();
});

test('an assignment change while truncating is applied only after the write finishes', async (t) => {
  const r = await following();
  await r.fx.fetch.resolve({ kind: 'truncate', epoch: 2, to: 3 });
  await r.assign(assignment({ epoch: 3, primary: null }));
  t.is(r.state(), '{"following":"truncating"}');
  t.is(r.fx.saveEpoch.count, 0);
  const truncated = meta({ epoch: 2, logEnd: 3, mark: 3 });
  await r.fx.truncate.resolve(truncated);
  t.is(r.state(), '"fencing"');
  t.deepEqual(r.fx.saveEpoch.last.input.meta, truncated);
  await r.fx.saveEpoch.resolve({ ...truncated, epoch: 3 });
  t.is(r.state(), '"standby"');
  t.deepEqual(r.writes.overlaps, []);
  r.actor.stop();
});

test('an assignment that changes nothing does not interrupt a fetch', async (t) => {
  const r = await following();
  await r.assign(assignment({ epoch: 2, primary: 'n2', isr: ['n2', 'n1'], updatedAt: T0 + 5 }));
  t.is(r.state(), '{"following":"fetching"}');
  t.is(r.fx.fetch.count, 1);
  r.actor.stop();
});

test('a failed persist fails the replica, which reloads after retryMs', async (t) => {
  const r = await following();
  await r.fx.fetch.resolve(entries(4, 1, { epoch: 2 }));
  await r.fx.persist.reject(new Error('disk full'));
  t.is(r.role(), 'failed');
  await r.advance(RETRY);
  t.is(r.role(), 'loading');
  t.is(r.fx.loadReplica.count, 2);
  r.actor.stop();
});

// ---- amnesia -------------------------------------------------------------------------------------

test('amnesiac load (log end below the mark): a learner that never promotes until persist reaches the mark', async (t) => {
  const lost = meta({ epoch: 2, epochs: [[1, 0], [2, 3]], logEnd: 5, applied: 3, mark: 8 });
  const r = await loaded(lost, assignment({ epoch: 2, primary: 'n2' }));
  t.true(r.context().amnesiac);
  t.is(r.role(), 'learner');
  t.like(r.fx.fetch.last.input, { from: 5, learner: true });

  await r.fx.fetch.resolve(entries(5, 2, { epoch: 2, commit: 7, token: 10 }));
  t.is(r.role(), 'learner');
  await r.fx.persist.resolve({ ...lost, logEnd: 7, applied: 7 });
  t.is(r.role(), 'learner', '7 < 8: still behind what it once acknowledged');
  t.like(r.fx.fetch.last.input, { from: 7, learner: true });

  // Named primary while behind (an election from stale reports): it must not lead.
  await r.assign(assignment({ epoch: 3, primary: SELF }));
  await r.fx.saveEpoch.resolve({ ...lost, logEnd: 7, applied: 7, epoch: 3 });
  t.is(r.fx.promote.count, 0);
  t.is(r.role(), 'learner');
  t.regex(r.state(), /following/);

  await r.assign(assignment({ epoch: 4, primary: 'n2' }));
  await r.fx.saveEpoch.resolve({ ...lost, logEnd: 7, applied: 7, epoch: 4 });
  t.like(r.fx.fetch.last.input, { primary: 'n2', epoch: 4, from: 7, learner: true });
  await r.fx.fetch.resolve(entries(7, 1, { epoch: 4, commit: 8, token: 11 }));
  await r.fx.persist.resolve({ ...lost, epoch: 4, logEnd: 8, applied: 8, mark: 8 });
  t.false(r.context().amnesiac);
  t.is(r.role(), 'follower', 'caught up past the mark: it counts again');
  t.like(r.fx.fetch.last.input, { from: 8, learner: false });

  // Now it may lead.
  await r.assign(assignment({ epoch: 5, primary: SELF }));
  await r.fx.saveEpoch.resolve({ ...lost, epoch: 5, logEnd: 8, applied: 8, mark: 8 });
  t.is(r.state(), '"promoting"');
  t.is(r.fx.promote.count, 1);
  t.deepEqual(r.writes.overlaps, []);
  r.actor.stop();
});

test('a learner in the assignment reports learner and fetches as one', async (t) => {
  const r = await loaded(meta({ epoch: 2 }), assignment({ epoch: 2, primary: 'n2', replicas: ['n2', 'n3', 'n4'], learners: [SELF] }));
  t.is(r.role(), 'learner');
  t.like(r.fx.fetch.last.input, { learner: true });
  r.actor.stop();
});

// ---- removal -----------------------------------------------------------------------------------------

test('remove drops the replica and ends', async (t) => {
  const r = await following();
  r.actor.send({ type: 'remove' });
  await flush();
  t.is(r.state(), '"dropping"');
  await r.fx.dropReplica.resolve();
  t.is(r.actor.getSnapshot().status, 'done');
  r.actor.stop();
});

// ---- cases found in review -----------------------------------------------------------------------

test('an assignment while fenced waits for the step-down: the epoch is saved over the log the primary wrote', async (t) => {
  const r = await primaryAtEpoch2();
  r.actor.send({ type: 'superseded', epoch: 3 });
  await flush();
  t.regex(r.state(), /fenced/);
  // The new assignment usually arrives right with the superseded answer, while stepDown still waits
  // for the primary log's last write.
  await r.assign(assignment({ epoch: 3, primary: 'n2' }));
  t.is(r.fx.saveEpoch.count, 1, 'no write may start before the step-down finished');
  const down = meta({ epoch: 2, epochs: [[1, 0], [2, 4]], logEnd: 9, applied: 9, mark: 9 });
  await r.fx.stepDown.resolve(down);
  t.deepEqual(r.writes.overlaps, []);
  t.is(r.fx.saveEpoch.last.input.meta.logEnd, 9, 'the epoch must be saved over the log the primary wrote (logEnd 9), not logEnd 5 from its promotion');
  r.actor.stop();
});

test('an assignment moving the primary elsewhere during promoting is acted on once promote resolves', async (t) => {
  const r = await loaded(meta({ epoch: 2 }), assignment({ epoch: 2, primary: SELF }));
  t.is(r.state(), '"promoting"');
  await r.assign(assignment({ epoch: 3, primary: 'n2' }));
  await r.fx.promote.resolve(meta({ epoch: 2, epochs: [[1, 0], [2, 4]], logEnd: 5, applied: 4, mark: 5 }));
  t.not(r.state(), '"primary"', 'the assignment already names n2 at epoch 3');
  r.actor.stop();
});

test('the epoch a superseded primary learned is persisted', async (t) => {
  const r = await primaryAtEpoch2();
  r.actor.send({ type: 'superseded', epoch: 5 });
  await flush();
  await r.fx.stepDown.resolve(meta({ epoch: 2, epochs: [[1, 0], [2, 4]], logEnd: 6, applied: 6, mark: 6 }));
  const saved = Math.max(r.context().meta.epoch, ...r.fx.saveEpoch.calls.map((c) => c.input.epoch));
  t.true(saved >= 5, `highest epoch persisted: ${saved}`);
  r.actor.stop();
});

test('remove while persisting waits for the write, then drops', async (t) => {
  const r = await following();
  await r.fx.fetch.resolve(entries(4, 2, { epoch: 2 }));
  r.actor.send({ type: 'remove' });
  await flush();
  t.deepEqual(r.writes.overlaps, []);
  t.is(r.fx.dropReplica.count, 0, 'not while the write runs');
  await r.fx.persist.resolve(meta({ epoch: 2, epochs: [[1, 0], [2, 4]], logEnd: 6, applied: 4, mark: 6 }));
  t.is(r.state(), '"dropping"');
  t.is(r.fx.dropReplica.count, 1);
  t.deepEqual(r.writes.overlaps, []);
  r.actor.stop();
});

test('the first fetch to a new primary echoes no token of the old one', async (t) => {
  const r = await following();
  await r.fx.fetch.resolve(entries(4, 1, { epoch: 2, commit: 5, token: 987_654 }));
  await r.fx.persist.resolve(meta({ epoch: 2, epochs: [[1, 0], [2, 4]], logEnd: 5, applied: 5, mark: 5 }));
  await r.assign(assignment({ epoch: 3, primary: 'n3' }));
  await r.fx.saveEpoch.resolve(meta({ epoch: 3, epochs: [[1, 0], [2, 4]], logEnd: 5, applied: 5, mark: 5 }));
  t.like(r.fx.fetch.last.input, { primary: 'n3', token: 0 }, 'a token is a reading of the clock of the primary that issued it');
  r.actor.stop();
});

// ---- snapshots -----------------------------------------------------------------------------------------

test('a fetch answered `snapshot` empties the replica, copies the state, then fetches from the snapshot index', async (t) => {
  const r = await following();
  await r.fx.fetch.resolve({ kind: 'snapshot', epoch: 2 });
  t.is(r.state(), '{"following":"emptying"}');
  t.deepEqual(r.fx.beginInstall.last.input.meta, r.context().meta);
  // Emptied, marked as copying: it lacks what it acknowledged, so it is a learner and cannot lead.
  await r.fx.beginInstall.resolve(meta({ epoch: 2, epochs: [], logEnd: 0, applied: 0, installing: true }));
  t.is(r.state(), '{"following":"installing"}');
  t.true(r.context().amnesiac);
  t.is(r.role(), 'learner');
  t.like(r.fx.install.last.input, { primary: 'n2', epoch: 2 });
  // Assignments meanwhile are only recorded: the copy's writes finish first.
  await r.assign(assignment({ epoch: 2, primary: SELF }));
  t.is(r.state(), '{"following":"installing"}');
  await r.fx.install.resolve(meta({ epoch: 2, epochs: [[1, 0], [2, 90]], logStart: 100, logEnd: 100, applied: 100, mark: 100, markEpoch: 2 }));
  t.false(r.context().amnesiac, 'the copy reaches past what it acknowledged');
  t.is(r.context().commit, 100);
  t.is(r.state(), '"promoting"', 'then it decides again from the recorded assignment (it holds a complete state now)');
  t.deepEqual(r.writes.overlaps, []);
  r.actor.stop();
});

test('after a snapshot short of its mark the replica stays a learner and fetches from the snapshot index', async (t) => {
  const r = await following();
  await r.fx.fetch.resolve({ kind: 'snapshot', epoch: 2 });
  await r.fx.beginInstall.resolve(meta({ epoch: 2, epochs: [], logEnd: 0, applied: 0, mark: 150, installing: true }));
  await r.fx.install.resolve(meta({ epoch: 2, logStart: 100, logEnd: 100, applied: 100, mark: 150 }));
  t.is(r.state(), '{"following":"fetching"}');
  t.true(r.context().amnesiac);
  t.like(r.fx.fetch.last.input, { from: 100, learner: true });
  r.actor.stop();
});

test('a failed snapshot copy waits, then fetches again (and is told to copy again)', async (t) => {
  const r = await following();
  await r.fx.fetch.resolve({ kind: 'snapshot', epoch: 2 });
  await r.fx.beginInstall.resolve(meta({ epoch: 2, epochs: [], logEnd: 0, applied: 0, installing: true }));
  await r.fx.install.reject(new Error('the snapshot copy ended at the primary'));
  t.is(r.state(), '{"following":"waiting"}');
  await r.advance(RETRY);
  t.is(r.state(), '{"following":"fetching"}');
  t.like(r.fx.fetch.last.input, { from: 0, learner: true });
  await r.fx.fetch.resolve({ kind: 'snapshot', epoch: 2 });
  t.is(r.fx.beginInstall.count, 2, 'the partial copy is emptied before the next one');
  r.actor.stop();
});

test('a replica loaded in the middle of a copy is a learner', async (t) => {
  const r = await loaded(meta({ epoch: 2, logEnd: 0, applied: 0, mark: 0, installing: true }), assignment({ epoch: 2, primary: SELF }));
  t.true(r.context().amnesiac);
  t.not(r.state(), '"promoting"');
  t.is(r.role(), 'learner');
  r.actor.stop();
});

test('a truncation that empties the log makes the replica a learner until it holds the cut entries again', async (t) => {
  const r = await following();
  await r.fx.fetch.resolve({ kind: 'truncate', epoch: 2, to: 3 });
  await r.fx.truncate.resolve(meta({ epoch: 2, epochs: [], logStart: 0, logEnd: 0, applied: 0, mark: 3 }));
  t.true(r.context().amnesiac);
  t.is(r.context().catchUpTo, 3);
  t.like(r.fx.fetch.last.input, { from: 0, learner: true });
  r.actor.stop();
});
