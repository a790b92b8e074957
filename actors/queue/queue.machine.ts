/**
 * The queue actor: one queue's attributes and its partitions.
 *
 *   active ──delete──► deleting (partitions stopped; data removed) ──► deleted (final)
 *
 * It spawns one partition actor per partition (system id `partition:<queue>:<n>`, see
 * `partitionSystemId`) and tells them about attribute changes they act on (retention).
 */
import { assign, enqueueActions, sendTo, setup, stopChild, type ActorRefFrom } from 'xstate';
import { declared } from '../declared.ts';
import { partitionMachine } from '../partition/partition.machine.ts';
import type { PartitionLimits } from '../partition/partition.events.ts';
import type { QueueAttributes } from '../../src/protocol/messages.ts';

export interface QueueInput {
  name: string;
  attributes: QueueAttributes;
  createdAt: number;
  modifiedAt: number;
  limits: PartitionLimits;
  tickMs: number;
  retentionCheckMs: number;
  now: () => number;
}

export type QueueEvent =
  | { type: 'attributes.set'; attributes: QueueAttributes; modifiedAt: number }
  | { type: 'delete' };

export interface QueueContext extends QueueInput {
  partitions: Array<ActorRefFrom<typeof partitionMachine>>;
}

export const partitionSystemId = (queue: string, partition: number) => `partition:${queue}:${partition}`;
export const queueSystemId = (queue: string) => `queue:${queue}`;

export const queueMachine = setup({
  types: {
    context: {} as QueueContext,
    events: {} as QueueEvent,
    input: {} as QueueInput,
  },
  actors: {
    partition: partitionMachine,
    dropQueueData: declared<void, { queue: string }>('dropQueueData'),
  },
}).createMachine({
  id: 'queue',
  context: ({ input, spawn }) => ({
    ...input,
    partitions: Array.from({ length: input.attributes.partitions }, (_, n) =>
      spawn('partition', {
        id: partitionSystemId(input.name, n),
        systemId: partitionSystemId(input.name, n),
        input: {
          queue: input.name,
          partition: n,
          limits: input.limits,
          tickMs: input.tickMs,
          retentionMs: input.attributes.retentionPeriod * 1000,
          retentionCheckMs: input.retentionCheckMs,
          now: input.now,
        },
      }),
    ),
  }),
  initial: 'active',
  states: {
    active: {
      on: {
        'attributes.set': {
          actions: [
            assign({ attributes: ({ event }) => event.attributes, modifiedAt: ({ event }) => event.modifiedAt }),
            enqueueActions(({ context, event, enqueue }) => {
              for (const p of context.partitions) {
                enqueue(sendTo(p, { type: 'configure', retentionMs: event.attributes.retentionPeriod * 1000 }));
              }
            }),
          ],
        },
        delete: 'deleting',
      },
    },
    deleting: {
      entry: enqueueActions(({ context, enqueue }) => {
        for (const p of context.partitions) {
          enqueue(sendTo(p, { type: 'stop' }));
          enqueue(stopChild(p));
        }
        enqueue.assign({ partitions: [] });
      }),
      invoke: {
        src: 'dropQueueData',
        input: ({ context }) => ({ queue: context.name }),
        onDone: 'deleted',
        // The queue record is already gone; leftover keys are removed at the next start.
        onError: 'deleted',
      },
    },
    deleted: { type: 'final' },
  },
});
