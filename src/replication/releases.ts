/**
 * Lease release: how a planned change of primary skips the wait for the old lease.
 *
 * A new primary of epoch F serves only once no primary of an earlier epoch can still acknowledge or
 * deliver. By default it waits a lease after its first commit (primary-log.ts). That wait is not
 * needed when the primary of the epoch before, E (the assignment's `previous`), says two things:
 *
 *   - it served E: its own first commit and lease wait (or release) at E completed, so every epoch
 *     before E had stopped by then and cannot come back (a majority persisted E and refuses them);
 *   - it has stopped serving E for good: its primary log of E is closed and settled, and it has
 *     persisted an epoch above E, so neither it nor a restart of it serves E again.
 *
 * Epochs between E and F never had a primary (the fence that opened F followed E's assignment, or a
 * fence of a fence). So with that answer nothing older than F can serve, and F may start at once.
 *
 * A node answers from what this process saw: after a restart it knows of no served epoch and never
 * releases, and the new primary waits the lease out as before. So do crashed or paused primaries.
 *
 * Silence: how an unplanned change of primary skips the rest of that wait.
 *
 * A crashed, paused or cut-off predecessor cannot answer, but its followers can bound its lease. The
 * lease rests on tokens its followers echo (actors/replica/followers.ts), each the primary's clock
 * when it sent an answer: so what a follower gave ends a lease after the last answer it received
 * from that primary. A follower that persisted epoch F gives nothing more to a primary of an earlier
 * epoch (its fetches then carry F and are refused before their token counts). So once every voter
 * but the old primary persisted F and said when it last heard from an epoch below F, no primary
 * before F holds a lease past the latest of those times plus a lease, whatever became of it. The
 * bound assumes what the lease itself does: clocks that run at the same rate. A node that restarted
 * counts from its start, the last moment anything of it before could have heard.
 */
/** This node's open primary logs by partition (replica-effects.ts PrimaryLogs): only their epochs matter here. */
type OpenLogs = ReadonlyMap<string, { readonly epoch: number }>;

interface Seen {
  incarnation: number;
  /** The epoch this node last served the partition in (its lease wait completed). */
  served: number;
  /** The highest epoch this node's replica persisted. */
  stored: number;
  /** When its follower last received an answer from a primary, by the primary's epoch (the latest few). */
  heard: Map<number, number>;
  /** No later than the answers of the epochs dropped from `heard`, or than this process's start. */
  heardBefore: number;
}

/** A follower's silence towards earlier epochs: how long since it last heard from one, and which. */
export interface Silence {
  silentMs: number;
  epoch: number;
}

/** Epochs whose last answer `heard` keeps per replica; older ones fold into `heardBefore`. */
const HEARD_EPOCHS = 8;

export class Releases {
  private readonly byKey = new Map<string, Seen>();
  private readonly primaries: OpenLogs;
  /** Partitions whose successor was told the lease is released, and who waits to hear of it. */
  private readonly told = new Set<string>();
  private readonly listeners = new Set<() => void>();

  private readonly now: () => number;
  private readonly startedAt: number;

  /** `now`: the monotonic clock of the replication (ms). */
  constructor(primaries: OpenLogs, now: () => number) {
    this.primaries = primaries;
    this.now = now;
    this.startedAt = now();
  }

  /** The follower here received an answer (a token) from the primary of `epoch`. */
  heard(key: string, incarnation: number, epoch: number): void {
    const seen = this.current(key, incarnation);
    seen.heard.set(epoch, this.now());
    if (seen.heard.size > HEARD_EPOCHS) {
      const oldest = Math.min(...seen.heard.keys());
      seen.heardBefore = Math.max(seen.heardBefore, seen.heard.get(oldest) as number);
      seen.heard.delete(oldest);
    }
  }

