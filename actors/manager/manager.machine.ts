/**
 * The internal cluster manager: one active per cluster, the others standing by.
 *
 *   standby ──(lease absent, or its revision unchanged for leaseTimeoutMs)──► acquiring ──CAS won──► active
 *      ▲                                                          └──CAS lost──► standby
 *      │   active (parallel)
 *      │     lease:      held ──(every leaseTimeoutMs/3)──► renewing ──ok──► held
 *      │                   renewal failed: retrying ──► renewing
 *      ├───── CAS lost, another holder seen, or the deadline passed (validFrom + timeout − timeout/6)
 *      │     decisions:  idle ──(inputs changed)──► planning ──► writing ──► idle
 *      │                   a lost CAS or a failed write: cooling ──(retryMs)──► idle
 *      └──────────────────────────────────────────────────────────────────────────────────────
 *
 * Leadership is asserted by compare-and-swap, never by a read: a standby takes the lease when it
 * is absent, or when its revision has not moved for leaseTimeoutMs on the standby's own monotonic
 * clock, by CAS on the revision it watched. The holder counts its lease from the moment it *sent*
 * the write that won, so it stops deciding before any standby could count it expired. Even so, no
 * decision relies on the lease for safety: each is a CAS on the revision it was decided from, so
 * two managers briefly overlapping can only make one of two conflicting writes.
 *
 * The decisions are `decide(view)` (decide.ts), one batch of writes at a time; heartbeats, metadata
 * changes and a tick (time alone makes nodes dead) ask for a new round. Standbys keep listening to
 * heartbeats so a takeover starts with the nodes' reports at hand.
 */
import { assign, enqueueActions, not, setup } from 'xstate';
import { declared } from '../declared.ts';
import { autoscale, EMPTY_SCALE_MEMORY, type ScaleMemory } from './autoscale.ts';
import {
  acquireAttempt,
  backedOff,
  heldAfter,
  initialLeaseState,
  leaseLetGo,
  leaseDeadline,
  leaseFree,
  leaseTakenByOther,
  leaseValid,
  observeLease,
  renewAttempt,
  retrySoon,
  standbyCheckMs,
  stepDownReason,
  type LeaseState,
} from '../lease/lease.ts';
import { decide } from './decide.ts';
import type {
  LeaseWriteInput,
  LeaseWriteOutput,
  ManagerEmitted,
  ManagerEvent,
  ManagerInput,
  MetadataSnapshot,
  WriteInput,
  WriteOutput,
} from './manager.events.ts';
import {
  buildView,
  keyOf,
  type AssignmentView,
  type Write,
  type Handover,
  type Heard,
  type ManagerView,
  type PlannedMove,
  type Versioned,
} from './view.ts';
import type { NodeRecord, QueueMeta, ReplicaReport } from '../../src/meta/records.ts';

export type { HeldLease } from '../lease/lease.ts';

export interface ManagerContext extends ManagerInput, Omit<LeaseState, keyof ManagerInput> {
  listeningSince: number;
  queues: ReadonlyMap<string, QueueMeta>;
  records: ReadonlyMap<string, Versioned<NodeRecord>>;
  assignments: ReadonlyMap<string, AssignmentView>;
  heard: ReadonlyMap<string, Heard>;
  batch: Write[];
  dirty: boolean;
  moves: ReadonlyMap<string, PlannedMove>;
  /** Nodes stopping gracefully, whose primaries are being handed over. */
  handovers: ReadonlyMap<string, Handover>;
  /** What auto-scaling keeps between rounds: send rates, and how long queues have been idle. */
  scaling: ScaleMemory;
}

/** The view decisions are made from, at the context's current time. */
export function viewOf(context: ManagerContext): ManagerView {
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
    handovers: context.handovers,
  });
}

/** Takes a snapshot in, keeping `since` for revisions already seen and noting when the lease moved. */
function absorb(context: ManagerContext, snapshot: MetadataSnapshot): Partial<ManagerContext> {
  const now = context.now();
  const assignments = new Map<string, AssignmentView>();
  for (const [key, entry] of snapshot.assignments) {
    const known = context.assignments.get(key);
    assignments.set(key, known !== undefined && known.revision === entry.revision ? known : { ...entry, since: now });
  }
  return { synced: true, queues: snapshot.queues, records: snapshot.nodes, assignments, ...observeLease(context, snapshot.lease), dirty: true };
}

