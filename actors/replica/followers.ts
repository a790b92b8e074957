/**
 * The primary's view of its followers: what each has persisted, which index is committed, whether
 * the primary still holds its lease, and what to answer each fetch. Pure: time comes in as `now`
 * (the primary's monotonic clock, ms).
 *
 * Followers pull: a fetch from index `from` says "I have persisted everything below `from`", so it
 * is both the request for more and the acknowledgement of what came before. An entry is committed
 * once a majority of the voting replicas (the primary included) persisted it, and, as in Raft, only
 * once an entry of the primary's own epoch is among them: entries of earlier epochs are committed
 * by being below it.
 *
 * The lease: every answer carries a token (the primary's clock when it sent the answer) and every
 * fetch echoes the last token its follower received. A follower that echoes a token had not yet
 * moved to a newer epoch when it got that answer, so while a majority echoed tokens newer than
 * now − leaseMs, no other primary can have been serving for leaseMs. The primary acknowledges and
 * delivers only while that holds; a new primary waits leaseMs after its first commit before it does.
 */
import { divergence, type ReplicaMeta } from './log.ts';

export interface FetchRequest {
  follower: string;
  /** The epoch the follower believes current. */
  epoch: number;
  /** The follower's log end: it has persisted every entry below it. */
  from: number;
  /** Epoch of the follower's last entry (0 when its log is empty). */
  lastEpoch: number;
  /** The token of the last answer it received from this primary (0 for none). */
  token: number;
  /** A learner copies the log but does not count for commit or lease. */
  learner: boolean;
}

export type FetchAnswer =
  /** The follower's epoch is older than the primary's: it must look at the assignment again. */
  | { kind: 'fenced'; epoch: number }
  /** The follower's epoch is newer: this primary is stale and must step down. */
  | { kind: 'superseded'; epoch: number }
  /** Its log diverges from index `to` on: drop the entries from there and fetch again. */
  | { kind: 'truncate'; to: number }
  /** It needs entries this log no longer holds: copy a snapshot of the state, then fetch from its end. */
  | { kind: 'snapshot' }
  /** Entries [from, to) and the commit index. */
  | { kind: 'entries'; from: number; to: number; commit: number }
  /** Nothing new: park the fetch until an append or its wait runs out. */
  | { kind: 'wait' };

interface Follower {
  match: number;
  token: number;
  learner: boolean;
  /** When its match last reached the primary's log end (for the in-sync set). */
  caughtUpAt: number;
}

export interface FollowersInput {
  self: string;
  /** Voting replicas, the primary included. */
  voters: readonly string[];
  epoch: number;
  /** Index of this primary's first entry (the start of its epoch). */
  epochStart: number;
  /** Entries below this index are known to be committed. */
  commit: number;
  /** First index still in the log. */
  logStart: number;
  logEnd: number;
  epochs: ReplicaMeta['epochs'];
  leaseMs: number;
  /** Most entries in one answer. */
  maxEntries: number;
  now: number;
}

export class Followers {
  readonly self: string;
  readonly epoch: number;
  readonly epochStart: number;
  private voters: ReadonlySet<string>;
  private readonly leaseMs: number;
  private readonly maxEntries: number;
  private readonly followers = new Map<string, Follower>();
  private epochs: ReplicaMeta['epochs'];
  private _logStart: number;
  private _logEnd: number;
  private _commit: number;
  private readonly startedAt: number;

  constructor(input: FollowersInput) {
    this.self = input.self;
    this.voters = new Set(input.voters);
    this.epoch = input.epoch;
    this.epochStart = input.epochStart;
    this._commit = input.commit;
    this._logStart = input.logStart;
    this._logEnd = input.logEnd;
    this.epochs = input.epochs;
    this.leaseMs = input.leaseMs;
    this.maxEntries = input.maxEntries;
    this.startedAt = input.now;
  }

  get logEnd(): number {
    return this._logEnd;
  }

  get commit(): number {
    return this._commit;
  }

  /** Votes needed for commit and lease. */
  get quorum(): number {
    return Math.floor(this.voters.size / 2) + 1;
  }

