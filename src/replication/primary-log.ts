/**
 * The primary side of one partition's replication: appends the partition's write batches to the
 * log, answers followers' fetches (long-polled), and tells the partition when an entry is committed
 * and whether the lease still holds. The decisions are the pure `Followers`
 * (actors/replica/followers.ts); this object holds the I/O: the store, the recent entries in memory,
 * the parked fetches and the commit waiters.
 *
 * Appends and applies run one at a time (inTurn), so the in-memory meta is the durable one once
 * each write resolves; the partition may append a batch while earlier ones wait for their commit.
 */
import { Followers, type FetchRequest } from '../../actors/replica/followers.ts';
import type { ReplicaMeta } from '../../actors/replica/log.ts';
import { ErrorCode, WharfError } from '../errors.ts';
import { encodeLogEntry } from '../storage/records.ts';
import type { WriteOp } from '../storage/store.ts';
import type { ReplicaStore, Snapshot } from './replica-store.ts';
import type { FetchOutput, SnapshotOutput, SnapshotRequest } from '../../actors/replica/replica.machine.ts';
import { trimTo } from '../../actors/replica/log.ts';

/** What a follower's fetch is answered with: the replica machine's view of it. */
export type FetchReply = FetchOutput;

export interface PrimaryLogOptions {
  store: ReplicaStore;
  self: string;
  voters: readonly string[];
  epoch: number;
  meta: ReplicaMeta;
  /** Commit index known from before (entries below it are committed). */
  commit: number;
  leaseMs: number;
  /** Longest a fetch waits for new entries before it is answered empty. */
  maxWaitMs: number;
  /** Monotonic ms. */
  now: () => number;
  /** A fetch showed a newer epoch: this primary is stale. */
  onSuperseded: (epoch: number) => void;
  /**
   * Asks the previous primary whether it released its lease (releases.ts): true ends the wait for
   * the old lease at once. Absent when there is nobody to ask.
   */
  askRelease?: () => Promise<boolean>;
  /**
   * Asks the voters when every earlier lease ended at the latest (releases.ts, "Silence"): a time
   * of `now`, or undefined while that cannot be known.
   */
  oldLeaseEnd?: () => Promise<number | undefined>;
}

/** Between two questions to the previous primary while the old lease runs out. */
const RELEASE_RETRY_MS = 50;

/** Entries kept in memory for followers that are close behind. */
const TAIL_ENTRIES = 2048;
const TAIL_BYTES = 16 * 1024 * 1024;
const MAX_ENTRIES_PER_FETCH = 256;
const MAX_BYTES_PER_FETCH = 4 * 1024 * 1024;
/** A page of a snapshot. */
const SNAPSHOT_PAGE_ENTRIES = 4096;
const SNAPSHOT_PAGE_BYTES = 4 * 1024 * 1024;
/** A snapshot copy whose follower stops asking for pages is abandoned after this long. */
const SNAPSHOT_IDLE_MS = 30_000;

/** A follower copying this primary's state: the view it reads and the log index it ends at. */
interface SnapshotCopy {
  id: string;
  follower: string;
  snapshot: Snapshot;
  index: number;
  epochs: ReplicaMeta['epochs'];
  /** The page the follower asks for next: a repeated or skipped request ends the copy. */
  page: number;
  timer: NodeJS.Timeout;
}

interface Parked {
  request: FetchRequest;
  resolve: (reply: FetchReply) => void;
  timer: NodeJS.Timeout;
}

export class PrimaryLog {
  readonly epoch: number;
  private meta: ReplicaMeta;
  private readonly store: ReplicaStore;
  private readonly followers: Followers;
  private readonly opts: PrimaryLogOptions;
  private readonly tail = new Map<number, Uint8Array>();
  private tailBytes = 0;
  private readonly parked = new Map<string, Parked>();
  private readonly commitWaiters: Array<{ index: number; resolve: () => void; reject: (e: Error) => void }> = [];
  private closed: WharfError | undefined;
  private writing: Promise<void> = Promise.resolve();
  /** The last append or apply asked for (see inTurn). */
  private turn: Promise<void> = Promise.resolve();
  /** Waiting for the lease to be held again (see leaseHeld). */
  private readonly leaseWaiters = new Set<(held: boolean) => void>();
  /** Writes under way: a snapshot is taken only when there are none. */
  private pending = 0;
  private readonly copies = new Map<string, SnapshotCopy>();
  private copyIds = 0;
  private trimming = false;
  /** The first entry still stored: writes started before a trim return metadata with an older log start. */
  private logStart: number;
  /** Monotonic time of the first commit in this epoch; serving starts leaseMs after it. */
  private firstCommitAt: number | undefined;
  /** The previous primary said it stopped for good: there is no old lease to wait out. */
  private released = false;
  /** When every earlier lease ended at the latest, as the voters' silences showed (`now`'s clock). */
  private oldLeaseEndsAt: number | undefined;
  readonly epochStart: number;

