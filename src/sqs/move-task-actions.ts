/** SQS's redrive actions, on Wharf's message move tasks (docs/api.md#redrive-message-move-tasks). */
import { LIMITS } from '../protocol/limits.ts';
import type { MessageMoveTask } from '../protocol/messages.ts';
import type { ActionContext, ActionHandler } from './context.ts';
import { optionalInt, optionalString, requiredString } from './input.ts';
import { queueArn, queueOfArn } from './queue-names.ts';

/** SQS's most results of ListMessageMoveTasks. */
const MAX_TASK_RESULTS = 10;

export const moveTaskActions = {
  StartMessageMoveTask: async (input, ctx) => {
    const destination = optionalString(input, 'DestinationArn');
    const rate = optionalInt(input, 'MaxNumberOfMessagesPerSecond', 1, LIMITS.maxMovesPerSecond);
    const { taskId } = await ctx.wharf.call(ctx.principal, 'StartMessageMoveTask', {
      sourceQueue: queueOfArn(requiredString(input, 'SourceArn')),
      ...(destination === undefined ? {} : { destinationQueue: queueOfArn(destination) }),
      ...(rate === undefined ? {} : { maxMessagesPerSecond: rate }),
    });
    return { TaskHandle: taskId };
  },

  CancelMessageMoveTask: async (input, ctx) => {
    const { task } = await ctx.wharf.call(ctx.principal, 'CancelMessageMoveTask', { taskId: requiredString(input, 'TaskHandle') });
    return { ApproximateNumberOfMessagesMoved: task.moved };
  },

  ListMessageMoveTasks: async (input, ctx) => {
    const sourceQueue = queueOfArn(requiredString(input, 'SourceArn'));
    const max = optionalInt(input, 'MaxResults', 1, MAX_TASK_RESULTS) ?? 1;
    const { tasks } = await ctx.wharf.call(ctx.principal, 'ListMessageMoveTasks', { sourceQueue });
    // Wharf lists the oldest first; SQS the most recent first.
    return { Results: tasks.slice(-max).reverse().map((t) => taskResult(t, ctx)) };
  },
} satisfies Record<string, ActionHandler>;

function taskResult(t: MessageMoveTask, ctx: ActionContext): Record<string, unknown> {
  return {
    // SQS shows the handle of a running task only: it is what CancelMessageMoveTask takes.
    ...(t.status === 'running' ? { TaskHandle: t.taskId } : {}),
    Status: t.status.toUpperCase(),
    SourceArn: queueArn(ctx.account, t.sourceQueue),
    ...(t.destinationQueue === undefined ? {} : { DestinationArn: queueArn(ctx.account, t.destinationQueue) }),
    ...(t.maxMessagesPerSecond === undefined ? {} : { MaxNumberOfMessagesPerSecond: t.maxMessagesPerSecond }),
    ApproximateNumberOfMessagesMoved: t.moved,
    ApproximateNumberOfMessagesToMove: t.total,
    ...(t.lastError === undefined ? {} : { FailureReason: t.lastError }),
    StartedTimestamp: t.startedAt,
  };
}
