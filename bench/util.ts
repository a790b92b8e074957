/**
 * Small helpers shared by the benchmark: bounded waits, a window of outstanding operations,
 * payloads carrying a send timestamp, and the cleanup registry that stops child processes on
 * success, failure, SIGINT and SIGTERM alike.
 */
import type { ChildProcess } from 'node:child_process';
import { open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

export const MESSAGE_BYTES = 1024;

/** Milliseconds on one clock shared by producer and consumer (they run in this process). */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** A 1 KiB body whose first 8 bytes carry the send time (float64 ms), for latency runs. */
export function timestampedBody(): Uint8Array {
  const body = new Uint8Array(MESSAGE_BYTES);
  new DataView(body.buffer).setFloat64(0, nowMs());
  return body;
}

/** The send time written by `timestampedBody`, or undefined when the body is too short. */
export function sentAt(body: Uint8Array): number | undefined {
  if (body.byteLength < 8) return undefined;
  return new DataView(body.buffer, body.byteOffset, body.byteLength).getFloat64(0);
}

/** One shared 1 KiB body of random-looking bytes for throughput runs (both sides copy it). */
export function fixedBody(): Uint8Array {
  const body = new Uint8Array(MESSAGE_BYTES);
  for (let i = 0; i < body.length; i++) body[i] = (i * 131 + 7) & 0xff;
  return body;
}

/** Marks `promise` as handled (its rejection is still seen by whoever awaits it later). */
export function observed<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => undefined);
  return promise;
}

export class TimeoutError extends Error {}

/** Rejects with a clear message when `promise` has not settled within `ms`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string | (() => string)): Promise<T> {
  const controller = new AbortController();
  const timer = delay(ms, undefined, { signal: controller.signal }).then(
    () => {
      const label = typeof what === 'string' ? what : what();
      throw new TimeoutError(`${label} did not finish within ${(ms / 1000).toFixed(1)} s`);
    },
    () => undefined as never,
  );
  try {
    return await Promise.race([promise, timer]);
  } finally {
    controller.abort();
  }
}

/** Polls `probe` until it returns a value other than undefined, at most `timeoutMs`. */
export async function pollUntil<T>(
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  what: string,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) {
      const why = last instanceof Error ? `: last error: ${last.message}` : '';
      throw new TimeoutError(`${what} not reached within ${(timeoutMs / 1000).toFixed(1)} s${why}`);
    }
    await delay(intervalMs);
  }
}

/**
 * At most `size` operations outstanding. `acquire()` waits for room; the first failure is kept and
 * rethrown by the next `acquire()` or by `drain()`, so a broken run stops early and loudly.
 */
export class Window {
  private outstanding = 0;
  private waiters: Array<() => void> = [];
  private failure: unknown;
  private readonly size: number;

  constructor(size: number) {
    this.size = size;
  }

  async acquire(): Promise<void> {
    while (this.outstanding >= this.size) {
      if (this.failure !== undefined) throw this.failure;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    if (this.failure !== undefined) throw this.failure;
    this.outstanding++;
  }

  /** Tracks one operation started after `acquire()`. */
  track(operation: Promise<unknown>): void {
    operation.then(
      () => this.release(),
      (err: unknown) => {
        this.failure ??= err;
        this.release();
      },
    );
  }

  /** Waits until nothing is outstanding, bounded. */
  async drain(timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.outstanding > 0) {
      if (Date.now() >= deadline) throw new TimeoutError(`${what}: ${this.outstanding} operations still outstanding after ${timeoutMs} ms`);
      await Promise.race([new Promise<void>((resolve) => this.waiters.push(resolve)), delay(100)]);
    }
    if (this.failure !== undefined) throw this.failure;
  }

