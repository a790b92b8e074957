/**
 * `wharf security init` (credentials and the nats-server authorization for a cluster, written to a
 * directory) and `wharf auth put|apply|delete|list|whoami` (principals' policies, admin only but
 * whoami); docs/security.md.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Argument, InvalidArgumentError, Option, type Command } from 'commander';
import * as v from 'valibot';
import { principalPolicy } from '../protocol/codec.ts';
import { PERMISSIONS, type Grant, type Permission, type PrincipalPolicy } from '../protocol/messages.ts';
import { hashPassword, initialPolicies, natsAuthorization, type SecuritySetup } from '../security/nats-config.ts';
import { outputOf, withClient } from './connection.ts';
import { formatTable } from './output.ts';

/** `send,receive=orders-*`: permissions (or `all`) on a queue pattern. */
function grantArg(value: string, previous: Grant[] = []): Grant[] {
  const eq = value.lastIndexOf('=');
  if (eq <= 0) throw new InvalidArgumentError('a grant is <permissions>=<queues>, e.g. send,receive=orders-*');
  const names = value.slice(0, eq).split(',').map((p) => p.trim());
  const permissions = names.includes('all') ? [...PERMISSIONS] : names;
  for (const p of permissions) {
    if (!(PERMISSIONS as readonly string[]).includes(p)) throw new InvalidArgumentError(`unknown permission ${p}; one of ${PERMISSIONS.join(', ')} or all`);
  }
  return [...previous, { queues: value.slice(eq + 1), permissions: permissions as Permission[] }];
}

/** `alice` or `alice@acme` (a user of tenant acme). */
function userArg(value: string, previous: SecuritySetup['users'] = []): SecuritySetup['users'] {
  const [name, tenant] = value.split('@');
  return [...previous, tenant === undefined ? { name: name ?? '' } : { name: name ?? '', tenant }];
}

function policyRows(policies: readonly PrincipalPolicy[]): string[][] {
  return [
    ['PRINCIPAL', 'TENANT', 'ADMIN', 'GRANTS'],
    ...policies.map((p) => [p.name, p.tenant ?? '-', p.admin === true ? 'yes' : 'no', p.grants.map((g) => `${g.permissions.join(',')}=${g.queues}`).join(' ') || '-']),
  ];
}

