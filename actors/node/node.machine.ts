/**
 * The node actor: one broker node and the queues it serves.
 *
 *   starting (load the queue catalog) ──► running ──stop──► stopped
 *
 * Each queue is a child actor (system id `queue:<name>`); created queues are spawned, deleted ones
 * are told to delete and forgotten when they finish.
 */
import { assign, enqueueActions, sendTo, setup, stopChild, type ActorRefFrom } from 'xstate';
import { declared } from '../declared.ts';
import { queueMachine, queueSystemId, type QueueInput } from '../queue/queue.machine.ts';
import type { PartitionLimits } from '../partition/partition.events.ts';
import type { QueueAttributes } from '../../src/protocol/messages.ts';

export interface CatalogEntry {
  name: string;
  attributes: QueueAttributes;
  createdAt: number;
  /** A random number drawn at creation: receipt handles carry it, so none outlives its queue. */
  incarnation: number;
  modifiedAt: number;
}

export interface NodeInput {
  nodeId: string;
  limits: PartitionLimits;
  tickMs: number;
  retentionCheckMs: number;
  now: () => number;
}

export type NodeEvent =
  | { type: 'queue.created'; entry: CatalogEntry }
  | { type: 'queue.updated'; entry: CatalogEntry }
  | { type: 'queue.deleted'; name: string }
  | { type: 'stop' };

export interface NodeContext extends NodeInput {
  queues: Record<string, ActorRefFrom<typeof queueMachine>>;
}

export const nodeMachine = setup({
  types: {
    context: {} as NodeContext,
    events: {} as NodeEvent,
    input: {} as NodeInput,
  },
  actors: {
    queue: queueMachine,
    loadCatalog: declared<CatalogEntry[], void>('loadCatalog'),
  },
}).createMachine({
  id: 'node',
  context: ({ input }) => ({ ...input, queues: {} }),
  initial: 'starting',
  states: {
    starting: {
      invoke: {
        src: 'loadCatalog',
        onDone: {
          target: 'running',
          actions: enqueueActions(({ context, event, enqueue }) => {
            for (const entry of event.output) enqueue.raise({ type: 'queue.created', entry });
            void context;
          }),
        },
        onError: 'stopped',
      },
    },
    running: {
      on: {
        'queue.created': {
          actions: assign({
            queues: ({ context, event, spawn }) => {
              const { entry } = event;
              const input: QueueInput = {
                ...entry,
                limits: context.limits,
                tickMs: context.tickMs,
                retentionCheckMs: context.retentionCheckMs,
                now: context.now,
              };
              const ref = spawn('queue', { id: queueSystemId(entry.name), systemId: queueSystemId(entry.name), input });
              return { ...context.queues, [entry.name]: ref };
            },
          }),
        },
        'queue.updated': {
          actions: enqueueActions(({ context, event, enqueue }) => {
            const ref = context.queues[event.entry.name];
            if (ref) {
              enqueue(sendTo(ref, { type: 'attributes.set', attributes: event.entry.attributes, modifiedAt: event.entry.modifiedAt }));
            }
          }),
        },
        'queue.deleted': {
          actions: enqueueActions(({ context, event, enqueue }) => {
            const ref = context.queues[event.name];
            if (!ref) return;
            enqueue(sendTo(ref, { type: 'delete' }));
            const { [event.name]: _gone, ...rest } = context.queues;
            enqueue.assign({ queues: rest });
          }),
        },
        stop: 'stopped',
      },
    },
    stopped: {
      type: 'final',
      entry: enqueueActions(({ context, enqueue }) => {
        for (const ref of Object.values(context.queues)) enqueue(stopChild(ref));
      }),
    },
  },
});