  private release(): void {
    this.outstanding--;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}

// ---- cleanup -------------------------------------------------------------------------------------

type Cleanup = () => Promise<void> | void;
const cleanups: Array<{ name: string; run: Cleanup }> = [];
const children = new Set<ChildProcess>();
let cleaning: Promise<void> | undefined;

/** Registers a step to run at the end, newest first. */
export function onCleanup(name: string, run: Cleanup): void {
  cleanups.push({ name, run });
}

/** A child process that must not outlive this one: SIGKILLed on exit if still running. */
export function trackChild(child: ChildProcess): void {
  children.add(child);
  child.once('exit', () => children.delete(child));
}

export function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the child has exited. */
export async function terminate(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (!isRunning(child)) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const graceful = await Promise.race([exited.then(() => true), delay(graceMs, false)]);
  if (!graceful && isRunning(child)) {
    child.kill('SIGKILL');
    await Promise.race([exited, delay(5_000)]);
  }
}

/** Runs every cleanup step once (errors are reported, not thrown). */
export function runCleanups(): Promise<void> {
  cleaning ??= (async () => {
    for (const step of cleanups.splice(0).reverse()) {
      try {
        await withTimeout(Promise.resolve(step.run()), 30_000, `cleanup "${step.name}"`);
      } catch (err) {
        process.stderr.write(`bench: cleanup "${step.name}" failed: ${err instanceof Error ? err.message : String(err)}\n`);
      }
    }
  })();
  return cleaning;
}

/** Cleans up on SIGINT/SIGTERM (exit code 130/143) and kills leftover children on any exit. */
/**
 * Runs a benchmark script's `main` to its end: a failure is printed and sets exit code 1, the
 * cleanups (child processes, temp dirs) run either way, and the process exits (open handles of
 * clients must not keep it alive).
 */
export async function runBench(main: () => Promise<void>): Promise<never> {
  try {
    await main();
  } catch (err) {
    process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  } finally {
    await runCleanups();
  }
  return process.exit(process.exitCode ?? 0);
}

export function installSignalHandlers(): void {
  const onSignal = (signal: NodeJS.Signals, code: number) => {
    process.stderr.write(`\nbench: ${signal}: stopping child processes...\n`);
    void runCleanups().finally(() => process.exit(code));
  };
  process.once('SIGINT', () => onSignal('SIGINT', 130));
  process.once('SIGTERM', () => onSignal('SIGTERM', 143));
  process.on('exit', () => {
    for (const child of children) if (isRunning(child)) child.kill('SIGKILL');
  });
}

// ---- CPU accounting ------------------------------------------------------------------------------

const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ: 100 on every Linux architecture Node runs on

/** CPU time (user + system) a process has used, ms; undefined when it is gone or not on Linux. */
export async function processCpuMs(pid: number): Promise<number | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start with the state, field 3.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
    return ((utime + stime) * 1000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/** CPU used during a phase, in cores (CPU ms / wall ms), per process; `bench` is this process. */
export type CpuUse = Record<string, number>;

/** CPU time used during a phase, ms per process (`bench` is this process), and the phase's wall time. */
export interface CpuTime {
  wallMs: number;
  ms: Record<string, number>;
}

/** Starts measuring the CPU time of this process and of `pids`; the returned function ends it. */
export async function cpuTimeMeter(pids: Record<string, number>): Promise<() => Promise<CpuTime>> {
  const t0 = performance.now();
  const self0 = process.cpuUsage();
  const before = new Map<string, number>();
  for (const [name, pid] of Object.entries(pids)) {
    const ms = await processCpuMs(pid);
    if (ms !== undefined) before.set(name, ms);
  }
  return async () => {
    const wallMs = performance.now() - t0;
    const self = process.cpuUsage(self0);
    const ms: Record<string, number> = { bench: (self.user + self.system) / 1000 };
    for (const [name, pid] of Object.entries(pids)) {
      const start = before.get(name);
      const end = await processCpuMs(pid);
      if (start !== undefined && end !== undefined) ms[name] = end - start;
    }
    return { wallMs, ms };
  };
}

/** The cores a phase used, per process. */
export function coresOf(time: CpuTime): CpuUse {
  return Object.fromEntries(Object.entries(time.ms).map(([name, ms]) => [name, round2(ms / time.wallMs)]));
}

/** Starts measuring the CPU of this process and of `pids`; the returned function ends it. */
export async function cpuMeter(pids: Record<string, number>): Promise<() => Promise<CpuUse>> {
  const stop = await cpuTimeMeter(pids);
  return async () => coresOf(await stop());
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}

/**
 * Latency of a 4 KiB write + fdatasync in `dir`, the cost every synced write pays at least once:
 * context for Wharf's figures, which fsync before acknowledging. At most `count` syncs or 5 s.
 */
export async function measureFsync(dir: string, count = 200): Promise<{ count: number; p50: number; p99: number }> {
  const file = join(dir, 'fsync-probe');
  const handle = await open(file, 'w');
  const samples: number[] = [];
  const block = new Uint8Array(4096);
  const deadline = performance.now() + 5_000;
  try {
    while (samples.length < count && performance.now() < deadline) {
      const t0 = performance.now();
      await handle.write(block);
      await handle.datasync();
      samples.push(performance.now() - t0);
    }
  } finally {
    await handle.close();
    await rm(file, { force: true });
  }
  samples.sort((a, b) => a - b);
  const at = (p: number) => Math.round((samples[Math.min(samples.length - 1, Math.ceil((p / 100) * samples.length) - 1)] ?? NaN) * 100) / 100;
  return { count: samples.length, p50: at(50), p99: at(99) };
}

/** An integer setting from the environment (`_` allowed as a digit separator), `fallback` when unset. */
export function intFromEnv(name: string, fallback: number, min = 1): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw.replace(/_/g, ''));
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer >= ${min}, got ${JSON.stringify(raw)}`);
  return n;
}
