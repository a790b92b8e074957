/**
 * A Wharf node as a child process (`node --import tsx src/node/main.ts`), configured through WHARF_*
 * environment variables, for tests that must kill a node the hard way (SIGKILL) or keep a node's
 * crash from taking the test process with it.
 *
 * `startNodeProcess(t, options)` waits (bounded) until the node logs `node ready` on stdout, or fails
 * with its stderr if it exits first. The handle's `restart()` starts a new process on the same data
 * dir. Teardown always kills the process; its stdout and stderr are appended to `node-<id>.log` in a
 * temp dir that is kept when the test fails.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import type { ExecutionContext } from 'ava';
import { tempDir } from './temp-dir.ts';

export interface NodeProcessOptions {
  /** WHARF_NODE_ID. @default 'n1' */
  nodeId?: string;
  /** WHARF_CLUSTER. */
  cluster: string;
  /** WHARF_NATS_URL. */
  natsUrl: string;
  /** WHARF_DATA_DIR: the node's RocksDB store, kept across restarts. */
  dataDir: string;
  /** WHARF_LOG_LEVEL. Must log `node ready` (info or lower). @default 'info' */
  logLevel?: string;
  /** WHARF_TICK_MS. @default 20 */
  tickMs?: number;
  /** More environment variables (e.g. WHARF_SYNC_WRITES), applied last. */
  env?: Record<string, string>;
  /** How long to wait for `node ready`, ms. @default 30000 */
  readyTimeoutMs?: number;
  /** The program, from the repository root: another Wharf process configured from WHARF_* variables. @default src/node/main.ts */
  main?: string;
  /** The log message (`msg`) that says the process is ready. @default 'node ready' */
  readyMessage?: string;
  /** File stdout and stderr of every run are appended to. @default none (only kept in memory) */
  logFile?: string;
  /** Called with every complete stdout line (pino JSON) of every run, e.g. to count error logs. */
  onStdoutLine?: (line: string) => void;
}

export interface NodeExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface NodeProcessHandle {
  /** Pid of the current process (changes on restart). */
  readonly pid: number;
  /** Settles when the current process exits (a new promise after restart); never rejects. */
  readonly exited: Promise<NodeExit>;
  /** Whether the current process has not exited yet. */
  readonly running: boolean;
  /** The last 64 KiB of the current process's stdout (pino JSON lines). */
  readonly stdout: string;
  /** The last 64 KiB of the current process's stderr. */
  readonly stderr: string;
  /** Sends a signal without waiting, e.g. `kill('SIGKILL')` to simulate a crash. */
  kill(signal?: NodeJS.Signals): void;
  /** SIGTERM (graceful stop), wait for exit, SIGKILL after `graceMs`. Idempotent. */
  stop(graceMs?: number): Promise<NodeExit>;
  /** Stops the process if it runs, then starts a new one on the same data dir and waits until it is ready. */
  restart(): Promise<void>;
}

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = join('src', 'node', 'main.ts');
const READY = 'node ready';
const TAIL_CHARS = 65_536;
const STOP_GRACE_MS = 10_000;

/** Every child this module started and that still runs: killed if the test process exits. */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

/** Starts a node process and registers its kill with the test's teardown; logs go to a temp dir. */
export async function startNodeProcess(
  t: ExecutionContext<unknown>,
  options: NodeProcessOptions,
): Promise<NodeProcessHandle> {
  const logFile = options.logFile ?? join(await tempDir(t, 'wharf-node-log-'), `node-${options.nodeId ?? 'n1'}.log`);
  const log = createWriteStream(logFile, { flags: 'a' });
  t.teardown(() => new Promise<void>((resolveEnd) => log.end(resolveEnd)));
  const handle = await spawnWithLog(options, log);
  t.teardown(async () => {
    await handle.stop(2_000);
  });
  return handle;
}

/** Starts a node process outside ava. The caller stops it. */
export async function spawnNodeProcess(options: NodeProcessOptions): Promise<NodeProcessHandle> {
  const log = options.logFile === undefined ? undefined : createWriteStream(options.logFile, { flags: 'a' });
  return spawnWithLog(options, log);
}

