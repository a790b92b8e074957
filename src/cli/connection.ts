/**
 * The global options (`--server`, `--cluster`, `--timeout`, `--json`, and how to authenticate to
 * NATS: `--creds`, `--user` with `--password-file`, `--token-file`, `--tls-ca`, `--tls-cert`,
 * `--tls-key`) and the one way a command gets a client: a NATS connection of its own, bounded by
 * `--timeout`, closed when the command ends. Each option may come from the WHARF_* variable a node
 * reads for the same setting.
 */
import { Option, type Command } from 'commander';
import type { NatsConnection } from '@nats-io/transport-node';
import type { WharfClient } from '../client/client.ts';
import { ErrorCode, WharfError } from '../errors.ts';
import { natsAuth, natsAuthOptions, principalOfAuth, type NatsAuth } from '../security/nats-auth.ts';
import { Output } from './output.ts';
import { clusterArg, integerIn } from './parse.ts';

export const DEFAULT_SERVER = 'nats://127.0.0.1:4222';
export const DEFAULT_CLUSTER = 'local';
export const DEFAULT_TIMEOUT_MS = 10_000;

export interface GlobalOptions {
  server: string;
  cluster: string;
  timeout: number;
  json?: boolean;
  /** NATS credentials and TLS files: NatsAuth's settings, `--creds` for its credsFile. */
  creds?: string;
}

type GlobalsWithAuth = GlobalOptions & Omit<NatsAuth, 'credsFile'>;

/** The NATS credentials and TLS files the global options name. */
function authOf(g: GlobalsWithAuth): NatsAuth {
  const { creds, user, passwordFile, tokenFile, tlsCa, tlsCert, tlsKey } = g;
  return natsAuth({ credsFile: creds, user, passwordFile, tokenFile, tlsCa, tlsCert, tlsKey });
}

export function addGlobalOptions(program: Command): Command {
  return program
    .addOption(
      new Option('--server <url>', 'NATS server URL; several comma-separated')
        .env('WHARF_NATS_URL')
        .default(DEFAULT_SERVER),
    )
    .addOption(
      new Option('--cluster <name>', 'the Wharf deployment to talk to (its cluster name)')
        .env('WHARF_CLUSTER')
        .default(DEFAULT_CLUSTER)
        .argParser(clusterArg),
    )
    .addOption(
      new Option('--timeout <ms>', 'how long to wait for NATS and for each reply, ms (a long-poll wait comes on top)')
        .default(DEFAULT_TIMEOUT_MS)
        .argParser(integerIn(1, 3_600_000)),
    )
    .addOption(new Option('--json', 'print one JSON document instead of human-readable text'))
    .addOption(new Option('--creds <file>', 'NATS .creds file (JWT and NKey seed) to authenticate with').env('WHARF_NATS_CREDS'))
    .addOption(new Option('--user <name>', 'NATS user to authenticate as (with --password-file)').env('WHARF_NATS_USER'))
    .addOption(new Option('--password-file <file>', "file holding the NATS user's password").env('WHARF_NATS_PASSWORD_FILE'))
    .addOption(new Option('--token-file <file>', 'file holding a NATS authentication token').env('WHARF_NATS_TOKEN_FILE'))
    .addOption(new Option('--tls-ca <file>', "PEM file of the CA that signed the NATS servers' certificates (turns TLS on)").env('WHARF_NATS_TLS_CA'))
    .addOption(new Option('--tls-cert <file>', 'PEM client certificate, for NATS servers that verify clients').env('WHARF_NATS_TLS_CERT'))
    .addOption(new Option('--tls-key <file>', 'PEM key of the client certificate').env('WHARF_NATS_TLS_KEY'));
}

/** The global options as seen from a (sub)command. */
export function globalsOf(command: Command): GlobalOptions {
  return command.optsWithGlobals<GlobalOptions>();
}

export function outputOf(command: Command): Output {
  return new Output(globalsOf(command).json === true);
}

export interface ClientUse {
  /** Added to `--timeout` for each request, e.g. a long-poll wait. @default 0 */
  extraTimeoutMs?: number;
}

/** Connects to NATS, runs `fn` with the connection, and always closes it again. */
export async function withConnection<T>(command: Command, fn: (nc: NatsConnection, globals: GlobalOptions) => Promise<T>): Promise<T> {
  const globals = globalsOf(command);
  const servers = globals.server
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  // Loaded here, not at start-up: --help and usage errors do not pay for the NATS client.
  const { connect } = await import('@nats-io/transport-node');
  // Bad settings (a missing password file, a certificate without its key) fail before connecting.
  const auth = natsAuthOptions(authOf(command.optsWithGlobals<GlobalsWithAuth>()));
  let nc: NatsConnection;
  try {
    // A CLI run is short: no reconnects, so a lost connection fails the command instead of hanging.
    nc = await connect({ servers, name: 'wharf-cli', timeout: globals.timeout, reconnect: false, ...auth });
  } catch (err) {
    throw new WharfError(
      ErrorCode.Unavailable,
      `cannot connect to NATS at ${servers.join(',')}: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
  try {
    return await fn(nc, globals);
  } finally {
    await nc.close().catch(() => undefined);
  }
}

/** Connects, runs `fn` with a client, and always closes the connection again. */
export async function withClient<T>(
  command: Command,
  fn: (client: WharfClient) => Promise<T>,
  use: ClientUse = {},
): Promise<T> {
  return withConnection(command, async (nc, globals) => {
    const { WharfClient } = await import('../client/client.ts');
    const client = await WharfClient.connect({
      connection: nc,
      principal: principalOfAuth(authOf(command.optsWithGlobals<GlobalsWithAuth>())),
      cluster: globals.cluster,
      timeoutMs: globals.timeout + (use.extraTimeoutMs ?? 0),
    });
    try {
      return await fn(client);
    } finally {
      await client.close();
    }
  });
}