export function registerSecurityCommands(program: Command): void {
  program
    .command('security')
    .description('credentials and NATS configuration for authorization')
    .command('init')
    .description('write passwords, a nats-server authorization block and the users\' starting policies into a directory')
    .requiredOption('--out <dir>', 'directory to write into (existing password files are kept)')
    .option('--node-user <name>', 'the NATS user of the nodes', 'wharf-node')
    .option('--admin <name>', 'the admin principal', 'admin')
    .addOption(new Option('--principal <name[@tenant]>', 'a client principal, optionally of a tenant (repeatable)').argParser(userArg).default([]))
    .addHelpText(
      'after',
      `
Writes <out>/nats-auth.conf (include it in nats-server.conf; it holds bcrypt hashes of the
passwords), <out>/<name>.password for every user (mode 600, the plaintext the clients read), and <out>/principals.json (apply it with: wharf auth apply <out>/principals.json).
Start the nodes with WHARF_AUTH=true, WHARF_AUTH_ADMINS=<admin>, WHARF_NATS_USER=<node-user> and
WHARF_NATS_PASSWORD_FILE=<out>/<node-user>.password.

Example:
  wharf security init --out ./secrets --principal alice@acme --principal bob@globex`,
    )
    .action((options: { out: string; nodeUser: string; admin: string; principal: SecuritySetup['users'] }, command: Command) => {
      const out = outputOf(command);
      const cluster = command.optsWithGlobals<{ cluster: string }>().cluster;
      const setup: SecuritySetup = { cluster, nodeUser: options.nodeUser, admins: [options.admin], users: options.principal };
      mkdirSync(options.out, { recursive: true, mode: 0o700 });
      const password = (name: string): string => {
        const file = join(options.out, `${name}.password`);
        if (existsSync(file)) return readFileSync(file, 'utf8').trim();
        const secret = randomBytes(24).toString('base64url');
        writeFileSync(file, `${secret}\n`, { mode: 0o600 });
        return secret;
      };
      writeFileSync(join(options.out, 'nats-auth.conf'), natsAuthorization(setup, (name) => hashPassword(password(name))), { mode: 0o600 });
      writeFileSync(join(options.out, 'principals.json'), `${JSON.stringify(initialPolicies(setup), null, 2)}\n`);
      out.document({ dir: options.out, users: [setup.nodeUser, ...setup.admins, ...setup.users.map((u) => u.name)] });
      out.line(`wrote ${join(options.out, 'nats-auth.conf')}, principals.json and ${2 + setup.users.length} password files`);
    });

  const auth = program.command('auth').description("principals' policies (docs/security.md); admin only, but whoami");

  auth
    .command('put')
    .description("create or replace a principal's policy")
    .addArgument(new Argument('<principal>', 'principal (NATS user) name'))
    .option('--tenant <name>', 'the tenant: the principal reaches only queues named <tenant>_*, and its patterns are read inside that namespace')
    .option('--admin', 'every permission on every queue, and managing principals')
    .addOption(new Option('--grant <permissions=queues>', `permissions (${PERMISSIONS.join(', ')}, or all) on a queue or prefix* (repeatable)`).argParser(grantArg).default([]))
    .addHelpText('after', '\nExample:\n  wharf auth put alice --tenant acme --grant send,receive,delete=orders-* --grant peek=*')
    .action(async (name: string, options: { tenant?: string; admin?: boolean; grant: Grant[] }, command: Command) => {
      const policy: PrincipalPolicy = { name, grants: options.grant };
      if (options.tenant !== undefined) policy.tenant = options.tenant;
      if (options.admin === true) policy.admin = true;
      await withClient(command, (client) => client.putPrincipal(policy));
      outputOf(command).document({ principal: policy });
      outputOf(command).line(`put ${name}`);
    });

  auth
    .command('apply')
    .description('put every policy of a JSON file (an array, as `wharf security init` writes)')
    .addArgument(new Argument('<file>', 'JSON file'))
    .action(async (file: string, _options: unknown, command: Command) => {
      const parsed = v.safeParse(v.array(principalPolicy), JSON.parse(readFileSync(file, 'utf8')));
      if (!parsed.success) command.error(`error: ${file}: ${parsed.issues[0].message}`, { exitCode: 1 });
      const policies = parsed.output as PrincipalPolicy[];
      await withClient(command, async (client) => {
        for (const policy of policies) await client.putPrincipal(policy);
      });
      outputOf(command).document({ applied: policies.map((p) => p.name) });
      outputOf(command).line(`applied ${policies.length} policies`);
    });

  auth
    .command('delete')
    .description("remove a principal's policy: it may then do nothing")
    .addArgument(new Argument('<principal>', 'principal name'))
    .action(async (name: string, _options: unknown, command: Command) => {
      await withClient(command, (client) => client.deletePrincipal(name));
      outputOf(command).document({ deleted: name });
      outputOf(command).line(`deleted ${name}`);
    });

  auth
    .command('list')
    .description('every principal with a stored policy')
    .action(async (_options: unknown, command: Command) => {
      const principals = await withClient(command, (client) => client.listPrincipals());
      outputOf(command).document({ principals });
      outputOf(command).line(formatTable(policyRows(principals)));
    });

  auth
    .command('whoami')
    .description('the principal the cluster takes this connection for, and its policy')
    .action(async (_options: unknown, command: Command) => {
      const me = await withClient(command, (client) => client.whoAmI());
      outputOf(command).document(me);
      outputOf(command).line(`${me.principal}${me.authorization ? '' : ' (authorization is off: everything is allowed)'}`);
      if (me.policy !== undefined) outputOf(command).line(formatTable(policyRows([me.policy])));
    });
}
