/**
 * How the SQS endpoint reaches Wharf: in process, through the node's own FrontEnd, with the same
 * request checks a NATS frame gets (codec.ts). Every call names the caller's principal and passes
 * `authorize`, the one place where per-queue permissions apply.
 */
import type { QueueMeta } from '../meta/records.ts';
import { checkRequest } from '../protocol/codec.ts';
import type { Action, Reply, Request } from '../protocol/messages.ts';

/** Who sends a request: the Wharf principal its SigV4 access key maps to, or `anonymous` when unsigned access is on. */
export interface Principal {
  name: string;
  /** The access key the request was signed with; absent for an unsigned request. */
  accessKeyId?: string;
}

export const ANONYMOUS: Principal = { name: 'anonymous' };

export interface WharfBackend {
  /** One Wharf action on behalf of `principal`. */
  call<A extends Action>(principal: Principal, action: A, request: Request<A>): Promise<Reply<A>>;
  /** The queue records (name and attributes) the principal may see, from this node's metadata cache. */
  queues(principal: Principal): QueueMeta[];
}

export interface BackendDeps {
  handle<A extends Action>(action: A, request: Request<A>): Promise<Reply<A>>;
  queues(): QueueMeta[];
}

export function wharfBackend(deps: BackendDeps): WharfBackend {
  return {
    call: async (principal, action, request) => {
      authorize(principal, action, 'queue' in request ? request.queue : 'sourceQueue' in request ? request.sourceQueue : undefined);
      return deps.handle(action, checkRequest(action, request));
    },
    queues: (principal) => deps.queues().filter((q) => mayList(principal, q.name)),
  };
}

/**
 * Whether `principal` may run `action` on `queue`: every principal with a valid signature (or,
 * with unsigned access on, anyone) may do everything. Per-queue policies hook in here.
 */
function authorize(_principal: Principal, _action: Action, _queue: string | undefined): void {}

function mayList(_principal: Principal, _queue: string): boolean {
  return true;
}