  /** The voting set changed (a learner promoted, a replica replaced). */
  setVoters(voters: readonly string[]): void {
    this.voters = new Set(voters);
    this.recompute();
  }

  /** Entries below `logStart` were deleted from the primary's log. */
  trimmed(logStart: number): void {
    this._logStart = Math.max(this._logStart, logStart);
  }

  get logStart(): number {
    return this._logStart;
  }

  /** The primary persisted entries up to `logEnd` (they carry this epoch). */
  appended(logEnd: number, epochs: ReplicaMeta['epochs']): void {
    this._logEnd = logEnd;
    this.epochs = epochs;
    this.recompute();
  }

  onFetch(request: FetchRequest, now: number): FetchAnswer {
    if (request.epoch > this.epoch) return { kind: 'superseded', epoch: request.epoch };
    if (request.epoch < this.epoch) return { kind: 'fenced', epoch: this.epoch };
    // Its log must be a prefix of this one before its log end counts as a match (KIP-101/279).
    const cut = divergence(this.epochs, this._logEnd, request.from, request.lastEpoch);
    if (cut !== undefined) {
      // Whatever it matched before, it is about to drop everything from `cut` on.
      const known = this.followers.get(request.follower);
      if (known !== undefined && known.match > cut) known.match = cut;
      return { kind: 'truncate', to: cut };
    }
    const f = this.followers.get(request.follower) ?? { match: 0, token: 0, learner: request.learner, caughtUpAt: -Infinity };
    f.match = request.from;
    f.learner = request.learner;
    // Tokens are this primary's own clock readings: a newer one can only be echoed after an older one.
    // One this primary cannot have issued (before it started, or after now) is another primary's,
    // echoed by a follower that switched to this one: it proves nothing about this primary's lease.
    if (request.token > f.token && request.token >= this.startedAt && request.token <= now) f.token = request.token;
    if (f.match >= this._logEnd) f.caughtUpAt = now;
    this.followers.set(request.follower, f);
    this.recompute();
    if (request.from < this._logStart) return { kind: 'snapshot' };
    if (request.from >= this._logEnd) return { kind: 'wait' };
    return { kind: 'entries', from: request.from, to: Math.min(this._logEnd, request.from + this.maxEntries), commit: this._commit };
  }

  /** Follower matches of the voters other than the primary. */
  private voterFollowers(): Follower[] {
    const out: Follower[] = [];
    for (const [id, f] of this.followers) if (id !== this.self && this.voters.has(id) && !f.learner) out.push(f);
    return out;
  }

  private recompute(): void {
    const matches = [this._logEnd, ...this.voterFollowers().map((f) => f.match)].sort((a, b) => b - a);
    const candidate = matches[this.quorum - 1] ?? 0;
    // Only an index past this epoch's first entry commits: older entries are committed by it.
    if (candidate > this.epochStart && candidate > this._commit) this._commit = candidate;
  }

  /** Until when (primary's clock) no other primary can be serving; Infinity for a single voter. */
  leaseUntil(): number {
    if (this.quorum <= 1) return Infinity;
    const tokens = this.voterFollowers()
      .map((f) => f.token)
      .sort((a, b) => b - a);
    const token = tokens[this.quorum - 2];
    return token === undefined || token === 0 ? -Infinity : token + this.leaseMs;
  }

  holdsLease(now: number): boolean {
    return now < this.leaseUntil();
  }

  /** Voting replicas (the primary included) caught up within `lagMs`. */
  inSync(now: number, lagMs: number): string[] {
    const out = [this.self];
    for (const [id, f] of this.followers) {
      if (id !== this.self && this.voters.has(id) && !f.learner && (f.match >= this._logEnd || now - f.caughtUpAt <= lagMs)) out.push(id);
    }
    return out.sort();
  }

  /** Each follower's persisted log end, for reports. */
  matches(): Record<string, number> {
    return Object.fromEntries([...this.followers].map(([id, f]) => [id, f.match]));
  }
}
