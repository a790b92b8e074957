/**
 * Rate limits of the front-end: a queue's maxRequestsPerSecond and maxBytesPerSecond, as token
 * buckets on each node (docs/isolation.md). A request over a limit is refused at once with
 * `throttled` and the time until it would pass; nothing of it reaches a partition, so a throttled
 * queue costs its neighbours one bucket check per request.
 *
 * The limits are the cluster's: each node enforces the share of them that its traffic should be.
 * Clients send a partition's requests to its primary's node (route-table.ts), so a node serving k
 * of a queue's P primaries sees about k/P of its traffic and gets k/P of the rate; a node serving
 * none (requests reaching it before the client learnt the routes) gets 1/P. The node's share is
 * re-read from the assignments at most once a second: a failover moves the share with the primary.
 *
 * A bucket holds one second of its rate and may go into debt: a batch larger than a second's worth
 * passes when the bucket is not in debt and the debt is paid off before the next one, so the rate
 * holds over time and no request is too large ever to pass.
 *
 * Buckets are keyed by a scope (`queue:<name>` today); limits of other scopes (a tenant) add their
 * own key and are checked by the same `admit`, which refuses if any of the request's scopes is over.
 */
import { ErrorCode, WharfError } from '../errors.ts';
import { recordSize } from '../../actors/partition/records.ts';
import type { Metadata } from '../meta/metadata.ts';
import type { QueueMeta } from '../meta/records.ts';
import type { Action, OutgoingMessage, Request } from '../protocol/messages.ts';

/** A scope's limits; 0 is unlimited. */
export interface Rates {
  requestsPerSecond: number;
  bytesPerSecond: number;
}

/** Actions that touch messages: limited. Control actions (attributes, tags, purge, …) never are, so a throttled queue can always be reconfigured. */
const LIMITED: ReadonlySet<Action> = new Set<Action>([
  'SendMessage',
  'SendMessageBatch',
  'ReceiveMessage',
  'DeleteMessage',
  'DeleteMessageBatch',
  'ChangeMessageVisibility',
  'ChangeMessageVisibilityBatch',
  'PeekMessages',
  'ReadStream',
  'FindOffset',
  'GetOffsets',
  'CommitOffsets',
]);

/** How often a bucket re-reads the node's share of its queue's primaries, ms. */
const SHARE_REFRESH_MS = 1000;

/** A token bucket holding up to one second of `rate`, in debt after an oversized take. */
export class TokenBucket {
  private rate: number;
  private tokens: number;
  private at: number;

  constructor(rate: number, now: number) {
    this.rate = rate;
    this.tokens = rate;
    this.at = now;
  }

  /** Changes the rate, keeping the tokens (capped to the new capacity). */
  setRate(rate: number): void {
    this.rate = rate;
    this.tokens = Math.min(this.tokens, rate);
  }

  /** Refills to `now`; returns 0 when a take may happen now, else how long until it may, ms. */
  wait(now: number): number {
    if (now > this.at) {
      this.tokens = Math.min(this.rate, this.tokens + ((now - this.at) * this.rate) / 1000);
      this.at = now;
    }
    // A take waits for the debt of the ones before it to be paid off.
    return this.tokens > 0 ? 0 : Math.max(1, Math.ceil((-this.tokens * 1000) / this.rate));
  }

  take(n: number): void {
    this.tokens -= n;
  }
}

interface Scope {
  requests: TokenBucket | undefined;
  bytes: TokenBucket | undefined;
  shareAt: number;
}

export interface RateLimitDeps {
  now(): number;
  /** The fraction of the queue's traffic this node should see (0 < share ≤ 1). */
  share(meta: QueueMeta): number;
}

export class RateLimits {
  private readonly scopes = new Map<string, Scope>();
  private readonly deps: RateLimitDeps;

  constructor(deps: RateLimitDeps) {
    this.deps = deps;
  }

  /** Throws `throttled` when the request is over a limit of its queue; otherwise charges it. */
  admit<A extends Action>(action: A, meta: QueueMeta, request: Request<A>): void {
    if (!LIMITED.has(action)) return;
    const rates = queueRates(meta);
    const key = `queue:${meta.name}`;
    if (rates.requestsPerSecond === 0 && rates.bytesPerSecond === 0) {
      this.scopes.delete(key);
      return;
    }
    const bytes = rates.bytesPerSecond === 0 ? 0 : sentBytes(action, request);
    const now = this.deps.now();
    const scope = this.scope(key, meta, rates, now);
    const waitRequests = scope.requests?.wait(now) ?? 0;
    const waitBytes = bytes === 0 ? 0 : (scope.bytes?.wait(now) ?? 0);
    const wait = Math.max(waitRequests, waitBytes);
    if (wait > 0) {
      const what = waitRequests >= waitBytes ? `maxRequestsPerSecond ${rates.requestsPerSecond}` : `maxBytesPerSecond ${rates.bytesPerSecond}`;
      throw new WharfError(ErrorCode.Throttled, `queue ${meta.name} is over its ${what}; retry in ${wait} ms`, { retryAfterMs: wait });
    }
    scope.requests?.take(1);
    if (bytes > 0) scope.bytes?.take(bytes);
  }

  /** The scope's buckets at this node's current share of the rates. */
  private scope(key: string, meta: QueueMeta, rates: Rates, now: number): Scope {
    let scope = this.scopes.get(key);
    if (scope === undefined || now - scope.shareAt >= SHARE_REFRESH_MS) {
      const share = this.deps.share(meta);
      const bucket = (current: TokenBucket | undefined, rate: number) => {
        if (rate === 0) return undefined;
        if (current === undefined) return new TokenBucket(rate * share, now);
        current.setRate(rate * share);
        return current;
      };
      scope = {
        requests: bucket(scope?.requests, rates.requestsPerSecond),
        bytes: bucket(scope?.bytes, rates.bytesPerSecond),
        shareAt: now,
      };
      this.scopes.set(key, scope);
    }
    return scope;
  }
}

function queueRates(meta: QueueMeta): Rates {
  return { requestsPerSecond: meta.attributes.maxRequestsPerSecond ?? 0, bytesPerSecond: meta.attributes.maxBytesPerSecond ?? 0 };
}

/** Bytes of bodies and attributes a send carries (0 for other actions). */
function sentBytes<A extends Action>(action: A, request: Request<A>): number {
  const size = (m: OutgoingMessage) => recordSize(m);
  if (action === 'SendMessage') return size(request as Request<'SendMessage'>);
  if (action === 'SendMessageBatch') return (request as Request<'SendMessageBatch'>).entries.reduce((n, e) => n + size(e), 0);
  return 0;
}

/**
 * This node's share of a queue's traffic: the fraction of its partitions whose primary it is, or one
 * partition's worth when it serves none (clients that do not route by partition, or stale routes).
 */
export function primaryShare(metadata: Metadata, self: string): (meta: QueueMeta) => number {
  return (meta) => {
    const partitions = meta.attributes.partitions;
    let here = 0;
    for (let p = 0; p < partitions; p++) {
      const a = metadata.assignment(meta.name, p)?.value;
      if (a !== undefined && a.incarnation === meta.incarnation && a.primary === self) here++;
    }
    return Math.max(here, 1) / partitions;
  };
}
