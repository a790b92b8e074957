/**
 * A private nats-server for the benchmark, JetStream on, in its own directory: the server picks a
 * free port (`-p -1`) and writes it to `<dir>/nats-server_<pid>.ports`, which we poll (bounded).
 * The server's stderr goes to `<dir>/nats-server.log`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { constants, createWriteStream } from 'node:fs';
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { isRunning, terminate, trackChild } from './util.ts';

const CANDIDATES = ['/usr/sbin/nats-server', '/usr/local/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server'];
const START_TIMEOUT_MS = 10_000;
const TAIL_CHARS = 8_192;

export interface NatsServer {
  readonly url: string;
  readonly pid: number;
  readonly dir: string;
  readonly bin: string;
  /** From `nats-server --version`, e.g. `v2.9.10`. */
  readonly version: string;
  /** SIGTERM, SIGKILL after a grace period; idempotent. */
  stop(): Promise<void>;
}

export async function findNatsServer(): Promise<string> {
  const fromEnv = process.env['NATS_SERVER_BIN'];
  const candidates = fromEnv !== undefined && fromEnv !== '' ? [fromEnv] : CANDIDATES;
  for (const candidate of candidates) {
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // next
    }
  }
  throw new Error(
    `nats-server not found (tried ${candidates.join(', ')}): install the Debian package nats-server ` +
      '(`apt-get install nats-server`) or set NATS_SERVER_BIN',
  );
}

/** Starts nats-server with JetStream in `dir` (created if missing). */
export async function startNatsServer(dir: string): Promise<NatsServer> {
  const bin = await findNatsServer();
  const version = await natsVersion(bin);
  await mkdir(dir, { recursive: true });
  const conf = join(dir, 'nats-server.conf');
  await writeFile(conf, '# written by bench/nats.ts\nmax_payload: 8MB\n');
  const args = ['-a', '127.0.0.1', '-p', '-1', '--ports_file_dir', dir, '-js', '-sd', join(dir, 'js'), '-c', conf];

  const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  trackChild(child);
  const log = createWriteStream(join(dir, 'nats-server.log'), { flags: 'a' });
  let tail = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    log.write(chunk);
    tail = (tail + chunk).slice(-TAIL_CHARS);
  });
  child.stderr?.once('end', () => log.end());

  const early = new Promise<Error>((resolve) => {
    child.once('error', (err) => resolve(new Error(`nats-server (${bin}) failed to start: ${err.message}`)));
    child.once('exit', (code, signal) => resolve(new Error(`nats-server exited during start (code ${code}, signal ${signal}):\n${tail}`)));
  });
  const pid = child.pid;
  if (pid === undefined) throw await early;

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await terminate(child, 5_000);
  };
  try {
    const url = await Promise.race([readPortsFile(dir, pid, child), early]);
    if (url instanceof Error) throw url;
    return { url, pid, dir, bin, version, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function readPortsFile(dir: string, pid: number, child: ChildProcess): Promise<string> {
  const file = join(dir, `nats-server_${pid}.ports`);
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (isRunning(child)) {
    const url = parsePorts(await readFile(file, 'utf8').catch(() => undefined));
    if (url !== undefined) return url;
    if (Date.now() >= deadline) throw new Error(`nats-server did not write ${file} within ${START_TIMEOUT_MS} ms`);
    await delay(20);
  }
  // The exit is reported by the `early` promise; this value is never used.
  return new Promise<string>(() => undefined);
}

function parsePorts(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined; // still being written
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const nats = (parsed as Record<string, unknown>)['nats'];
  return Array.isArray(nats) && typeof nats[0] === 'string' ? nats[0] : undefined;
}

async function natsVersion(bin: string): Promise<string> {
  const child = spawn(bin, ['--version'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr?.setEncoding('utf8').on('data', (c: string) => (out += c));
  const done = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  });
  const finished = await Promise.race([done.then(() => true), delay(5_000, false)]);
  if (!finished) child.kill('SIGKILL');
  return out.trim().replace(/^nats-server:\s*/, '') || 'unknown';
}
