/**
 * A real `nats-server` per test, started the nats.js way: the server picks free ports itself
 * (`-p -1 -m -1`) and writes them to `<dir>/nats-server_<pid>.ports`, which we poll. No fixed ports,
 * no port-picking races. JetStream is on with its store in `<dir>/js`; max_payload is 8MB.
 *
 * `startNats(t)` is the ava entry point: a temp dir (kept when the test fails, with the server log
 * `nats-server.log` in it) and a server stopped on teardown.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { constants, createWriteStream } from 'node:fs';
import { access, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join, relative, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { ExecutionContext } from 'ava';
import { tempDir } from './temp-dir.ts';

export interface NatsServerOptions {
  /** Directory for the ports file, config, JetStream store and log. @default a new temp dir, left to the caller */
  dir?: string;
  /** Extra command-line arguments, appended last. */
  args?: readonly string[];
  /** A config file to include after ours (its settings win over `max_payload`). */
  configFile?: string;
  /** Enable JetStream with its store in `<dir>/js`. @default true */
  jetstream?: boolean;
  /** The executable. @default env NATS_SERVER_BIN, else `nats-server` from PATH or an sbin dir */
  bin?: string;
  /** How long to wait for the ports file, ms. @default 5000 */
  startTimeoutMs?: number;
}

export interface NatsServerHandle {
  /** Client URL, e.g. `nats://127.0.0.1:41234`. */
  readonly url: string;
  readonly port: number;
  /** HTTP monitoring URL, e.g. `http://127.0.0.1:41235`. */
  readonly monitoringUrl: string;
  readonly dir: string;
  /** Pid of the current process (changes on restart). */
  readonly pid: number;
  /** SIGTERM, wait for exit (SIGKILL after 5 s). Idempotent. The directory is kept. */
  stop(): Promise<void>;
  /** Sends a signal without waiting, e.g. `kill('SIGKILL')` to simulate a crash. */
  kill(signal?: NodeJS.Signals): void;
  /** Stops the server if it runs, then starts it again on the same ports with the same store. */
  restart(): Promise<void>;
}

const MISSING_BINARY =
  'nats-server not found: run `npm run setup` or `apt-get install nats-server` (Debian package nats-server), ' +
  'or set NATS_SERVER_BIN to its path';
const SBIN_DIRS = ['/usr/sbin', '/usr/local/sbin', '/sbin'];
const STOP_GRACE_MS = 5_000;
const STDERR_TAIL_CHARS = 8_192;

/** Starts a server and registers its stop (and its temp dir's removal) with the test's teardown. */
export async function startNats(
  t: ExecutionContext<unknown>,
  options: Omit<NatsServerOptions, 'dir'> = {},
): Promise<NatsServerHandle> {
  const dir = await tempDir(t, 'wharf-nats-');
  const handle = await startNatsServer({ ...options, dir });
  t.teardown(() => handle.stop());
  return handle;
}

/** Starts a server outside ava. The caller stops it and removes `handle.dir` if it wants. */
export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServerHandle> {
  const bin = await findNatsServer(options.bin);
  const dir = resolve(options.dir ?? (await mkdtemp(join(tmpdir(), 'wharf-nats-'))));
  const configPath = join(dir, 'nats-server.conf');
  await mkdir(dir, { recursive: true });
  await writeFile(configPath, configText(dir, options.configFile));

  const baseArgs = ['-c', configPath, '-a', '127.0.0.1', '--ports_file_dir', dir];
  if (options.jetstream ?? true) baseArgs.push('-js', '-sd', join(dir, 'js'));
  const extraArgs = options.args ?? [];
  const startTimeoutMs = options.startTimeoutMs ?? 5_000;

  let server = await launch(bin, [...baseArgs, '-p', '-1', '-m', '-1', ...extraArgs], dir, startTimeoutMs);
  const port = portOf(server.url);
  const monitoringPort = portOf(server.monitoringUrl);

  const stop = async (): Promise<void> => {
    await terminate(server.child);
  };

  return {
    url: server.url,
    port,
    monitoringUrl: server.monitoringUrl,
    dir,
    get pid() {
      return server.pid;
    },
    stop,
    kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (isRunning(server.child)) server.child.kill(signal);
    },
    async restart() {
      await stop();
      const args = [...baseArgs, '-p', String(port), '-m', String(monitoringPort), ...extraArgs];
      server = await launch(bin, args, dir, startTimeoutMs);
    },
  };
}

