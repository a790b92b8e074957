/**
 * The external cluster manager: one active per deployment, the others standing by. It maps queues
 * to clusters and watches each cluster's health as the cluster reports it (never its hosts).
 *
 *   standby ──(lease free)──► acquiring ──CAS won──► active ──(lease lost / taken / deadline)──► standby
 *   active (parallel)
 *     lease:      held ──(every leaseTimeoutMs/3)──► renewing ──ok──► held    (actors/lease/lease.ts)
 *     decisions:  idle ──(inputs changed, requests, tick)──► planning ──► writing ──► idle
 *                   a lost CAS or a failed write: cooling ──(retryMs)──► idle
 *
 * The lease is held exactly as the internal manager holds its own (the same functions). Decisions
 * are `decide(view)` (decide.ts), each a compare-and-swap on the route's revision, so two managers
 * overlapping for a moment can only make one of two conflicting writes. Requests (create, split,
 * merge, delete) wait in the context until a round settles them; each is answered by an emitted
 * `answer`. A manager that steps down answers its waiting requests `not_leader`.
 */
import { assign, enqueueActions, not, setup } from 'xstate';
import { declared } from '../declared.ts';
import {
  acquireAttempt,
  backedOff,
  heldAfter,
  initialLeaseState,
  leaseLetGo,
  leaseFree,
  leaseTakenByOther,
  leaseValid,
  leaseDeadline,
  observeLease,
  renewAttempt,
  retrySoon,
  standbyCheckMs,
  stepDownReason,
  type LeaseState,
} from '../lease/lease.ts';
import { decide, partKey, type ClusterView, type ExternalView, type PendingRequest } from './decide.ts';
import type {
  DeploymentSnapshot,
  ExternalAnswer,
  ExternalDecision,
  ExternalEmitted,
  ExternalEvent,
  ExternalInput,
  ExternalWriteInput,
  ExternalWriteOutput,
} from './external.events.ts';
import type { LeaseWriteInput, LeaseWriteOutput } from '../manager/manager.events.ts';
import type { ClusterRecord, QueueRoute } from '../../src/meta/deployment-records.ts';
import type { Versioned } from '../../src/meta/watched-bucket.ts';

interface SeenCluster {
  entry: Versioned<ClusterRecord>;
  /** When its revision last changed (manager clock): a report that stops changing goes stale. */
  seenAt: number;
}

export interface ExternalContext extends ExternalInput, Omit<LeaseState, keyof ExternalInput> {
  clusters: ReadonlyMap<string, SeenCluster>;
  routes: ReadonlyMap<string, Versioned<QueueRoute>>;
  /** Since when each cluster has been failing or unreachable without a break. */
  badSince: ReadonlyMap<string, number>;
  requests: readonly PendingRequest[];
  retireCheckedAt: ReadonlyMap<string, number>;
  batch: ExternalDecision[];
  /** Requests settled by the last round without a write, to be emitted. */
  answers: ExternalAnswer[];
  dirty: boolean;
}

/** The view decisions are made from, at the context's current time. */
export function externalView(context: ExternalContext): ExternalView {
  const now = context.now();
  const active = new Map<string, number>();
  for (const { value } of context.routes.values()) {
    for (const p of value.parts) if (p.state === 'active') active.set(p.cluster, (active.get(p.cluster) ?? 0) + 1);
  }
  const clusters = new Map<string, ClusterView>();
  for (const [name, { entry, seenAt }] of context.clusters) {
    const stale = now - seenAt >= context.options.clusterTimeoutMs;
    clusters.set(name, {
      name,
      record: entry.value,
      status: stale ? 'unreachable' : entry.value.health,
      badSince: context.badSince.get(name),
      activeParts: active.get(name) ?? 0,
    });
  }
  return { now, wall: context.wall(), options: context.options, clusters, routes: context.routes, requests: context.requests, retireCheckedAt: context.retireCheckedAt };
}

/** Failing or unreachable clusters, with since when: recomputed each round (staleness needs no event). */
function badSinceNow(context: ExternalContext): Map<string, number> {
  const view = externalView(context);
  const bad = new Map<string, number>();
  for (const c of view.clusters.values()) {
    if (c.status === 'failing' || c.status === 'unreachable') bad.set(c.name, context.badSince.get(c.name) ?? view.now);
  }
  return bad;
}

function absorb(context: ExternalContext, snapshot: DeploymentSnapshot): Partial<ExternalContext> {
  const now = context.now();
  const clusters = new Map<string, SeenCluster>();
  for (const [name, entry] of snapshot.clusters) {
    const known = context.clusters.get(name);
    clusters.set(name, known !== undefined && known.entry.revision === entry.revision ? known : { entry, seenAt: now });
  }
  return { synced: true, clusters, routes: snapshot.routes, ...observeLease(context, snapshot.lease), dirty: true };
}

const notLeader = (r: PendingRequest): ExternalAnswer => ({ type: 'answer', id: r.id, ok: false, code: 'not_leader', message: 'the external manager stepped down; ask again' });