  constructor(opts: PrimaryLogOptions) {
    this.opts = opts;
    this.store = opts.store;
    this.epoch = opts.epoch;
    this.meta = opts.meta;
    this.epochStart = opts.meta.logEnd;
    this.followers = new Followers({
      self: opts.self,
      voters: opts.voters,
      epoch: opts.epoch,
      epochStart: this.epochStart,
      commit: opts.commit,
      logStart: opts.meta.logStart,
      logEnd: opts.meta.logEnd,
      epochs: opts.meta.epochs,
      leaseMs: opts.leaseMs,
      maxEntries: MAX_ENTRIES_PER_FETCH,
      now: opts.now(),
    });
    this.logStart = opts.meta.logStart;
  }

  get replicaMeta(): ReplicaMeta {
    return this.meta;
  }

  get commit(): number {
    return this.followers.commit;
  }

  get logEnd(): number {
    return this.meta.logEnd;
  }

  setVoters(voters: readonly string[]): void {
    this.followers.setVoters(voters);
    this.afterProgress();
  }

  inSync(lagMs: number): string[] {
    return this.followers.inSync(this.opts.now(), lagMs);
  }

  /** Runs one write; `settled()` waits for it, so a step-down never races a write under way. */
  private track(write: Promise<ReplicaMeta>): Promise<ReplicaMeta> {
    this.pending++;
    this.writing = write.then(
      () => void this.pending--,
      () => void this.pending--,
    );
    return write.then((meta) => (meta.logStart >= this.logStart ? meta : { ...meta, logStart: this.logStart }));
  }

  /** Resolves when no write of this log is under way. */
  settled(): Promise<void> {
    return this.writing;
  }

  /** Appends one entry of this epoch, synced; `extra` ops are written with it (state applied at once). */
  append(ops: readonly WriteOp[], extra: readonly WriteOp[] = [], applyNow = false): Promise<number> {
    return this.inTurn(async () => {
      this.throwIfClosed();
      const bytes = encodeLogEntry({ epoch: this.epoch, ops: ops as WriteOp[] });
      const index = this.meta.logEnd;
      this.meta = await this.track(this.store.append(this.meta, [{ epoch: this.epoch, bytes }], extra, applyNow ? index + 1 : undefined));
      this.throwIfClosed();
      this.remember(index, bytes);
      this.followers.appended(this.meta.logEnd, this.meta.epochs);
      this.afterProgress();
      return index;
    });
  }

  /** Writes the state changes of committed entries up to `applied` (unsynced: the log holds them). */
  applied(ops: readonly WriteOp[], applied: number): Promise<void> {
    return this.inTurn(async () => {
      this.throwIfClosed();
      this.meta = await this.track(this.store.applyOps(this.meta, ops, applied));
      // The tail moves with what is applied; the check is O(1) and writes only every retain/4 entries.
      void this.trim();
    });
  }

