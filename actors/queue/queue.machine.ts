/**
 * The queue actor: one queue on this node, its attributes and its replicas here.
 *
 *   active ──delete──► deleting (every replica drops its data) ──► deleted (final)
 *
 * It spawns a replica actor (`replica:<queue>:<n>`) for each partition the metadata assigns to this
 * node, forwards assignment changes to it, and removes it when the node is no longer named.
 */
import { assign, enqueueActions, sendTo, setup, type ActorRefFrom } from 'xstate';
import type { Assignment } from '../../src/meta/records.ts';
import type { PartitionInput, PartitionLimits } from '../partition/partition.events.ts';
import { replicaMachine, type ReplicaInput } from '../replica/replica.machine.ts';
import type { QueueAttributes } from '../../src/protocol/messages.ts';
import { LIMITS } from '../../src/protocol/limits.ts';

export interface QueueInput {
  name: string;
  attributes: QueueAttributes;
  incarnation: number;
  createdAt: number;
  modifiedAt: number;
  self: string;
  limits: PartitionLimits;
  tickMs: number;
  retentionCheckMs: number;
  retryMs: number;
  now: () => number;
  beats?: PartitionInput['beats'];
}

export type QueueEvent =
  | { type: 'attributes.set'; attributes: QueueAttributes; modifiedAt: number }
  | { type: 'assignment'; assignment: Assignment }
  | { type: 'unassigned'; partition: number }
  | { type: 'delete' };

export interface QueueContext extends QueueInput {
  replicas: Record<number, ActorRefFrom<typeof replicaMachine>>;
}

/** Names the incarnation too: a queue deleted and created again may still be dropping its old replicas. */
export const replicaSystemId = (queue: string, incarnation: number, partition: number) => `replica:${queue}:${incarnation}:${partition}`;
export const queueSystemId = (queue: string) => `queue:${queue}`;

const isMember = (a: Assignment, self: string) => a.replicas.includes(self) || a.learners.includes(self);

export const queueMachine = setup({
  types: {
    context: {} as QueueContext,
    events: {} as QueueEvent,
    input: {} as QueueInput,
  },
  actors: { replica: replicaMachine },
}).createMachine({
  id: 'queue',
  context: ({ input }) => ({ ...input, replicas: {} }),
  initial: 'active',
  states: {
    active: {
      on: {
        'attributes.set': {
          actions: [
            assign({ attributes: ({ event }) => event.attributes, modifiedAt: ({ event }) => event.modifiedAt }),
            enqueueActions(({ context, event, enqueue }) => {
              for (const r of Object.values(context.replicas)) {
                enqueue(
                  sendTo(r, {
                    type: 'configure',
                    retentionMs: event.attributes.retentionPeriod * 1000,
                    dedupWindowMs: event.attributes.deduplicationWindow * 1000,
                    retentionBytes: event.attributes.retentionBytes,
                    deadLetterOnExpiry: event.attributes.deadLetterOnExpiry ?? false,
                  }),
                );
              }
            }),
          ],
        },
        assignment: {
          actions: enqueueActions(({ context, event, enqueue }) => {
            const a = event.assignment;
            if (a.incarnation !== context.incarnation) return;
            const existing = context.replicas[a.partition];
            if (!isMember(a, context.self)) {
              if (existing) {
                enqueue(sendTo(existing, { type: 'remove' }));
                const { [a.partition]: _gone, ...rest } = context.replicas;
                enqueue.assign({ replicas: rest });
              }
              return;
            }
            if (existing) {
              enqueue(sendTo(existing, { type: 'assignment', assignment: a }));
              return;
            }
            enqueue.assign({
              replicas: ({ context: c, spawn }) => {
                const input: ReplicaInput = {
                  queue: c.name,
                  partition: a.partition,
                  incarnation: c.incarnation,
                  self: c.self,
                  retryMs: c.retryMs,
                  partition$: {
                    queue: c.name,
                    partition: a.partition,
                    // A stream never receives: the ledger's window of ready messages keeps one, not thousands.
                    limits: c.attributes.mode === 'stream' ? { ...c.limits, windowMessages: 1, windowBytes: 1 } : c.limits,
                    tickMs: c.tickMs,
                    retentionMs: c.attributes.retentionPeriod * 1000,
                    deadLetterOnExpiry: c.attributes.deadLetterOnExpiry ?? false,
                    dedupWindowMs: c.attributes.deduplicationWindow * 1000,
                    fifo: c.attributes.fifo,
                    retentionCheckMs: c.retentionCheckMs,
                    now: c.now,
                    ...(c.beats === undefined ? {} : { beats: c.beats }),
                    ...(c.attributes.mode === 'stream' ? { stream: { retentionBytes: c.attributes.retentionBytes, maxGroups: LIMITS.maxGroupsPerPartition } } : {}),
                  },
                };
                const id = replicaSystemId(c.name, c.incarnation, a.partition);
                const ref = spawn('replica', { id, systemId: id, input });
                ref.send({ type: 'assignment', assignment: a });
                return { ...c.replicas, [a.partition]: ref };
              },
            });
          }),
        },
        unassigned: {
          actions: enqueueActions(({ context, event, enqueue }) => {
            const existing = context.replicas[event.partition];
            if (!existing) return;
            enqueue(sendTo(existing, { type: 'remove' }));
          }),
        },
        delete: 'deleting',
      },
    },
    deleting: {
      entry: enqueueActions(({ context, enqueue }) => {
        for (const r of Object.values(context.replicas)) enqueue(sendTo(r, { type: 'remove' }));
      }),
      always: { guard: ({ context }) => Object.values(context.replicas).every((r) => r.getSnapshot().status !== 'active'), target: 'deleted' },
      on: {
        // A replica finished dropping its data (its final state): look again.
        '*': { target: 'deleting', reenter: false },
      },
    },
    deleted: { type: 'final' },
  },
});
