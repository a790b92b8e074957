/**
 * A process run inside a host's network namespace (`ip netns exec <ns> <cmd>`: ip enters the
 * namespace and execs the command, so the child's pid is the command's own and signals reach it
 * directly). Its stdout and stderr are appended to a log file across restarts; `ready` lines are
 * matched on stdout and stderr (nats-server logs to stderr, Wharf nodes to stdout).
 *
 * Signals only ever go to the child this handle started, while it has not exited.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';

export interface HostProcessOptions {
  ns: string;
  command: string;
  args: readonly string[];
  env?: Record<string, string>;
  cwd?: string;
  logFile: string;
  /** A line that means the process serves. */
  ready: (line: string) => boolean;
  readyTimeoutMs?: number;
  /** Every output line, e.g. to count log messages. */
  onLine?: (line: string) => void;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class HostProcess {
  private child: ChildProcess | undefined;
  private exitedPromise: Promise<Exit> = Promise.resolve({ code: null, signal: null });
  private alive = false;
  private paused = false;
  private readonly log: WriteStream;
  private tail = '';
  private readonly options: HostProcessOptions;

  constructor(options: HostProcessOptions) {
    this.options = options;
    this.log = createWriteStream(options.logFile, { flags: 'a' });
  }

  get running(): boolean {
    return this.alive;
  }

  get isPaused(): boolean {
    return this.alive && this.paused;
  }

  /** Starts the process and waits (bounded) for its ready line; throws with its output's tail if it exits first. */
  async start(extraEnv: Record<string, string> = {}): Promise<void> {
    if (this.alive) throw new Error(`${this.options.logFile}: already running (pid ${this.child?.pid})`);
    const o = this.options;
    this.log.write(`\n==== start ${new Date().toISOString()} ====\n`);
    const child = spawn('ip', ['netns', 'exec', o.ns, o.command, ...o.args], {
      cwd: o.cwd,
      env: { ...process.env, ...o.env, ...extraEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.alive = true;
    this.paused = false;
    this.tail = '';
    let markReady: () => void = () => undefined;
    const ready = new Promise<'ready'>((resolve) => {
      markReady = () => resolve('ready');
    });
    const onChunk = (stream: NodeJS.ReadableStream) => {
      let buffer = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        this.log.write(chunk);
        this.tail = (this.tail + chunk).slice(-8192);
        buffer += chunk;
        for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 1);
          o.onLine?.(line);
          if (o.ready(line)) markReady();
        }
      });
    };
    if (child.stdout) onChunk(child.stdout);
    if (child.stderr) onChunk(child.stderr);
    this.exitedPromise = new Promise<Exit>((resolve) => {
      child.once('error', () => {
        this.alive = false;
        resolve({ code: null, signal: null });
      });
      child.once('exit', (code, signal) => {
        this.alive = false;
        resolve({ code, signal });
      });
    });
    const timeoutMs = o.readyTimeoutMs ?? 30_000;
    const timer = new AbortController();
    const outcome = await Promise.race([
      ready,
      this.exitedPromise.then((e) => e),
      delay(timeoutMs, 'timeout' as const, { signal: timer.signal }).catch(() => 'timeout' as const),
    ]);
    timer.abort();
    if (outcome === 'ready') return;
    if (this.alive) await this.kill();
    const why = outcome === 'timeout' ? `not ready within ${timeoutMs} ms` : `exited before ready (code ${outcome.code}, signal ${outcome.signal})`;
    throw new Error(`${o.command} in ${o.ns} ${why}; output:\n${this.tail.slice(-3000)}`);
  }

  signal(signal: NodeJS.Signals): void {
    if (!this.alive || this.child === undefined) throw new Error(`${this.options.logFile}: not running`);
    this.child.kill(signal);
    if (signal === 'SIGSTOP') this.paused = true;
    if (signal === 'SIGCONT') this.paused = false;
  }

  /** SIGKILL and wait for the exit. */
  async kill(): Promise<Exit> {
    if (this.alive) this.child?.kill('SIGKILL');
    this.paused = false;
    return this.exitedPromise;
  }

  /** SIGTERM (resuming a paused process first), SIGKILL after `graceMs`. */
  async stop(graceMs = 20_000): Promise<Exit> {
    if (!this.alive) return this.exitedPromise;
    if (this.paused) this.signal('SIGCONT');
    this.child?.kill('SIGTERM');
    const timer = new AbortController();
    const outcome = await Promise.race([
      this.exitedPromise,
      delay(graceMs, 'timeout' as const, { signal: timer.signal }).catch(() => 'timeout' as const),
    ]);
    timer.abort();
    if (outcome === 'timeout') return this.kill();
    return outcome;
  }

  close(): void {
    this.log.end();
  }
}