async function spawnWithLog(options: NodeProcessOptions, log: WriteStream | undefined): Promise<NodeProcessHandle> {
  installExitHook();
  let current = await launch(options, log);

  const stop = async (graceMs = STOP_GRACE_MS): Promise<NodeExit> => {
    const run = current;
    if (run.running) {
      run.child.kill('SIGTERM');
      const controller = new AbortController();
      const grace = delay(graceMs, 'timeout' as const, { signal: controller.signal }).catch(() => 'aborted' as const);
      const first = await Promise.race([run.exited, grace]);
      controller.abort();
      if (first === 'timeout') run.child.kill('SIGKILL');
    }
    return run.exited;
  };

  return {
    get pid() {
      return current.pid;
    },
    get exited() {
      return current.exited;
    },
    get running() {
      return current.running;
    },
    get stdout() {
      return current.stdout;
    },
    get stderr() {
      return current.stderr;
    },
    kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (current.running) current.child.kill(signal);
    },
    stop,
    async restart() {
      await stop();
      current = await launch(options, log);
    },
  };
}

interface Run {
  child: ChildProcess;
  pid: number;
  exited: Promise<NodeExit>;
  readonly running: boolean;
  readonly stdout: string;
  readonly stderr: string;
}

/** glibc's allocator settings every shipped way of starting a node sets (docs/operations.md, "Memory"). */
const MALLOC_SETTINGS = { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '65536', MALLOC_TRIM_THRESHOLD_: '1048576' };

async function launch(options: NodeProcessOptions, log: WriteStream | undefined): Promise<Run> {
  const env: NodeJS.ProcessEnv = {
    ...MALLOC_SETTINGS,
    ...process.env,
    WHARF_NODE_ID: options.nodeId ?? 'n1',
    WHARF_CLUSTER: options.cluster,
    WHARF_NATS_URL: options.natsUrl,
    WHARF_DATA_DIR: options.dataDir,
    WHARF_LOG_LEVEL: options.logLevel ?? 'info',
    WHARF_TICK_MS: String(options.tickMs ?? 20),
    WHARF_HTTP_PORT: '0',
    ...options.env,
  };
  const child = spawn(process.execPath, ['--import', 'tsx', options.main ?? MAIN], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);

  let stdout = '';
  let stderr = '';
  let running = true;
  let lineBuffer = '';
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolveReady) => {
    markReady = resolveReady;
  });

  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    log?.write(chunk);
    stdout = (stdout + chunk).slice(-TAIL_CHARS);
    lineBuffer += chunk;
    let newline = lineBuffer.indexOf('\n');
    while (newline >= 0) {
      const line = lineBuffer.slice(0, newline);
      lineBuffer = lineBuffer.slice(newline + 1);
      options.onStdoutLine?.(line);
      if (isReadyLine(line, options.readyMessage)) markReady();
      newline = lineBuffer.indexOf('\n');
    }
  });
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    log?.write(chunk);
    stderr = (stderr + chunk).slice(-TAIL_CHARS);
  });

  const exited = new Promise<NodeExit>((resolveExit) => {
    child.once('error', () => {
      running = false;
      live.delete(child);
      resolveExit({ code: null, signal: null });
    });
    child.once('exit', (code, signal) => {
      running = false;
      live.delete(child);
      resolveExit({ code, signal });
    });
  });

  const timeoutMs = options.readyTimeoutMs ?? 30_000;
  const controller = new AbortController();
  const outcome = await Promise.race([
    ready.then(() => 'ready' as const),
    exited.then((e) => e),
    delay(timeoutMs, 'timeout' as const, { signal: controller.signal }).catch(() => 'timeout' as const),
  ]);
  controller.abort();

  if (outcome !== 'ready') {
    if (running) {
      child.kill('SIGKILL');
      await exited;
    }
    // Let the pipes deliver what the process wrote last.
    await delay(20);
    const why =
      outcome === 'timeout'
        ? `did not log "${options.readyMessage ?? READY}" within ${timeoutMs} ms`
        : `exited before it was ready (code ${outcome.code}, signal ${outcome.signal})`;
    throw new Error(`wharf node process ${why}\n--- stderr ---\n${stderr}\n--- stdout ---\n${stdout.slice(-4096)}`);
  }

  const pid = child.pid;
  if (pid === undefined) throw new Error('wharf node process has no pid');
  return {
    child,
    pid,
    exited,
    get running() {
      return running;
    },
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
  };
}

export function isReadyLine(line: string, message = READY): boolean {
  if (!line.includes(message)) return false;
  try {
    const parsed: unknown = JSON.parse(line);
    return typeof parsed === 'object' && parsed !== null && (parsed as Record<string, unknown>)['msg'] === message;
  } catch {
    return false;
  }
}
