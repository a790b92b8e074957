/**
 * The NATS side of authorization (docs/security.md): the `authorization` block of a nats-server
 * configuration for one Wharf cluster, and the policies its principals start with.
 *
 * - The node user (and the admins, who run `wharf cluster` and the inspector, which read the
 *   metadata buckets directly) may publish and subscribe anything.
 * - Every other user may publish only the API subjects and the lease heartbeat subject that carry
 *   its own name, and subscribe only to its own inbox prefix. Internal subjects (partition requests,
 *   replication, heartbeats, the manager, inspection, ready notices), JetStream's API, the KV
 *   buckets and other users' inboxes are out of its reach: the server drops what it publishes
 *   there and refuses its subscriptions.
 *
 * Passwords are written as bcrypt hashes (`hashPassword`), which nats-server checks a password
 * against, so the configuration holds no password a reader could use. The authorization block is
 * pure: `wharf security init` (src/cli/security.ts) writes what it returns.
 */
import bcrypt from 'bcryptjs';
import { principalName, tenantName } from '../names.ts';
import type { PrincipalPolicy } from '../protocol/messages.ts';
import { inboxPrefix, subjects } from '../protocol/subjects.ts';
import { clusterName } from '../names.ts';
import { ErrorCode, WharfError } from '../errors.ts';
import { PERMISSIONS } from '../protocol/messages.ts';

export interface SecuritySetup {
  cluster: string;
  /** The NATS user every node connects as. */
  nodeUser: string;
  /** Admin principals: full NATS access and every Wharf permission. */
  admins: string[];
  /** Client principals; one with a tenant starts with every permission on its tenant's queues. */
  users: Array<{ name: string; tenant?: string }>;
}

/** Checks names and that no name is used twice (a user named like the node user would be a node). */
export function checkSetup(setup: SecuritySetup): void {
  clusterName(setup.cluster);
  const names = [setup.nodeUser, ...setup.admins, ...setup.users.map((u) => u.name)];
  for (const name of names) principalName(name);
  for (const u of setup.users) if (u.tenant !== undefined) tenantName(u.tenant);
  const seen = new Set<string>();
  for (const name of names) {
    if (seen.has(name) || name === 'anonymous') throw new WharfError(ErrorCode.InvalidName, `the name ${name} is used twice or reserved`);
    seen.add(name);
  }
}

/**
 * bcrypt's work factor: 2^10 rounds, bcrypt's usual default. nats-server pays it once per
 * connection (a few tens of ms), not per message.
 */
const BCRYPT_COST = 10;

/** The bcrypt hash (`$2b$…`) nats-server accepts in a user's `password`. */
export function hashPassword(password: string): string {
  return bcrypt.hashSync(password, BCRYPT_COST);
}

/** NATS configuration strings are quoted; our names and password hashes hold no quote or backslash. */
const quoted = (s: string) => JSON.stringify(s);

function user(name: string, passwordHash: string, permissions?: { publish: string[]; subscribe: string[] }): string {
  const head = `    { user: ${quoted(name)}, password: ${quoted(passwordHash)}`;
  if (permissions === undefined) return `${head} }`;
  const list = (xs: string[]) => `[${xs.map(quoted).join(', ')}]`;
  return `${head}, permissions: {\n        publish: { allow: ${list(permissions.publish)} }\n        subscribe: { allow: ${list(permissions.subscribe)} }\n      } }`;
}

/** The `authorization { users: [...] }` block; `passwordHash(name)` is each user's bcrypt hash (`hashPassword`). */
export function natsAuthorization(setup: SecuritySetup, passwordHash: (name: string) => string): string {
  checkSetup(setup);
  const s = subjects(clusterName(setup.cluster));
  const users = [
    user(setup.nodeUser, passwordHash(setup.nodeUser)),
    ...setup.admins.map((a) => user(a, passwordHash(a))),
    ...setup.users.map((u) =>
      user(u.name, passwordHash(u.name), {
        publish: [...s.principalApi(u.name), s.leaseHeartbeat(u.name)],
        subscribe: [`${inboxPrefix(u.name)}.>`],
      }),
    ),
  ];
  return `# Wharf cluster ${setup.cluster}: written by \`wharf security init\` (docs/security.md).\nauthorization {\n  users: [\n${users.join('\n')}\n  ]\n}\n`;
}

/** The policies to store for the setup's users (admins need none: WHARF_AUTH_ADMINS names them). */
export function initialPolicies(setup: SecuritySetup): PrincipalPolicy[] {
  return setup.users.map((u) =>
    u.tenant === undefined
      ? { name: u.name, grants: [] }
      : { name: u.name, tenant: u.tenant, grants: [{ queues: '*', permissions: [...PERMISSIONS] }] },
  );
}
