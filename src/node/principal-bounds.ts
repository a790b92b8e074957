/**
 * Bounds per principal on one node (docs/security.md, "Hostile input"): requests outstanding at
 * once (WHARF_MAX_PENDING_PER_PRINCIPAL) and, among them, long-poll receives and stream reads
 * waiting at once (WHARF_MAX_WAITERS_PER_PRINCIPAL). The node's other bounds are per queue
 * (WHARF_MAX_WAITERS) and per partition (WHARF_MAX_PENDING): without these, one client could take
 * every long-poll slot of a queue, or fill a partition's pending work, and other principals would
 * get `over_limit`. Past its bound a request is refused with `over_limit` before any work is done
 * for it; the message names the bound and its setting.
 *
 * Who is bounded: with authorization on, the principal the API subject names (NATS authenticated
 * it). With it off every client is `anonymous`, so the bound is per connection instead, read from
 * the request's reply subject: best effort, since a client chooses its inbox (`boundKey`).
 *
 * A slot is taken when the request arrives and released when its reply goes out, on every path
 * (an answer, an error, a long poll's end); a client that goes away holds its slots until its
 * requests end, at most the longest long poll (20 s). Memory is one entry per principal with
 * requests outstanding, and O(1) per request.
 */
import { ErrorCode, WharfError } from '../errors.ts';

export interface PrincipalBoundsOptions {
  /** Requests one principal may have outstanding on this node. */
  maxPending: number;
  /** Long polls (among them) one principal may have waiting on this node. */
  maxWaiters: number;
}

/** What one request holds; `release` frees it all, and only the first call counts. */
export interface Slot {
  /** The request long-polls: takes a waiter slot too, or throws `over_limit`. */
  wait(): void;
  release(): void;
}

interface Held {
  pending: number;
  waiters: number;
}

/**
 * Whose bound a request counts against, also the name the refusal gives it. A connection's
 * requests share its inbox: nats.js and the Go client reply to `<prefix>.<connection id>.<token>`,
 * so the reply without its last token names the connection. A two-token reply (a request made
 * without the shared inbox) is its own.
 */
export function boundKey(byPrincipal: boolean, principal: string, reply: string): string {
  if (byPrincipal) return `principal ${principal}`;
  const tokens = reply.split('.');
  return `connection ${tokens.length > 2 ? tokens.slice(0, -1).join('.') : reply}`;
}

export class PrincipalBounds {
  private readonly options: PrincipalBoundsOptions;
  private readonly held = new Map<string, Held>();

  constructor(options: PrincipalBoundsOptions) {
    this.options = options;
  }

  /** Takes a request slot for `key` (`boundKey`), or throws `over_limit`. */
  enter(key: string): Slot {
    let held = this.held.get(key);
    if (held === undefined) {
      held = { pending: 0, waiters: 0 };
      this.held.set(key, held);
    }
    const { maxPending, maxWaiters } = this.options;
    if (held.pending >= maxPending) {
      throw new WharfError(ErrorCode.OverLimit, `${key} has ${held.pending} requests outstanding on this node, its limit (WHARF_MAX_PENDING_PER_PRINCIPAL); retry when some are answered`);
    }
    held.pending++;
    const entry = held;
    let waiting = false;
    let released = false;
    return {
      wait: () => {
        if (waiting || released) return;
        if (entry.waiters >= maxWaiters) {
          throw new WharfError(ErrorCode.OverLimit, `${key} has ${entry.waiters} long polls waiting on this node, its limit (WHARF_MAX_WAITERS_PER_PRINCIPAL); retry when some are answered`);
        }
        entry.waiters++;
        waiting = true;
      },
      release: () => {
        if (released) return;
        released = true;
        entry.pending--;
        if (waiting) entry.waiters--;
        if (entry.pending === 0) this.held.delete(key);
      },
    };
  }

  /** What `key` holds now. */
  holding(key: string): Held {
    const held = this.held.get(key);
    return held === undefined ? { pending: 0, waiters: 0 } : { ...held };
  }

  /** Keys with requests outstanding. */
  get size(): number {
    return this.held.size;
  }
}
