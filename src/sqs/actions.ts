/** Every SQS action the endpoint serves, by name. */
import type { ActionHandler } from './context.ts';
import { messageActions } from './message-actions.ts';
import { moveTaskActions } from './move-task-actions.ts';
import { queueActions } from './queue-actions.ts';

export const SQS_ACTIONS: Readonly<Record<string, ActionHandler>> = { ...queueActions, ...messageActions, ...moveTaskActions };

export function sqsAction(name: string): ActionHandler | undefined {
  return Object.hasOwn(SQS_ACTIONS, name) ? SQS_ACTIONS[name] : undefined;
}
