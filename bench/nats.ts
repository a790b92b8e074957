/**
 * The benchmark's private nats-server: the same launcher the tests use (test/helpers/nats-server.ts:
 * random port read from the ports file, JetStream in the directory, max_payload 8MB), plus the
 * server's version for the report.
 */
import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { findNatsServer, startNatsServer as launch, type NatsServerHandle } from '../test/helpers/nats-server.ts';

export interface NatsServer extends NatsServerHandle {
  /** From `nats-server --version`, e.g. `v2.9.10`. */
  readonly version: string;
}

/** Starts nats-server with JetStream in `dir` (created if missing). */
export async function startNatsServer(dir: string): Promise<NatsServer> {
  await mkdir(dir, { recursive: true });
  const version = await natsVersion(await findNatsServer());
  const handle = await launch({ dir });
  // The launcher leaves the stop to its caller; a bench that dies without its cleanup (an uncaught
  // error, EPIPE on stdout) must not leave the server running. kill() skips an exited child.
  process.once('exit', () => handle.kill('SIGKILL'));
  return { ...handle, pid: handle.pid, version };
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
