/**
 * Polls until a condition holds, the way nats.js tests use `check`: the only way tests wait for
 * something asynchronous that has no promise of its own. Every wait is bounded by `timeoutMs`.
 */
import { setTimeout as delay } from 'node:timers/promises';

export interface EventuallyOptions {
  /** Give up after this long, ms. @default 10000 */
  timeoutMs?: number;
  /** Pause between attempts, ms. @default 20 */
  intervalMs?: number;
  /** What was awaited, for the timeout error. */
  message?: string;
}

/** Thrown by {@link eventually} when the condition did not hold in time. */
export class EventuallyTimeoutError extends Error {
  override name = 'EventuallyTimeoutError';
}

type Settled<T> = { kind: 'value'; value: T } | { kind: 'error'; error: unknown } | { kind: 'timeout' };

/**
 * Calls `fn` until it returns something other than `undefined` or `false` and returns that value.
 * A throw counts as "not yet" and is reported in the timeout error if it was the last outcome.
 * An attempt that never settles is cut off at the deadline.
 */
export async function eventually<T>(
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  options: EventuallyOptions = {},
): Promise<T> {
  const { timeoutMs = 10_000, intervalMs = 20, message = 'condition' } = options;
  const started = Date.now();
  const deadline = started + timeoutMs;
  let attempts = 0;
  let lastError: unknown;
  let lastValue: unknown;

  while (attempts === 0 || Date.now() < deadline) {
    attempts += 1;
    const outcome = await attempt(fn, Math.max(deadline - Date.now(), 0));
    if (outcome.kind === 'value') {
      if (outcome.value !== undefined && outcome.value !== false) return outcome.value;
      lastValue = outcome.value;
      lastError = undefined;
    } else if (outcome.kind === 'error') {
      lastError = outcome.error;
    } else {
      break;
    }
    const remaining = deadline - Date.now();
    if (remaining <= 0) break;
    await delay(Math.min(intervalMs, remaining));
  }

  const elapsed = Date.now() - started;
  const last =
    lastError === undefined
      ? `last result: ${String(lastValue)}`
      : `last error: ${lastError instanceof Error ? lastError.message : String(lastError)}`;
  throw new EventuallyTimeoutError(
    `eventually: timed out after ${timeoutMs} ms waiting for ${message} (${attempts} attempts in ${elapsed} ms, ${last})`,
    lastError === undefined ? undefined : { cause: lastError },
  );
}

async function attempt<T>(fn: () => Promise<T> | T, budgetMs: number): Promise<Settled<T>> {
  const controller = new AbortController();
  const timeout = delay(budgetMs, undefined, { signal: controller.signal }).then(
    (): Settled<T> => ({ kind: 'timeout' }),
    (): Settled<T> => ({ kind: 'timeout' }),
  );
  const run = (async (): Promise<Settled<T>> => {
    try {
      return { kind: 'value', value: await fn() };
    } catch (error) {
      return { kind: 'error', error };
    }
  })();
  try {
    return await Promise.race([run, timeout]);
  } finally {
    controller.abort();
  }
}
