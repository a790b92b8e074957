/**
 * The node actor: one broker node and the queues it holds replicas of.
 *
 *   running ──stop──► stopped
 *
 * Each queue with a replica here is a child actor (system id `queue:<name>`), spawned when the
 * metadata first assigns this node one of its partitions; assignment changes are routed to it, and
 * a deleted queue is told to delete its data and forgotten.
 */
import { enqueueActions, sendTo, setup, stopChild, type ActorRefFrom } from 'xstate';
import type { Assignment, QueueMeta } from '../../src/meta/records.ts';
import { queueMachine, queueSystemId, type QueueInput } from '../queue/queue.machine.ts';
import type { PartitionInput, PartitionLimits } from '../partition/partition.events.ts';

export interface NodeInput {
  nodeId: string;
  limits: PartitionLimits;
  tickMs: number;
  retentionCheckMs: number;
  retryMs: number;
  now: () => number;
  /** The lease heartbeat, handed to every partition (partition.events.ts PartitionInput.beats). */
  beats?: PartitionInput['beats'];
}

export type NodeEvent =
  | { type: 'assignment'; queue: QueueMeta; assignment: Assignment }
  | { type: 'queue.updated'; queue: QueueMeta }
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
  actors: { queue: queueMachine },
}).createMachine({
  id: 'node',
  context: ({ input }) => ({ ...input, queues: {} }),
  initial: 'running',
  states: {
    running: {
      on: {
        assignment: {
          actions: enqueueActions(({ context, event, enqueue }) => {
            const { queue, assignment } = event;
            const existing = context.queues[queue.name];
            // A queue deleted and created again under its name: the old one deletes its data first.
            if (existing && existing.getSnapshot().context.incarnation !== queue.incarnation) {
              enqueue(sendTo(existing, { type: 'delete' }));
            } else if (existing) {
              enqueue(sendTo(existing, { type: 'assignment', assignment }));
              return;
            }
            enqueue.assign({
              queues: ({ context: c, spawn }) => {
                const input: QueueInput = {
                  name: queue.name,
                  attributes: queue.attributes,
                  incarnation: queue.incarnation,
                  createdAt: queue.createdAt,
                  modifiedAt: queue.modifiedAt,
                  self: c.nodeId,
                  limits: c.limits,
                  tickMs: c.tickMs,
                  retentionCheckMs: c.retentionCheckMs,
                  retryMs: c.retryMs,
                  now: c.now,
                  ...(c.beats === undefined ? {} : { beats: c.beats }),
                };
                const id = `${queueSystemId(queue.name)}:${queue.incarnation}`;
                const ref = spawn('queue', { id, systemId: id, input });
                ref.send({ type: 'assignment', assignment });
                return { ...c.queues, [queue.name]: ref };
              },
            });
          }),
        },
        'queue.updated': {
          actions: enqueueActions(({ context, event, enqueue }) => {
            const ref = context.queues[event.queue.name];
            if (ref && ref.getSnapshot().context.incarnation === event.queue.incarnation) {
              enqueue(sendTo(ref, { type: 'attributes.set', attributes: event.queue.attributes, modifiedAt: event.queue.modifiedAt }));
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