/** Finds the executable: explicit path, NATS_SERVER_BIN, PATH, then the sbin dirs Debian uses. */
export async function findNatsServer(explicit?: string): Promise<string> {
  const fromEnv = process.env['NATS_SERVER_BIN'];
  const wanted = explicit ?? (fromEnv === undefined || fromEnv === '' ? undefined : fromEnv);
  if (wanted !== undefined) {
    if (await isExecutable(wanted)) return wanted;
    throw new Error(`${MISSING_BINARY} (tried ${wanted})`);
  }
  const pathDirs = (process.env['PATH'] ?? '').split(delimiter).filter((d) => d !== '');
  for (const dir of [...pathDirs, ...SBIN_DIRS]) {
    const candidate = join(dir, 'nats-server');
    if (await isExecutable(candidate)) return candidate;
  }
  throw new Error(MISSING_BINARY);
}

interface Running {
  child: ChildProcess;
  pid: number;
  url: string;
  monitoringUrl: string;
}

function configText(dir: string, userConfig: string | undefined): string {
  const lines = ['# written by test/helpers/nats-server.ts', 'max_payload: 8MB'];
  // nats-server resolves `include` relative to the including file, even for absolute paths.
  if (userConfig !== undefined) lines.push(`include ${JSON.stringify(relative(dir, resolve(userConfig)))}`);
  return `${lines.join('\n')}\n`;
}

async function launch(
  bin: string,
  args: string[],
  dir: string,
  startTimeoutMs: number,
): Promise<Running> {
  const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const log = createWriteStream(join(dir, 'nats-server.log'), { flags: 'a' });
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    log.write(chunk);
    stderr = (stderr + chunk).slice(-STDERR_TAIL_CHARS);
  });
  child.stderr?.once('end', () => log.end());

  const exited = new Promise<Error>((resolveExit) => {
    child.once('error', (err) => resolveExit(new Error(`nats-server failed to start: ${err.message}`)));
    child.once('exit', (code, signal) =>
      resolveExit(new Error(`nats-server exited early (code ${code}, signal ${signal}):\n${stderr}`)),
    );
  });
  const pid = child.pid;
  if (pid === undefined) throw await exited;

  const controller = new AbortController();
  try {
    const outcome = await Promise.race([readPortsFile(dir, pid, startTimeoutMs, controller.signal), exited]);
    if (outcome instanceof Error) throw outcome;
    return { child, pid, ...outcome };
  } catch (error) {
    await terminate(child);
    throw error;
  } finally {
    controller.abort();
  }
}

async function readPortsFile(
  dir: string,
  pid: number,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<{ url: string; monitoringUrl: string }> {
  const file = join(dir, `nats-server_${pid}.ports`);
  const deadline = Date.now() + timeoutMs;
  while (!signal.aborted) {
    const ports = parsePorts(await readFile(file, 'utf8').catch(() => undefined));
    if (ports !== undefined) return ports;
    if (Date.now() >= deadline) throw new Error(`nats-server did not write ${file} within ${timeoutMs} ms`);
    await delay(10);
  }
  throw new Error('nats-server start abandoned');
}

function parsePorts(text: string | undefined): { url: string; monitoringUrl: string } | undefined {
  if (text === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined; // still being written
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const url = firstString((parsed as Record<string, unknown>)['nats']);
  const monitoringUrl = firstString((parsed as Record<string, unknown>)['monitoring']);
  return url === undefined || monitoringUrl === undefined ? undefined : { url, monitoringUrl };
}

function firstString(value: unknown): string | undefined {
  return Array.isArray(value) && typeof value[0] === 'string' ? value[0] : undefined;
}

function portOf(url: string): number {
  const port = Number(new URL(url).port);
  if (!Number.isInteger(port) || port <= 0) throw new Error(`no port in ${url}`);
  return port;
}

function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

async function terminate(child: ChildProcess): Promise<void> {
  if (!isRunning(child)) return;
  const exit = new Promise<'exited'>((resolveExit) => child.once('exit', () => resolveExit('exited')));
  child.kill('SIGTERM');
  const controller = new AbortController();
  const grace = delay(STOP_GRACE_MS, 'timeout' as const, { signal: controller.signal }).catch(() => 'aborted' as const);
  const first = await Promise.race([exit, grace]);
  controller.abort();
  if (first === 'timeout') {
    child.kill('SIGKILL');
    await exit;
  }
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
