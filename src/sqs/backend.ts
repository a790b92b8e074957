/**
 * How the SQS endpoint reaches Wharf: in process, through the node's own FrontEnd, with the same
 * request checks a NATS frame gets (codec.ts). Every call names the caller's principal: the
 * FrontEnd authorizes it as it does a NATS request (src/security/access.ts, docs/security.md).
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
  /** FrontEnd.handle: authorizes `principal`, then runs the action. */
  handle<A extends Action>(principal: string, action: A, request: Request<A>): Promise<Reply<A>>;
  queues(): QueueMeta[];
  /** Whether ListQueues shows `queue` to `principal`. */
  sees(principal: string, queue: string): boolean;
}

export function wharfBackend(deps: BackendDeps): WharfBackend {
  return {
    call: async (principal, action, request) => deps.handle(principal.name, action, checkRequest(action, request)),
    queues: (principal) => deps.queues().filter((q) => deps.sees(principal.name, q.name)),
  };
}