  /**
   * Appends and applies run one after another, each from the metadata the one before left: the
   * partition appends its next batch while earlier ones wait for their commit and are applied.
   */
  private inTurn<T>(write: () => Promise<T>): Promise<T> {
    const run = this.turn.then(write);
    this.turn = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /**
   * Resolves true as soon as this primary holds its lease (at once if it does), false after
   * `timeoutMs` or when it stops: a lease that lapsed because the followers' fetches were late
   * comes back with their next fetches. The caller checks `holdsLease()` again right before it
   * answers.
   */
  leaseHeld(timeoutMs: number): Promise<boolean> {
    if (this.holdsLease()) return Promise.resolve(true);
    if (this.closed) return Promise.resolve(false);
    return new Promise((resolve) => {
      const waiter = (held: boolean) => {
        clearTimeout(timer);
        this.leaseWaiters.delete(waiter);
        resolve(held);
      };
      const timer = setTimeout(() => waiter(false), timeoutMs);
      this.leaseWaiters.add(waiter);
    });
  }

  /** Resolves when every append and apply asked for so far has ended. */
  idle(): Promise<void> {
    return this.turn.then(() => this.writing);
  }

  /** Entries appended and not yet applied to the state (sync writes waiting for their commit). */
  get unapplied(): boolean {
    return this.meta.applied < this.meta.logEnd;
  }

  /** Applies every entry of the log to the stored state (a reload after a failed write). */
  async applyAll(): Promise<void> {
    this.throwIfClosed();
    this.meta = await this.track(this.store.apply(this.meta, this.meta.logEnd));
  }

  get quorum(): number {
    return this.followers.quorum;
  }

  /** Resolves once the entry at `index` is committed (a majority persisted it); rejects with timeout after `timeoutMs`. */
  committed(index: number, timeoutMs = Infinity): Promise<void> {
    this.throwIfClosed();
    if (index < this.followers.commit) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = { index, resolve: () => (clearTimeout(timer), resolve()), reject: (e: Error) => (clearTimeout(timer), reject(e)) };
      const timer = Number.isFinite(timeoutMs)
        ? setTimeout(() => {
            const i = this.commitWaiters.indexOf(waiter);
            if (i >= 0) this.commitWaiters.splice(i, 1);
            reject(new WharfError(ErrorCode.Timeout, `no majority persisted entry ${index} within ${timeoutMs} ms: the outcome is unknown`));
          }, timeoutMs)
        : undefined;
      this.commitWaiters.push(waiter);
    });
  }

  /** Whether this primary may acknowledge or deliver now (see Followers on the lease). */
  holdsLease(): boolean {
    if (this.closed) return false;
    const now = this.opts.now();
    if (this.firstCommitAt === undefined || (!this.released && now < Math.min(this.firstCommitAt + this.leaseWait(), this.oldLeaseEndsAt ?? Infinity))) {
      return false;
    }
    return this.followers.holdsLease(now);
  }

  /** A single voter has nobody to wait for. */
  private leaseWait(): number {
    return this.followers.quorum <= 1 ? 0 : this.opts.leaseMs;
  }

  /** Resolves when this primary may start serving: its first entry committed, then the old lease run out. */
  async ready(timeoutMs: number): Promise<void> {
    const start = await this.append([]);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new WharfError(ErrorCode.Unavailable, `no majority persisted the first entry of epoch ${this.epoch} in ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      await Promise.race([this.committed(start), timeout]);
    } finally {
      clearTimeout(timer);
    }
    const wait = (this.firstCommitAt ?? this.opts.now()) + this.leaseWait() - this.opts.now();
    if (wait > 0) await this.outwait(wait);
    this.throwIfClosed();
  }

  /** Whether this primary started serving without waiting out the old lease. */
  get leaseReleased(): boolean {
    return this.released;
  }

  /** Whether it started serving before its full wait because the voters' silences showed the old lease over. */
  get leaseEnded(): boolean {
    return !this.released && this.oldLeaseEndsAt !== undefined && this.firstCommitAt !== undefined && this.oldLeaseEndsAt < this.firstCommitAt + this.leaseWait();
  }

  /**
   * Waits `ms` for the old lease to run out, or less if the previous primary releases it or the
   * voters' silences show it ended earlier.
   */
  private async outwait(ms: number): Promise<void> {
    const timers = new Set<NodeJS.Timeout>();
    const sleep = (t: number) => new Promise<void>((resolve) => timers.add(setTimeout(resolve, Math.max(0, t))));
    const slept = sleep(ms);
    let waiting = true;
    /**
     * Asks every RELEASE_RETRY_MS while the wait lasts, until an answer is `useful`. What follows an
     * answer checks `waiting` again: only one heard while still waiting counts, and a timer set
     * after the wait would outlive it.
     */
    const poll = async <T>(ask: () => Promise<T>, useful: (answer: T) => boolean): Promise<T | undefined> => {
      while (waiting && this.closed === undefined) {
        const answer = await ask();
        if (useful(answer)) return answer;
        if (waiting) await sleep(RELEASE_RETRY_MS);
      }
      return undefined;
    };
    const askRelease = this.opts.askRelease;
    const released =
      askRelease === undefined
        ? slept
        : poll(() => askRelease().catch(() => false), (yes) => yes).then((yes) => {
            if (yes !== true || !waiting) return slept;
            this.released = true;
            return undefined;
          });
    const askEnd = this.opts.oldLeaseEnd;
    const ended =
      askEnd === undefined
        ? slept
        : poll(() => askEnd().catch(() => undefined), (end) => end !== undefined).then((end) => {
            if (end === undefined || !waiting) return slept;
            this.oldLeaseEndsAt = end;
            return sleep(end - this.opts.now());
          });
    try {
      await Promise.race([slept, released, ended]);
    } finally {
      waiting = false;
      for (const timer of timers) clearTimeout(timer);
    }
  }

  handleFetch(request: FetchRequest): Promise<FetchReply> {
    if (this.closed) return Promise.resolve({ kind: 'fenced', epoch: this.epoch });
    const answer = this.followers.onFetch(request, this.opts.now());
    this.afterProgress();
    switch (answer.kind) {
      case 'superseded':
        this.opts.onSuperseded(answer.epoch);
        return Promise.resolve({ kind: 'fenced', epoch: answer.epoch });
      case 'fenced':
        return Promise.resolve({ kind: 'fenced', epoch: answer.epoch });
      case 'truncate':
        return Promise.resolve({ kind: 'truncate', epoch: this.epoch, to: answer.to });
      case 'snapshot':
        return Promise.resolve({ kind: 'snapshot', epoch: this.epoch });
      case 'entries':
        return this.entries(answer.from, answer.to);
      case 'wait':
        return new Promise((resolve) => {
          const previous = this.parked.get(request.follower);
          if (previous) this.answerParked(previous);
          const timer = setTimeout(() => {
            const p = this.parked.get(request.follower);
            if (p && p.request === request) this.answerParked(p);
          }, this.opts.maxWaitMs);
          this.parked.set(request.follower, { request, resolve, timer });
        });
      default:
        return answer satisfies never;
    }
  }

  private async entries(from: number, to: number): Promise<FetchReply> {
    const entries: Uint8Array[] = [];
    let bytes = 0;
    let i = from;
    // From memory while the entries are there, from disk otherwise.
    while (i < to) {
      const hit = this.tail.get(i);
      if (hit === undefined) break;
      entries.push(hit);
      bytes += hit.byteLength;
      i++;
      if (bytes >= MAX_BYTES_PER_FETCH) break;
    }
    if (entries.length === 0 && i < to) {
      for (const e of await this.store.read(from, to)) {
        entries.push(e);
        bytes += e.byteLength;
        if (bytes >= MAX_BYTES_PER_FETCH) break;
      }
    }
    return { kind: 'entries', epoch: this.epoch, from, entries, commit: this.followers.commit, token: this.opts.now() };
  }

  /**
   * One page of a snapshot of this primary's state. Page 0 opens a copy at the current applied
   * index (once no write is under way, so the views of every key range see one instant); later
   * pages continue it. The log is kept from the copy's index on until the copy ends, so the
   * follower can fetch from there.
   */
  async snapshotPage(request: SnapshotRequest): Promise<SnapshotOutput> {
    if (this.closed || request.epoch !== this.epoch) return { kind: 'fenced', epoch: this.epoch };
    let copy = this.copies.get(request.follower);
    if (request.page === 0) {
      if (copy) await this.endCopy(copy);
      copy = await this.openCopy(request.follower);
    } else if (copy === undefined || copy.id !== request.copy || copy.page !== request.page) {
      if (copy) await this.endCopy(copy);
      return { kind: 'fenced', epoch: this.epoch };
    }
    const rows = await copy.snapshot.next(SNAPSHOT_PAGE_ENTRIES, SNAPSHOT_PAGE_BYTES);
    copy.page++;
    copy.timer.refresh();
    const done = rows.length === 0;
    if (done) await this.endCopy(copy);
    return { kind: 'page', epoch: this.epoch, copy: copy.id, index: copy.index, epochs: copy.epochs, rows, done };
  }

  private async openCopy(follower: string): Promise<SnapshotCopy> {
    // In a turn of its own, between two writes (appends and applies wait their turn, so a busy
    // partition cannot starve the copy); nothing runs between the check and opening the views.
    const snapshot = await this.inTurn(async () => {
      while (this.pending > 0) await this.writing;
      this.throwIfClosed();
      return this.store.openSnapshot();
    });
    const id = `${this.epoch}.${++this.copyIds}`;
    const timer = setTimeout(() => {
      const copy = this.copies.get(follower);
      if (copy?.id === id) void this.endCopy(copy);
    }, SNAPSHOT_IDLE_MS);
    timer.unref();
    try {
      const meta = await snapshot.meta();
      const copy: SnapshotCopy = { id, follower, snapshot, index: meta.applied, epochs: meta.epochs, page: 0, timer };
      this.copies.set(follower, copy);
      return copy;
    } catch (err) {
      clearTimeout(timer);
      await snapshot.close();
      throw err;
    }
  }

  private async endCopy(copy: SnapshotCopy): Promise<void> {
    clearTimeout(copy.timer);
    if (this.copies.get(copy.follower) === copy) this.copies.delete(copy.follower);
    await copy.snapshot.close();
    // The copy held the tail back; without it the log may be trimmed further.
    void this.trim();
  }

  /**
   * Deletes the log tail older than `retain` entries below what is applied and committed, but
   * never entries a follower copying a snapshot will fetch next. Followers further behind than
   * that copy a snapshot too.
   */
  private async trim(): Promise<void> {
    if (this.closed || this.trimming) return;
    let below = Math.min(this.meta.applied, this.followers.commit);
    for (const copy of this.copies.values()) below = Math.min(below, copy.index + this.store.retain);
    const from = this.logStart;
    const to = trimTo(from, below, this.store.retain);
    if (to === undefined) return;
    this.trimming = true;
    try {
      // Fetches answered from now on see the entries gone; reads already under way check for gaps.
      this.followers.trimmed(to);
      await this.store.deleteLog(from, to);
      this.logStart = to;
      this.meta = { ...this.meta, logStart: to };
    } catch {
      // The entries stay; the next round tries again.
    } finally {
      this.trimming = false;
    }
  }

  private answerParked(p: Parked): void {
    clearTimeout(p.timer);
    if (this.parked.get(p.request.follower) === p) this.parked.delete(p.request.follower);
    if (this.closed) {
      p.resolve({ kind: 'fenced', epoch: this.epoch });
      return;
    }
    const to = Math.min(this.meta.logEnd, p.request.from + MAX_ENTRIES_PER_FETCH);
    void this.entries(p.request.from, to).then(p.resolve, () => p.resolve({ kind: 'fenced', epoch: this.epoch }));
  }

  /** New entries or a new commit index: wake parked fetches, resolve commit waiters. */
  private afterProgress(): void {
    void this.trim();
    for (const p of [...this.parked.values()]) {
      if (p.request.from < this.meta.logEnd) this.answerParked(p);
    }
    const commit = this.followers.commit;
    if (commit > this.epochStart && this.firstCommitAt === undefined) this.firstCommitAt = this.opts.now();
    for (let i = this.commitWaiters.length - 1; i >= 0; i--) {
      const w = this.commitWaiters[i] as (typeof this.commitWaiters)[number];
      if (w.index < commit) {
        this.commitWaiters.splice(i, 1);
        w.resolve();
      }
    }
    if (this.leaseWaiters.size > 0 && this.holdsLease()) for (const w of [...this.leaseWaiters]) w(true);
  }

  private remember(index: number, bytes: Uint8Array): void {
    // A single copy has nobody to serve entries to (a replica added later reads them from disk).
    if (this.followers.quorum <= 1) return;
    this.tail.set(index, bytes);
    this.tailBytes += bytes.byteLength;
    while (this.tail.size > TAIL_ENTRIES || (this.tailBytes > TAIL_BYTES && this.tail.size > 1)) {
      const oldest = this.tail.keys().next().value as number;
      this.tailBytes -= (this.tail.get(oldest) as Uint8Array).byteLength;
      this.tail.delete(oldest);
    }
  }

  private throwIfClosed(): void {
    if (this.closed) throw this.closed;
  }

  /** Stops: commit waiters learn their outcome is unknown, parked fetches are told this epoch ended. */
  close(reason: string): void {
    if (this.closed) return;
    this.closed = new WharfError(ErrorCode.Timeout, `the partition's primary stepped down (${reason}): the outcome is unknown`);
    for (const copy of [...this.copies.values()]) void this.endCopy(copy);
    for (const w of this.commitWaiters.splice(0)) w.reject(this.closed);
    for (const w of [...this.leaseWaiters]) w(false);
    for (const p of [...this.parked.values()]) this.answerParked(p);
  }
}
