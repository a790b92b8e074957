/**
 * How a Wharf process proves itself to NATS and checks NATS in return: credentials (a `.creds`
 * file holding a JWT and NKey seed, a user and password, or a token) and TLS (a CA to verify the
 * server, and a client certificate when the server asks for one). Nodes, the CLI, the SDK and the
 * inspector all connect through `natsAuthOptions`, so every connection is secured the same way.
 *
 * Secrets are read from files, never taken from the environment or the command line themselves:
 * files are what Docker Swarm secrets and Kubernetes secrets mount, and a value in the environment
 * shows in /proc and in `docker inspect`.
 */
import { readFileSync } from 'node:fs';
import { credsAuthenticator, type ConnectionOptions } from '@nats-io/nats-core';
import { ErrorCode, WharfError } from '../errors.ts';
import { ANONYMOUS } from '../names.ts';
import { inboxPrefix } from '../protocol/subjects.ts';

export interface NatsAuth {
  /** A NATS `.creds` file (user JWT and NKey seed), as `nsc` or `nats` write them. */
  credsFile?: string;
  /** User name for user/password authentication (with `passwordFile`). */
  user?: string;
  /** File holding the password of `user` (a trailing newline is ignored). */
  passwordFile?: string;
  /** File holding an authentication token (a trailing newline is ignored). */
  tokenFile?: string;
  /** PEM file of the CA that signed the server's certificate; turns TLS on. */
  tlsCa?: string;
  /** PEM file of this process's client certificate (with `tlsKey`), for servers that verify clients. */
  tlsCert?: string;
  /** PEM file of the client certificate's private key. */
  tlsKey?: string;
}

/** The principal a connection made with `auth` acts as: its NATS user, else anonymous. */
export function principalOfAuth(auth: NatsAuth | undefined): string {
  return auth?.user ?? ANONYMOUS;
}

/** A NatsAuth of the settings given, without the ones left undefined (exactOptionalPropertyTypes). */
export function natsAuth(values: { [K in keyof NatsAuth]-?: string | undefined }): NatsAuth {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)) as NatsAuth;
}

/** Reads a secret file, without the trailing newline an editor or `echo` leaves. */
function secret(file: string, what: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new WharfError(ErrorCode.InvalidParameter, `cannot read the NATS ${what} file ${file}: ${(err as Error).message}`, { cause: err });
  }
  const value = text.replace(/\r?\n$/, '');
  if (value === '') throw new WharfError(ErrorCode.InvalidParameter, `the NATS ${what} file ${file} is empty`);
  return value;
}

/** Problems with a combination of settings (not with the files themselves), for configuration checks. */
export function natsAuthProblems(auth: NatsAuth): string[] {
  const problems: string[] = [];
  const ways = [auth.credsFile, auth.passwordFile ?? auth.user, auth.tokenFile].filter((w) => w !== undefined);
  if (ways.length > 1) problems.push('give one way to authenticate to NATS: a creds file, a user and password file, or a token file');
  if ((auth.user === undefined) !== (auth.passwordFile === undefined)) problems.push('a NATS user needs a password file, and a password file a user');
  if ((auth.tlsCert === undefined) !== (auth.tlsKey === undefined)) problems.push('a TLS client certificate needs its key, and a key its certificate');
  return problems;
}

/**
 * The NATS connection options for `auth`: credentials read now (a missing or unreadable file fails
 * here, with its name, instead of as an authorization error from the server), TLS files by path.
 */
export function natsAuthOptions(auth: NatsAuth = {}): Partial<ConnectionOptions> {
  const problems = natsAuthProblems(auth);
  if (problems.length > 0) throw new WharfError(ErrorCode.InvalidParameter, problems.join('; '));
  const options: Partial<ConnectionOptions> = {};
  if (auth.credsFile !== undefined) {
    const file = auth.credsFile;
    options.authenticator = credsAuthenticator(new TextEncoder().encode(secret(file, 'creds')));
  }
  if (auth.user !== undefined && auth.passwordFile !== undefined) {
    options.user = auth.user;
    options.pass = secret(auth.passwordFile, 'password');
    // The only inbox a principal may subscribe to when authorization is on (docs/security.md).
    options.inboxPrefix = inboxPrefix(auth.user);
  }
  if (auth.tokenFile !== undefined) options.token = secret(auth.tokenFile, 'token');
  if (auth.tlsCa !== undefined || auth.tlsCert !== undefined) {
    options.tls = {
      ...(auth.tlsCa === undefined ? {} : { caFile: auth.tlsCa }),
      ...(auth.tlsCert === undefined ? {} : { certFile: auth.tlsCert }),
      ...(auth.tlsKey === undefined ? {} : { keyFile: auth.tlsKey }),
    };
  }
  return options;
}
