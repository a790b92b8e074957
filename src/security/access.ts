/**
 * The front-end's access check (docs/security.md): `authorize(principal, action, request)` before
 * any action runs, on every path into the front-end (NATS API subjects, and in-process callers such
 * as an HTTP endpoint that maps its own credentials to a principal). Policies come from the
 * metadata service's principals bucket, mirrored in memory, so a check costs a map lookup and a
 * scan of the principal's grants.
 *
 * Every refusal, and every action that changes queues or principals, is written to the audit log:
 * a pino child with `component: 'audit'` and the fields of AuditEvent, one line each.
 */
import type { Logger } from 'pino';
import { ErrorCode, WharfError } from '../errors.ts';
import type { PrincipalStore } from '../meta/principal-store.ts';
import type { Action, PrincipalPolicy, Request } from '../protocol/messages.ts';
import { permits, requirements, sees, type RequestContext, type Requirement } from './policy.ts';

/** One audit line's fields (besides pino's time, level and msg). */
export interface AuditEvent {
  audit: 'denied' | 'admin';
  principal: string;
  action: Action;
  /** The queue, principal or task the action names, when it names one. */
  target?: string;
  /** For `denied`: the permission that was missing. */
  permission?: string;
}

/** Actions that change queues or principals: audited when they succeed. */
const AUDITED: ReadonlySet<Action> = new Set<Action>([
  'CreateQueue',
  'DeleteQueue',
  'PurgeQueue',
  'SetQueueAttributes',
  'TagQueue',
  'UntagQueue',
  'StartMessageMoveTask',
  'CancelMessageMoveTask',
  'PutPrincipal',
  'DeletePrincipal',
]);

export interface Access {
  /** Whether requests are checked at all (WHARF_AUTH). */
  readonly enabled: boolean;
  /**
   * Throws `access_denied` (and audits it) unless `principal` may do `action` as `request` asks;
   * `context` is what the request's checks need beyond its fields (policy.ts RequestContext).
   */
  authorize<A extends Action>(principal: string, action: A, request: Request<A>, context?: RequestContext): void;
  /** Whether `principal` meets `need`, for answers filtered item by item (move tasks by their source). */
  may(principal: string, need: Requirement): boolean;
  /** Whether ListQueues shows `queue` to `principal`. */
  sees(principal: string, queue: string): boolean;
  /** The policy in force for `principal` (admins named in the configuration have one made up). */
  policy(principal: string): PrincipalPolicy | undefined;
  /** Audits a successful action that changed something. */
  done<A extends Action>(principal: string, action: A, request: Request<A>): void;
}

/** No authorization: every principal may do everything (the Quick start and tests' default). */
export const OPEN_ACCESS: Access = {
  enabled: false,
  authorize: () => undefined,
  may: () => true,
  sees: () => true,
  policy: () => undefined,
  done: () => undefined,
};

/** What an action names, for the audit line. */
function targetOf(request: unknown): string | undefined {
  const r = request as { queue?: unknown; sourceQueue?: unknown; name?: unknown; taskId?: unknown; policy?: { name?: unknown } };
  const target = r.queue ?? r.sourceQueue ?? r.policy?.name ?? r.name ?? r.taskId;
  return typeof target === 'string' ? target : undefined;
}

export function checkedAccess(principals: PrincipalStore, admins: readonly string[], log: Logger): Access {
  const audit = log.child({ component: 'audit' });
  const adminSet = new Set(admins);
  const policy = (principal: string): PrincipalPolicy | undefined =>
    adminSet.has(principal) ? { name: principal, admin: true, grants: [] } : principals.get(principal);
  return {
    enabled: true,
    policy,
    authorize(principal, action, request, context) {
      const p = policy(principal);
      for (const need of requirements(action, request, context)) {
        if (permits(p, need)) continue;
        const event: AuditEvent = { audit: 'denied', principal, action, permission: need.permission };
        const target = need.queue ?? targetOf(request);
        if (target !== undefined) event.target = target;
        audit.warn(event, 'access denied');
        const on = need.queue === undefined ? 'as an admin' : `on queue ${need.queue}`;
        throw new WharfError(ErrorCode.AccessDenied, `${principal} may not ${action} (needs ${need.permission} ${on})`);
      }
    },
    may: (principal, need) => permits(policy(principal), need),
    sees: (principal, queue) => sees(policy(principal), queue),
    done(principal, action, request) {
      if (!AUDITED.has(action)) return;
      const event: AuditEvent = { audit: 'admin', principal, action };
      const target = targetOf(request);
      if (target !== undefined) event.target = target;
      audit.info(event, 'admin action');
    },
  };
}
