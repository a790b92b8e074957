/**
 * A message move task (a redrive) as pure decisions: how many messages it may move now under its
 * rate, whether a node may take it over, and where each message goes. Time comes in as arguments.
 */

/** A one-second window of moves: the rate is a count per window, not a measured speed. */
export interface RateWindow {
  start: number;
  moved: number;
}

export const RATE_WINDOW_MS = 1000;

/**
 * How many messages a task limited to `rate` per second may move now (at most `batch`), and when to
 * ask again if none: within one window it never allows more than `rate` in all.
 */
export function allowance(rate: number | undefined, window: RateWindow, now: number, batch: number): { allowed: number; window: RateWindow; waitMs: number } {
  if (rate === undefined) return { allowed: batch, window, waitMs: 0 };
  const current = now - window.start >= RATE_WINDOW_MS || now < window.start ? { start: now, moved: 0 } : window;
  const allowed = Math.max(0, Math.min(batch, rate - current.moved));
  return { allowed, window: current, waitMs: allowed > 0 ? 0 : current.start + RATE_WINDOW_MS - now };
}

/** The window after `n` messages were moved in it. */
export function moved(window: RateWindow, n: number): RateWindow {
  return { start: window.start, moved: window.moved + n };
}

export type MoveTaskStatus = 'running' | 'cancelling' | 'cancelled' | 'completed' | 'failed';

/** Whether a task still needs a runner. */
export const isActive = (status: MoveTaskStatus) => status === 'running' || status === 'cancelling';

/**
 * Whether `self` (process `boot`) may take over an active task: nobody owns it, its owner's process
 * is gone (the owner's node runs another boot now, e.g. it restarted), or its record has not changed
 * for `staleMs` by the observer's clock (the owner renews it more often than that).
 */
export function mayTakeOver(
  task: { owner?: string; ownerBoot?: string },
  self: { node: string; boot: string },
  ownerBootNow: string | undefined,
  unchangedForMs: number,
  staleMs: number,
): boolean {
  if (task.owner === undefined) return true;
  if (task.owner === self.node) return task.ownerBoot !== self.boot;
  if (ownerBootNow !== undefined && ownerBootNow !== task.ownerBoot) return true;
  return unchangedForMs >= staleMs;
}

/** The deduplication id a redriven message is stored with in its destination: the same for every try. */
export function redriveDedupId(messageId: string, deadLetteredAt: number): string {
  // ':' is outside the characters of a client's deduplicationId: no send can name this id.
  return `rd:${messageId}:${deadLetteredAt.toString(36)}`;
}
