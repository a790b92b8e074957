/**
 * The NATS subject namespace. No other module builds a subject.
 *
 *   wharf.<cluster>.api.<action>               client → any node's front-end        request/reply, queue group `wharf-api`
 *   wharf.<cluster>.node.<node>.heartbeat      every node                           publish
 *   wharf.<cluster>.inspect.<node>             node → inspectors                    publish
 *
 * `<cluster>` names one Wharf deployment, so several can share one NATS server (the tests do). The
 * protocol version travels in the request body (`v`), not in the subject.
 */
import type { ClusterName, NodeId } from '../names.ts';
import type { Action } from './messages.ts';

export const ROOT = 'wharf';
/** Queue group of the front-ends: each API request reaches exactly one node. */
export const API_QUEUE_GROUP = 'wharf-api';

export function subjects(cluster: ClusterName) {
  const prefix = `${ROOT}.${cluster}`;
  return {
    api: (action: Action) => `${prefix}.api.${action}`,
    allApi: `${prefix}.api.*`,
    heartbeat: (node: NodeId) => `${prefix}.node.${node}.heartbeat`,
    allHeartbeats: `${prefix}.node.*.heartbeat`,
    inspect: (node: NodeId) => `${prefix}.inspect.${node}`,
    allInspect: `${prefix}.inspect.*`,
  } as const;
}

export type Subjects = ReturnType<typeof subjects>;

/** The action named by an API subject, or undefined when the subject is not one. */
export function actionOf(subject: string): string | undefined {
  const i = subject.lastIndexOf('.');
  return i < 0 ? undefined : subject.slice(i + 1);
}
