/**
 * `wharf inspect`: serves the inspector page (src/inspect/server.ts) on a local port until
 * interrupted, and optionally forwards the actors' inspection events to Stately's inspector.
 */
import { Option, type Command } from 'commander';
import type { NatsConnection } from '@nats-io/transport-node';
import { ErrorCode, WharfError } from '../errors.ts';
import { clusterName } from '../names.ts';
import { outputOf, withConnection } from './connection.ts';
import { clusterArg, integerIn } from './parse.ts';

interface InspectFlags {
  port: number;
  host: string;
  stately?: string;
  failureTimeout: number;
  deployment?: string;
}

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
    .addOption(
      new Option('--deployment <name>', 'the deployment the cluster belongs to (WHARF_DEPLOYMENT of its nodes): the Clusters section shows all of its clusters')
        .env('WHARF_DEPLOYMENT')
        .argParser(clusterArg),
    )
    .addHelpText(
      'after',
      `
Runs until interrupted (Ctrl-C). The page is read-only: it changes nothing in the cluster. While
a browser has it open, the nodes publish their actors' inspection events (see docs/inspector.md).`,
    )
    .action(async (flags: InspectFlags, command: Command) => {
      const out = outputOf(command);
      const { startInspector } = await import('../inspect/server.ts');
      await withConnection(command, async (nc, globals) => {
        const inspector = await startInspector({
          nc,
          cluster: globals.cluster,
          port: flags.port,
          host: flags.host,
          failureTimeoutMs: flags.failureTimeout,
          ...(flags.deployment === undefined ? {} : { deployment: flags.deployment }),
        });
        let stopForwarding: (() => Promise<void>) | undefined;
        try {
          if (flags.stately !== undefined) {
            // Loaded only when asked for: the Stately client is not needed otherwise.
            const { forwardToStately } = await import('../inspect/stately.ts');
            stopForwarding = await forwardToStately(nc, clusterName(globals.cluster), flags.stately);
            out.line(`forwarding inspection events to ${flags.stately}`);
          }
          out.document({ url: inspector.url, cluster: globals.cluster });
          out.line(`inspector of cluster "${globals.cluster}" at ${inspector.url} (Ctrl-C stops it)`);
          await untilStopped(nc);
        } finally {
          if (stopForwarding !== undefined) await stopForwarding();
          await inspector.close();
        }
      });
    });
}
