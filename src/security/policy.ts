/**
 * Authorization as a pure function of a principal's policy (docs/security.md): which permission on
 * which queue each action needs, and whether a policy grants it. No I/O: access.ts applies it.
 */
import type { Action, Permission, PrincipalAction, PrincipalPolicy, Request } from '../protocol/messages.ts';

/** The one permission each queue action needs on the queue it names. */
const NEEDS: Record<Exclude<Action, PrincipalAction | 'ListQueues' | 'StartMessageMoveTask' | 'CancelMessageMoveTask' | 'ListMessageMoveTasks'>, Permission> = {
  CreateQueue: 'create',
  GetQueueAttributes: 'attributes',
  SetQueueAttributes: 'attributes',
  TagQueue: 'attributes',
  UntagQueue: 'attributes',
  ListQueueTags: 'attributes',
  DeleteQueue: 'admin',
  PurgeQueue: 'purge',
  SendMessage: 'send',
  SendMessageBatch: 'send',
  ReceiveMessage: 'receive',
  DeleteMessage: 'delete',
  DeleteMessageBatch: 'delete',
  ChangeMessageVisibility: 'change-visibility',
  ChangeMessageVisibilityBatch: 'change-visibility',
  PeekMessages: 'peek',
  ReadStream: 'read',
  FindOffset: 'read',
  GetOffsets: 'read',
  DescribeGroup: 'read',
  ListGroups: 'read',
  CommitOffsets: 'commit',
  JoinGroup: 'commit',
  GroupHeartbeat: 'commit',
  LeaveGroup: 'commit',
};

/** One check: `permission` on `queue`, or (queue undefined) being an admin principal. */
export interface Requirement {
  permission: Permission;
  queue?: string;
}

/**
 * What the front-end knows of a request beyond its own fields: the source queue of the move task a
 * CancelMessageMoveTask names, read from the tasks bucket (undefined: no such task).
 */
export interface RequestContext {
  taskSource?: string | undefined;
}

/**
 * What a request needs. A queue a request names besides its own counts too: the dead-letter queue
 * of a redrive policy receives messages on the queue's behalf, so naming it needs `send` on it, and
 * a redrive's destination needs `send`. ListQueues needs nothing (its answer is filtered), WhoAmI
 * neither, nor ListMessageMoveTasks without a source (its answer is filtered: `admin` on each
 * task's source). A move task is administered with its source queue: cancelling one needs `admin`
 * there; a task that does not exist needs an admin principal, so that only an admin learns so.
 * Managing principals needs an admin principal.
 */
export function requirements<A extends Action>(action: A, request: Request<A>, context: RequestContext = {}): Requirement[] {
  switch (action) {
    case 'ListQueues':
    case 'WhoAmI':
      return [];
    case 'PutPrincipal':
    case 'DeletePrincipal':
    case 'ListPrincipals':
      return [{ permission: 'admin' }];
    case 'CancelMessageMoveTask':
      return [context.taskSource === undefined ? { permission: 'admin' } : { permission: 'admin', queue: context.taskSource }];
    case 'ListMessageMoveTasks': {
      const { sourceQueue } = request as Request<'ListMessageMoveTasks'>;
      return sourceQueue === undefined ? [] : [{ permission: 'admin', queue: sourceQueue }];
    }
    case 'StartMessageMoveTask': {
      const { sourceQueue, destinationQueue } = request as Request<'StartMessageMoveTask'>;
      const needs: Requirement[] = [{ permission: 'admin', queue: sourceQueue }];
      if (destinationQueue !== undefined) needs.push({ permission: 'send', queue: destinationQueue });
      return needs;
    }
    default: {
      const { queue, attributes } = request as { queue: string; attributes?: { redrivePolicy?: { deadLetterQueue?: unknown } | null } };
      const needs: Requirement[] = [{ permission: NEEDS[action as keyof typeof NEEDS], queue }];
      const dlq = attributes?.redrivePolicy?.deadLetterQueue;
      if ((action === 'CreateQueue' || action === 'SetQueueAttributes') && typeof dlq === 'string') needs.push({ permission: 'send', queue: dlq });
      return needs;
    }
  }
}

/** The tenant whose namespace a queue name is in: the text before its first `_`, if any. */
export function tenantOf(queue: string): string | undefined {
  const i = queue.indexOf('_');
  return i <= 0 ? undefined : queue.slice(0, i);
}

/** Whether a grant's pattern names the queue (already stripped of the tenant prefix). */
function matches(pattern: string, name: string): boolean {
  return pattern.endsWith('*') ? name.startsWith(pattern.slice(0, -1)) : pattern === name;
}

/**
 * The queue's name inside the policy's namespace: itself for a principal without tenant, the name
 * after `<tenant>_` for a tenant's own queue, undefined for another tenant's (never reachable).
 */
function localName(policy: PrincipalPolicy, queue: string): string | undefined {
  if (policy.tenant === undefined) return queue;
  const prefix = `${policy.tenant}_`;
  return queue.startsWith(prefix) ? queue.slice(prefix.length) : undefined;
}

/** Whether the policy meets a requirement. An admin principal meets all. */
export function permits(policy: PrincipalPolicy | undefined, need: Requirement): boolean {
  if (policy === undefined) return false;
  if (policy.admin === true) return true;
  if (need.queue === undefined) return false;
  const name = localName(policy, need.queue);
  if (name === undefined) return false;
  return policy.grants.some((g) => g.permissions.includes(need.permission) && matches(g.queues, name));
}

/** Whether ListQueues shows the queue: the policy grants something on it. */
export function sees(policy: PrincipalPolicy | undefined, queue: string): boolean {
  if (policy === undefined) return false;
  if (policy.admin === true) return true;
  const name = localName(policy, queue);
  return name !== undefined && policy.grants.some((g) => matches(g.queues, name));
}