  /**
   * How long ago (ms) the follower here last heard from a primary of an epoch below `epoch`, and that
   * primary's epoch (0 when it heard none in this process or no longer knows which), once it has persisted `epoch`; undefined
   * before that, or for another incarnation of the queue.
   */
  silentBelow(key: string, incarnation: number, epoch: number): Silence | undefined {
    const seen = this.byKey.get(key);
    if (seen === undefined || seen.incarnation !== incarnation || seen.stored < epoch) return undefined;
    let last = seen.heardBefore;
    let from = 0;
    for (const [e, at] of seen.heard) {
      if (e < epoch && at >= last) {
        last = at;
        from = e;
      }
    }
    return { silentMs: Math.max(0, this.now() - last), epoch: from };
  }

  /** The primary of `epoch` here passed its lease wait: it may serve. */
  served(key: string, incarnation: number, epoch: number): void {
    const seen = this.current(key, incarnation);
    seen.served = epoch;
    seen.stored = Math.max(seen.stored, epoch);
    // Serving again: the next successor has yet to ask.
    this.told.delete(key);
  }

  /** The replica here persisted `epoch` as the highest it has seen. */
  stored(key: string, incarnation: number, epoch: number): void {
    const seen = this.current(key, incarnation);
    seen.stored = Math.max(seen.stored, epoch);
  }

  /** The replica is gone from this node (dropped, or its queue deleted). */
  forget(key: string): void {
    this.byKey.delete(key);
    this.told.delete(key);
  }

  /** Whether this node served `epoch` of the partition and can never serve it again. */
  released(key: string, incarnation: number, epoch: number): boolean {
    const seen = this.byKey.get(key);
    if (seen === undefined || seen.incarnation !== incarnation || seen.served !== epoch || seen.stored <= epoch) return false;
    // A primary log of this epoch or an older one still open here could acknowledge something.
    const log = this.primaries.get(key);
    if (log !== undefined && log.epoch <= epoch) return false;
    this.told.add(key);
    for (const listener of this.listeners) listener();
    return true;
  }

  /**
   * Resolves once the successor of each of `keys` was told its lease is released, or after
   * `timeoutMs` (a stopping node lingers this long so that its successors can ask). Returns the keys
   * nobody asked about in time.
   */
  async whenTold(keys: readonly string[], timeoutMs: number): Promise<string[]> {
    const left = () => keys.filter((k) => !this.told.has(k));
    if (left().length === 0 || timeoutMs <= 0) return left();
    let listener = () => {};
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      listener = () => {
        if (left().length === 0) resolve();
      };
      timer = setTimeout(resolve, timeoutMs);
      this.listeners.add(listener);
    });
    clearTimeout(timer);
    this.listeners.delete(listener);
    return left();
  }

  private current(key: string, incarnation: number): Seen {
    const seen = this.byKey.get(key);
    if (seen !== undefined && seen.incarnation === incarnation) return seen;
    const fresh: Seen = { incarnation, served: 0, stored: 0, heard: new Map(), heardBefore: this.startedAt };
    this.byKey.set(key, fresh);
    return fresh;
  }
}

/**
 * Until when (the asker's monotonic clock) a primary of an epoch below the asker's may still hold a
 * lease, from the silences of the voters asked (the asker's own included), each taken when its
 * answer arrived; undefined while one of them cannot say. The primary of `previousEpoch` is not
 * asked (it may be gone). As a follower it gave tokens to earlier primaries only before it persisted
 * its own epoch, and anything heard from that epoch was sent after that: so one voter that last
 * heard from that epoch (or a later one) bounds those tokens too. Without a predecessor every voter
 * but the asker is asked.
 */
export function oldLeaseEnd(
  answers: ReadonlyArray<{ arrivedAt: number; silence: Silence | undefined }>,
  leaseMs: number,
  previousEpoch: number | undefined,
): number | undefined {
  let heardLast = -Infinity;
  let heardPrevious = previousEpoch === undefined;
  for (const { arrivedAt, silence } of answers) {
    if (silence === undefined) return undefined;
    heardLast = Math.max(heardLast, arrivedAt - silence.silentMs);
    if (previousEpoch !== undefined && silence.epoch >= previousEpoch) heardPrevious = true;
  }
  return heardPrevious && answers.length > 0 ? heardLast + leaseMs : undefined;
}
