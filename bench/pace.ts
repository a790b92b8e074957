/**
 * Pacing for the latency runs: a producer that sends at a fixed rate by elapsed time (each timer
 * tick sends the messages due by now, so timer jitter does not lower the rate), a warm-up whose
 * messages are not measured, and the bound every throughput phase gets.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { nowMs } from './util.ts';

export interface LatencyOptions {
  /** Messages per second. */
  rate: number;
  /** Measured seconds (after the warm-up). */
  seconds: number;
  /** Seconds sent before measuring starts. */
  warmupSeconds: number;
}

/**
 * Calls `sendOne` `rate` times a second for warm-up + measured seconds. `onMeasureStart(t)` is
 * called with the time (nowMs) from which sends count.
 */
export async function pacedRun(
  options: LatencyOptions,
  onMeasureStart: (t: number) => void,
  sendOne: () => void,
): Promise<{ sent: number; elapsedMs: number }> {
  const start = performance.now();
  const warmupMs = options.warmupSeconds * 1000;
  const totalMs = warmupMs + options.seconds * 1000;
  let sent = 0;
  let measuring = false;
  for (;;) {
    const elapsed = performance.now() - start;
    if (!measuring && elapsed >= warmupMs) {
      measuring = true;
      onMeasureStart(nowMs());
    }
    const due = Math.floor((Math.min(elapsed, totalMs) * options.rate) / 1000);
    while (sent < due) {
      sendOne();
      sent++;
    }
    if (elapsed >= totalMs) return { sent, elapsedMs: elapsed };
    await delay(1);
  }
}

/** Bound of a throughput phase over `n` messages: a minute plus 2 ms a message (500 msgs/s). */
export function phaseTimeoutMs(n: number): number {
  return 60_000 + 2 * n;
}
