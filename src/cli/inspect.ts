/**
 * `wharf inspect`: serves the inspector page (src/inspect/server.ts) on a local port until
 * interrupted, and optionally forwards the actors' inspection events to Stately's inspector.
 */
import { Option, type Command } from 'commander';
import type { NatsConnection } from '@nats-io/transport-node';
import { ErrorCode, WharfError } from '../errors.ts';
import { outputOf, withConnection } from './connection.ts';
import { ExitCode } from './output.ts';
import { integerIn } from './parse.ts';

interface InspectFlags {
  port: number;
  host: string;
  stately?: string;
  failureTimeout: number;
}

/** src/inspect/stately.ts: starts forwarding and resolves to the function that stops it. */
type ForwardToStately = (nc: NatsConnection, cluster: string, url: string) => Promise<unknown>;

/** Resolves on SIGINT or SIGTERM, or when NATS closes the connection (then with its error). */
function untilStopped(nc: NatsConnection): Promise<void> {
  return new Promise((resolve, reject) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    void nc.closed().then((err) => {
      if (err) reject(new WharfError(ErrorCode.Unavailable, `lost the NATS connection: ${err.message}`, { cause: err }));
      else resolve();
    });
  });
}

/** The Stately forwarder, or why there is none. */
async function loadStatelyForwarder(): Promise<ForwardToStately | string> {
  // Resolved at run time: the forwarder is optional, and the page works without it.
  const specifier = new URL('../inspect/stately.ts', import.meta.url).href;
  let module: unknown;
  try {
    module = await import(specifier);
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
  const fn = typeof module === 'object' && module !== null ? (module as Record<string, unknown>)['forwardToStately'] : undefined;
  return typeof fn === 'function' ? (fn as ForwardToStately) : `${specifier} has no forwardToStately`;
}

export function registerInspectCommand(program: Command): void {
  program
    .command('inspect')
    .description('serve the inspector web page: the cluster map, every actor live, queues and message search')
    .addOption(new Option('--port <port>', 'HTTP port of the page (0: any free port)').default(9400).argParser(integerIn(0, 65535)))
    .addOption(new Option('--host <address>', 'address to listen on').default('127.0.0.1'))
    .addOption(new Option('--stately <ws-url>', "also forward the actors' inspection events to a Stately inspector at this WebSocket URL"))
    .addOption(
      new Option('--failure-timeout <ms>', "the cluster's WHARF_FAILURE_TIMEOUT_MS: silence after which a node is shown dead (suspected after half)")
        .env('WHARF_FAILURE_TIMEOUT_MS')
        .default(3000)
        .argParser(integerIn(100, 3_600_000)),
    )
    .addHelpText(
      'after',
      `
Runs until interrupted (Ctrl-C). The page is read-only: it changes nothing in the cluster. While
a browser has it open, the nodes publish their actors' inspection events (see docs/inspector.md).`,
    )
    .action(async (flags: InspectFlags, command: Command) => {
      const out = outputOf(command);
      const forward = flags.stately === undefined ? undefined : await loadStatelyForwarder();
      if (typeof forward === 'string') command.error(`error: --stately is not available in this build (${forward})`, { exitCode: ExitCode.Usage });
      const { startInspector } = await import('../inspect/server.ts');
      await withConnection(command, async (nc, globals) => {
        const inspector = await startInspector({
          nc,
          cluster: globals.cluster,
          port: flags.port,
          host: flags.host,
          failureTimeoutMs: flags.failureTimeout,
        });
        let stopForwarding: unknown;
        try {
          if (typeof forward === 'function' && flags.stately !== undefined) {
            stopForwarding = await forward(nc, globals.cluster, flags.stately);
            out.line(`forwarding inspection events to ${flags.stately}`);
          }
          out.document({ url: inspector.url, cluster: globals.cluster });
          out.line(`inspector of cluster "${globals.cluster}" at ${inspector.url} (Ctrl-C stops it)`);
          await untilStopped(nc);
        } finally {
          if (typeof stopForwarding === 'function') await (stopForwarding as () => Promise<void>)();
          await inspector.close();
        }
      });
    });
}