export const externalMachine = setup({
  types: {
    context: {} as ExternalContext,
    events: {} as ExternalEvent,
    input: {} as ExternalInput,
    emitted: {} as ExternalEmitted,
  },
  actors: {
    casLease: declared<LeaseWriteOutput, LeaseWriteInput>('casLease'),
    writeDecisions: declared<ExternalWriteOutput, ExternalWriteInput>('writeDecisions'),
  },
  actions: {
    absorbMetadata: assign(({ context, event }) => (event.type === 'metadata' ? absorb(context, event.snapshot) : {})),
    queueRequest: assign(({ context, event }) => (event.type === 'request' ? { requests: [...context.requests, { id: event.id, request: event.request }], dirty: true } : {})),
    refuseRequest: enqueueActions(({ event, enqueue }) => {
      if (event.type === 'request') enqueue.emit(notLeader({ id: event.id, request: event.request }));
    }),
    markDirty: assign({ dirty: true }),
    startAcquire: assign({ attempt: ({ context }) => acquireAttempt(context) }),
    startRenew: assign({ attempt: ({ context }) => renewAttempt(context) }),
    backOffAcquire: assign(({ context }) => backedOff(context)),
    retryAcquireSoon: assign(({ context }) => retrySoon(context)),
    holdLease: assign(({ context, event }) => heldAfter(context, (event as unknown as { output: LeaseWriteOutput }).output as number)),
    becameActive: enqueueActions(({ context, enqueue }) => {
      enqueue.assign({ dirty: true });
      enqueue.emit({ type: 'leadership', active: true, term: context.held?.term ?? 0, reason: 'lease taken' });
    }),
    steppedDown: enqueueActions(({ context, event, enqueue }) => {
      enqueue.emit({ type: 'leadership', active: false, term: context.held?.term ?? 0, reason: stepDownReason(context, event.type === 'stop') });
      for (const r of context.requests) enqueue.emit(notLeader(r));
      enqueue.assign({ ...leaseLetGo(context), batch: [], requests: [] });
    }),
    plan: assign(({ context }) => {
      const badSince = badSinceNow(context);
      const round = decide(externalView({ ...context, badSince }));
      const settled = new Set(round.answers.map((a) => a.id));
      return { badSince, batch: round.decisions, answers: round.answers, requests: context.requests.filter((r) => !settled.has(r.id)), dirty: false };
    }),
    emitAnswers: enqueueActions(({ context, enqueue }) => {
      for (const a of context.answers) enqueue.emit(a);
      enqueue.assign({ answers: [] });
    }),
    applyWrites: enqueueActions(({ context, event, enqueue }) => {
      const output = (event as unknown as { output: ExternalWriteOutput }).output;
      const retireCheckedAt = new Map(context.retireCheckedAt);
      const answered = new Set<string>();
      context.batch.forEach((d, i) => {
        const outcome = output.outcomes[i];
        if (outcome === undefined) return;
        if (d.kind === 'retire') {
          if (outcome.kind === 'busy' || outcome.kind === 'failed') retireCheckedAt.set(partKey(d.queue, d.cluster), context.now());
          else retireCheckedAt.delete(partKey(d.queue, d.cluster));
          return;
        }
        if (d.request === undefined || outcome.kind === 'conflict') return; // decided again next round
        answered.add(d.request);
        if (outcome.kind === 'failed') enqueue.emit({ type: 'answer', id: d.request, ok: false, code: 'unavailable', message: outcome.error });
        else enqueue.emit({ type: 'answer', id: d.request, ok: true, route: d.kind === 'delete' ? null : d.route });
      });
      enqueue.assign({
        ...absorb(context, output.snapshot),
        retireCheckedAt,
        requests: context.requests.filter((r) => !answered.has(r.id)),
        batch: [],
      });
    }),
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
      (event as unknown as { output: ExternalWriteOutput }).output.outcomes.some((o) => o.kind === 'conflict' || o.kind === 'failed'),
  },
}).createMachine({
  id: 'external',
  context: ({ input }) => ({
    ...input,
    synced: false,
    ...initialLeaseState(input.nodeId, input.now()),
    clusters: new Map(),
    routes: new Map(),
    badSince: new Map(),
    requests: [],
    retireCheckedAt: new Map(),
    batch: [],
    answers: [],
    dirty: false,
  }),
  on: {
    metadata: { actions: 'absorbMetadata' },
    request: { actions: 'refuseRequest' },
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
      on: { request: { actions: 'queueRequest' } },
      states: {
        lease: {
          initial: 'held',
          states: {
            held: { after: { renewEvery: 'renewing', leaseDeadline: '#external.standby' } },
            renewing: {
              entry: 'startRenew',
              invoke: {
                src: 'casLease',
                input: ({ context }) => ({ lease: context.attempt.lease, revision: context.attempt.revision }),
                onDone: [{ guard: 'won', target: 'held', actions: 'holdLease' }, { target: '#external.standby' }],
                onError: 'retrying',
              },
              after: { leaseDeadline: '#external.standby' },
            },
            retrying: { after: { retry: 'renewing', leaseDeadline: '#external.standby' } },
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
              entry: ['plan', 'emitAnswers'],
              always: [
                { guard: 'nothingToWrite', target: 'idle' },
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
            cooling: { after: { retry: { target: 'idle', actions: 'markDirty' } } },
          },
        },
      },
    },
    stopped: { type: 'final' },
  },
});
