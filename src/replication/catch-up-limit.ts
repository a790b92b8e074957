/**
 * The bandwidth a node spends on replicas that catch up — learners fetching the log, replicas
 * copying a snapshot — shared by all of its replicas: a token bucket of `bytesPerSecond` with one
 * second of burst. Moves of replicas (a node joining, a drain, rebalancing) then take a bounded
 * share of the disk and network, and client traffic keeps the rest. In-sync followers are never
 * held back: their fetches are what commits writes.
 */
import { setTimeout as delay } from 'node:timers/promises';

export class CatchUpLimit {
  private tokens: number;
  private last: number;
  private readonly bytesPerSecond: number;
  private readonly now: () => number;

  /** `bytesPerSecond` 0: no limit. `now`: monotonic ms. */
  constructor(bytesPerSecond: number, now: () => number) {
    this.bytesPerSecond = bytesPerSecond;
    this.now = now;
    this.tokens = bytesPerSecond;
    this.last = now();
  }

  /**
   * Accounts for `bytes` just copied, and resolves once the bucket has covered them: every caller
   * waits for its own debt, so concurrent copies together stay within the rate.
   */
  async take(bytes: number, signal?: AbortSignal): Promise<void> {
    if (this.bytesPerSecond <= 0) return;
    const now = this.now();
    this.tokens = Math.min(this.bytesPerSecond, this.tokens + ((now - this.last) * this.bytesPerSecond) / 1000);
    this.last = now;
    this.tokens -= bytes;
    if (this.tokens >= 0) return;
    await delay((-this.tokens * 1000) / this.bytesPerSecond, undefined, signal === undefined ? {} : { signal }).catch(() => undefined);
  }
}