export const managerMachine = setup({
  types: {
    context: {} as ManagerContext,
    events: {} as ManagerEvent,
    input: {} as ManagerInput,
    emitted: {} as ManagerEmitted,
  },
  actors: {
    casLease: declared<LeaseWriteOutput, LeaseWriteInput>('casLease'),
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
    recordHandover: assign(({ context, event }) => {
      if (event.type !== 'handover') return {};
      const now = context.now();
      const handovers = new Map([...context.handovers].filter(([, h]) => h.until > now));
      const boot = context.heard.get(event.node)?.boot ?? context.records.get(event.node)?.value.boot;
      handovers.set(event.node, { boot, until: now + context.options.handoverMs });
      return { handovers, dirty: true };
    }),
    absorbMetadata: assign(({ context, event }) => (event.type === 'metadata' ? absorb(context, event.snapshot) : {})),
    markDirty: assign({ dirty: true }),
    restartListening: assign({ listeningSince: ({ context }) => context.now(), dirty: true }),
    startAcquire: assign({ attempt: ({ context }) => acquireAttempt(context) }),
    startRenew: assign({ attempt: ({ context }) => renewAttempt(context) }),
    backOffAcquire: assign(({ context }) => backedOff(context)),
    retryAcquireSoon: assign(({ context }) => retrySoon(context)),
    holdLease: assign(({ context, event }) => heldAfter(context, (event as unknown as { output: LeaseWriteOutput }).output as number)),
    becameActive: enqueueActions(({ context, enqueue }) => {
      enqueue.assign({ dirty: true, moves: new Map() });
      enqueue.emit({ type: 'leadership', active: true, term: context.held?.term ?? 0, reason: 'lease taken' });
    }),
    steppedDown: enqueueActions(({ context, event, enqueue }) => {
      const reason = stepDownReason(context, event.type === 'stop');
      enqueue.emit({ type: 'leadership', active: false, term: context.held?.term ?? 0, reason });
      enqueue.assign({ ...leaseLetGo(context), batch: [], moves: new Map() });
    }),
    plan: assign(({ context }) => {
      const view = viewOf(context);
      const scaled = autoscale(view, context.scaling);
      return { batch: [...decide(view), ...scaled.decisions], scaling: scaled.memory, dirty: false };
    }),
    applyWrites: assign(({ context, event }) => {
      const output = (event as unknown as { output: WriteOutput }).output;
      const moves = new Map(context.moves);
      context.batch.forEach((decision, i) => {
        const outcome = output.outcomes[i];
        if (outcome === undefined || (outcome.kind !== 'written' && outcome.kind !== 'deleted')) return;
        if (decision.kind === 'node' || decision.kind === 'layout') return;
        const key = keyOf(decision.assignment);
        if (decision.kind === 'update' && decision.move !== undefined) moves.set(key, decision.move);
        else if (decision.kind === 'delete' || decision.assignment.primary !== null) moves.delete(key);
      });
      return { ...absorb(context, output.snapshot), moves, batch: [] };
    }),
    // Not dirty: the next round comes from the tick, the retry or new inputs, never at once.
    dropBatch: assign({ batch: [] }),
  },
  delays: {
    standbyCheck: ({ context }) => standbyCheckMs(context),
    renewEvery: ({ context }) => context.options.leaseTimeoutMs / 3,
    leaseDeadline: ({ context }) => Math.max(0, leaseDeadline(context) - context.now()),
    retry: ({ context }) => context.options.retryMs,
    tick: ({ context }) => context.options.tickMs,
  },
  guards: {
    leaseFree: ({ context }) => leaseFree(context),
    won: ({ event }) => (event as unknown as { output: LeaseWriteOutput }).output !== undefined,
    leaseTakenByOther: ({ context }) => leaseTakenByOther(context),
    leaseValid: ({ context }) => leaseValid(context),
    dirty: ({ context }) => context.dirty && context.synced,
    nothingToWrite: ({ context }) => context.batch.length === 0,
    hadConflicts: ({ event }) =>
      (event as unknown as { output: WriteOutput }).output.outcomes.some((o) => o.kind === 'conflict' || o.kind === 'failed'),
  },
}).createMachine({
  id: 'manager',
  context: ({ input }) => ({
    ...input,
    listeningSince: input.now(),
    synced: false,
    queues: new Map(),
    records: new Map(),
    assignments: new Map(),
    heard: new Map(),
    ...initialLeaseState(input.nodeId, input.now()),
    batch: [],
    dirty: false,
    moves: new Map(),
    handovers: new Map(),
    scaling: EMPTY_SCALE_MEMORY,
  }),
  on: {
    heartbeat: { actions: 'recordHeartbeat' },
    handover: { actions: 'recordHandover' },
    metadata: { actions: 'absorbMetadata' },
    reconnected: { actions: 'restartListening' },
    stop: { target: '.stopped' },
  },
  initial: 'standby',
  states: {
    standby: {
      always: { guard: 'leaseFree', target: 'acquiring' },
      after: { standbyCheck: { target: 'standby', reenter: true } },
    },
    acquiring: {
      entry: 'startAcquire',
      invoke: {
        src: 'casLease',
        input: ({ context }) => ({ lease: context.attempt.lease, revision: context.attempt.revision }),
        onDone: [
          { guard: 'won', target: 'active', actions: 'holdLease' },
          { target: 'standby', actions: 'backOffAcquire' },
        ],
        onError: { target: 'standby', actions: 'retryAcquireSoon' },
      },
    },
    active: {
      type: 'parallel',
      entry: 'becameActive',
      exit: 'steppedDown',
      always: { guard: 'leaseTakenByOther', target: 'standby' },
      states: {
        lease: {
          initial: 'held',
          states: {
            held: {
              after: { renewEvery: 'renewing', leaseDeadline: '#manager.standby' },
            },
            renewing: {
              entry: 'startRenew',
              invoke: {
                src: 'casLease',
                input: ({ context }) => ({ lease: context.attempt.lease, revision: context.attempt.revision }),
                onDone: [{ guard: 'won', target: 'held', actions: 'holdLease' }, { target: '#manager.standby' }],
                onError: 'retrying',
              },
              after: { leaseDeadline: '#manager.standby' },
            },
            retrying: {
              after: { retry: 'renewing', leaseDeadline: '#manager.standby' },
            },
          },
        },
        decisions: {
          initial: 'idle',
          states: {
            idle: {
              always: { guard: 'dirty', target: 'planning' },
              after: { tick: { target: 'idle', reenter: true, actions: 'markDirty' } },
            },
            planning: {
              entry: 'plan',
              always: [
                { guard: 'nothingToWrite', target: 'idle' },
                // Past the deadline the lease region steps down; no write may start meanwhile.
                { guard: not('leaseValid'), target: 'idle', actions: 'dropBatch' },
                { target: 'writing' },
              ],
            },
            writing: {
              invoke: {
                src: 'writeDecisions',
                input: ({ context }) => ({ decisions: context.batch, term: context.held?.term ?? 0 }),
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
          },
        },
      },
    },
    stopped: { type: 'final' },
  },
});
