/**
 * The shard keeper of one host of an independent-hosts cluster: every host runs one, none leads.
 *
 *   idle ──(inputs changed, or every tickMs)──► planning ──► writing ──► idle
 *                                                   │            └─ a lost CAS or a failed write: cooling ──(retryMs)──► idle
 *                                                   └─ nothing to write ──► idle
 *
 * It keeps the table queue → hosts (the assignments, from the metadata cache) and the hosts'
 * heartbeats, and writes the decisions of decide.ts that fall to this host, each a compare-and-swap
 * on the revision it was decided from. Liveness is judged by this host's own monotonic clock.
 */
import { assign, setup } from 'xstate';
import { declared } from '../declared.ts';
import type { MetadataSnapshot, WriteInput, WriteOutput } from '../manager/manager.events.ts';
import { buildView, keyOf, type AssignmentView, type Decision, type DecisionOptions, type Heard, type ManagerView, type PlannedMove, type Versioned } from '../manager/view.ts';
import type { Heartbeat, NodeRecord, QueueMeta, ReplicaReport } from '../../src/meta/records.ts';
import { decideHosts } from './decide.ts';

export interface KeeperOptions extends DecisionOptions {
  /** Decisions are looked at again at least this often (liveness changes with time alone). */
  tickMs: number;
  /** Pause before deciding again after a lost compare-and-swap or a failed write. */
  retryMs: number;
}

export const DEFAULT_KEEPER_OPTIONS: KeeperOptions = {
  failureTimeoutMs: 3000,
  replaceAfterMs: Infinity,
  maxConcurrentMoves: 0,
  tickMs: 500,
  retryMs: 200,
};

export interface KeeperInput {
  nodeId: string;
  options: KeeperOptions;
  /** Monotonic ms: every duration is measured on it. */
  now: () => number;
  /** Wall ms, for the informational `updatedAt`. */
  wall: () => number;
}

export type KeeperEvent =
  | { type: 'heartbeat'; heartbeat: Heartbeat }
  | { type: 'metadata'; snapshot: Omit<MetadataSnapshot, 'lease'> }
  /** The NATS connection came back: heartbeats may have been missed meanwhile. */
  | { type: 'reconnected' }
  | { type: 'stop' };

export interface KeeperContext extends KeeperInput {
  listeningSince: number;
  synced: boolean;
  queues: ReadonlyMap<string, QueueMeta>;
  records: ReadonlyMap<string, Versioned<NodeRecord>>;
  assignments: ReadonlyMap<string, AssignmentView>;
  heard: ReadonlyMap<string, Heard>;
  /** Hand-backs this host fenced: the election prefers the home over the host handing back. */
  moves: ReadonlyMap<string, PlannedMove>;
  batch: Decision[];
  dirty: boolean;
}

export function keeperView(context: KeeperContext): ManagerView {
  return buildView({
    now: context.now(),
    wall: context.wall(),
    options: context.options,
    listeningSince: context.listeningSince,
    queues: context.queues,
    records: context.records,
    assignments: context.assignments,
    heard: context.heard,
    moves: context.moves,
  });
}

/** Takes a snapshot in, keeping `since` (when this host first saw a revision) for known revisions. */
function absorb(context: KeeperContext, snapshot: Omit<MetadataSnapshot, 'lease'>): Partial<KeeperContext> {
  const now = context.now();
  const assignments = new Map<string, AssignmentView>();
  for (const [key, entry] of snapshot.assignments) {
    const known = context.assignments.get(key);
    assignments.set(key, known !== undefined && known.revision === entry.revision ? known : { ...entry, since: now });
  }
  return { synced: true, queues: snapshot.queues, records: snapshot.nodes, assignments, dirty: true };
}

export const keeperMachine = setup({
  types: {
    context: {} as KeeperContext,
    events: {} as KeeperEvent,
    input: {} as KeeperInput,
  },
  actors: {
    writeDecisions: declared<WriteOutput, WriteInput>('writeDecisions'),
  },
  actions: {
    recordHeartbeat: assign(({ context, event }) => {
      if (event.type !== 'heartbeat') return {};
      const hb = event.heartbeat;
      const reports = new Map<string, ReplicaReport>();
      for (const r of hb.replicas) reports.set(keyOf(r), r);
      const heard = new Map(context.heard);
      heard.set(hb.node, { boot: hb.boot, state: hb.state, at: context.now(), reports, ...(hb.store === undefined ? {} : { store: hb.store }) });
      return { heard, dirty: true };
    }),
    absorbMetadata: assign(({ context, event }) => (event.type === 'metadata' ? absorb(context, event.snapshot) : {})),
    markDirty: assign({ dirty: true }),
    restartListening: assign({ listeningSince: ({ context }) => context.now(), dirty: true }),
    plan: assign(({ context }) => ({ batch: decideHosts(keeperView(context), context.nodeId), dirty: false })),
    applyWrites: assign(({ context, event }) => {
      const output = (event as unknown as { output: WriteOutput }).output;
      const moves = new Map(context.moves);
      context.batch.forEach((decision, i) => {
        const outcome = output.outcomes[i];
        if (outcome === undefined || (outcome.kind !== 'written' && outcome.kind !== 'deleted')) return;
        if (decision.kind === 'node') return;
        const key = keyOf(decision.assignment);
        if (decision.kind === 'update' && decision.move !== undefined) moves.set(key, decision.move);
        else if (decision.kind === 'delete' || decision.assignment.primary !== null) moves.delete(key);
      });
      return { ...absorb(context, output.snapshot), moves, batch: [] };
    }),
    dropBatch: assign({ batch: [] }),
  },
  delays: {
    retry: ({ context }) => context.options.retryMs,
    tick: ({ context }) => context.options.tickMs,
  },
  guards: {
    dirty: ({ context }) => context.dirty && context.synced,
    nothingToWrite: ({ context }) => context.batch.length === 0,
    hadConflicts: ({ event }) =>
      (event as unknown as { output: WriteOutput }).output.outcomes.some((o) => o.kind === 'conflict' || o.kind === 'failed'),
  },
}).createMachine({
  id: 'keeper',
  context: ({ input }) => ({
    ...input,
    listeningSince: input.now(),
    synced: false,
    queues: new Map(),
    records: new Map(),
    assignments: new Map(),
    heard: new Map(),
    moves: new Map(),
    batch: [],
    dirty: false,
  }),
  on: {
    heartbeat: { actions: 'recordHeartbeat' },
    metadata: { actions: 'absorbMetadata' },
    reconnected: { actions: 'restartListening' },
    stop: { target: '.stopped' },
  },
  initial: 'idle',
  states: {
    idle: {
      always: { guard: 'dirty', target: 'planning' },
      after: { tick: { target: 'idle', reenter: true, actions: 'markDirty' } },
    },
    planning: {
      entry: 'plan',
      always: [{ guard: 'nothingToWrite', target: 'idle' }, { target: 'writing' }],
    },
    writing: {
      invoke: {
        src: 'writeDecisions',
        input: ({ context }) => ({ decisions: context.batch, term: 0 }),
        onDone: [
          { guard: 'hadConflicts', target: 'cooling', actions: 'applyWrites' },
          { target: 'idle', actions: 'applyWrites' },
        ],
        onError: { target: 'cooling', actions: 'dropBatch' },
      },
    },
    cooling: {
      after: { retry: { target: 'idle', actions: 'markDirty' } },
    },
    stopped: { type: 'final' },
  },
});
