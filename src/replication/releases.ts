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
 */
/** This node's open primary logs by partition (replica-effects.ts PrimaryLogs): only their epochs matter here. */
type OpenLogs = ReadonlyMap<string, { readonly epoch: number }>;

interface Seen {
  incarnation: number;
  /** The epoch this node last served the partition in (its lease wait completed). */
  served: number;
  /** The highest epoch this node's replica persisted. */
  stored: number;
}

export class Releases {
  private readonly byKey = new Map<string, Seen>();
  private readonly primaries: OpenLogs;
  /** Partitions whose successor was told the lease is released, and who waits to hear of it. */
  private readonly told = new Set<string>();
  private readonly listeners = new Set<() => void>();

  constructor(primaries: OpenLogs) {
    this.primaries = primaries;
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
    const fresh: Seen = { incarnation, served: 0, stored: 0 };
    this.byKey.set(key, fresh);
    return fresh;
  }
}
