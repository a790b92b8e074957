/** What every SQS action handler gets: the backend, the caller and where queue URLs point. */
import type { Principal, WharfBackend } from './backend.ts';
import type { Input } from './input.ts';
import { queueOfUrl, queueUrl, type Account } from './queue-names.ts';
import { requiredString } from './input.ts';

export interface ActionContext {
  wharf: WharfBackend;
  principal: Principal;
  account: Account;
  /** `<scheme>://<host>` of the request: queue URLs point back where the caller reached this node. */
  baseUrl: string;
}

export type Output = Record<string, unknown>;
export type ActionHandler = (input: Input, ctx: ActionContext) => Promise<Output>;

/** The Wharf queue of the request's QueueUrl. */
export function queueOf(input: Input): string {
  return queueOfUrl(requiredString(input, 'QueueUrl'));
}

export function urlOf(ctx: ActionContext, wharf: string): string {
  return queueUrl(ctx.baseUrl, ctx.account, wharf);
}
