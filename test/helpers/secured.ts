/**
 * A node with authorization on (docs/security.md), as an operator sets one up: `wharf security init`
 * writes the credentials and the nats-server configuration, a real nats-server runs with it, a node
 * with WHARF_AUTH connects as the node user, and the admin applies the starting policies.
 */
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { WharfClient, type ClientOptions } from '../../src/client/client.ts';
import type { NodeOptions } from '../../src/node/config.ts';
import { startNode } from '../../src/node/node.ts';
import { natsAuthOptions } from '../../src/security/nats-auth.ts';
import { cli } from './cli.ts';
import { startNats, type NatsServerHandle } from './nats-server.ts';
import { tempDir } from './temp-dir.ts';

export interface SecuredFixture {
  cluster: string;
  nats: NatsServerHandle;
  /** A raw NATS connection as `user` (closed at teardown). */
  connection(user: string): Promise<NatsConnection>;
  /** An SDK client as `user` (closed at teardown). */
  client(user: string, options?: ClientOptions): Promise<WharfClient>;
}

/** `principals` as `security init --principal` takes them (`alice@acme`); the admin is `admin`. */
export async function startSecured(t: ExecutionContext<unknown>, principals: readonly string[], node: NodeOptions = {}): Promise<SecuredFixture> {
  const secrets = join(await tempDir(t, 'wharf-secrets-'), 'secrets');
  const cluster = `s${Date.now().toString(36)}`;
  const init = await cli(['security', 'init', '--out', secrets, '--cluster', cluster, ...principals.flatMap((p) => ['--principal', p])]);
  if (init.code !== 0) throw new Error(`security init failed: ${init.stderr}`);
  const nats = await startNats(t, { configFile: join(secrets, 'nats-auth.conf') });
  const password = (user: string) => join(secrets, `${user}.password`);
  const started = await startNode({
    nodeId: 'n1',
    cluster,
    natsUrl: nats.url,
    dataDir: await tempDir(t, 'wharf-data-'),
    httpPort: 0,
    logLevel: 'silent',
    natsUser: 'wharf-node',
    natsPasswordFile: password('wharf-node'),
    auth: true,
    ...node,
  });
  t.teardown(() => started.stop());
  const applied = await cli(['auth', 'apply', join(secrets, 'principals.json'), '--server', nats.url, '--cluster', cluster, '--user', 'admin', '--password-file', password('admin')]);
  if (applied.code !== 0) throw new Error(`auth apply failed: ${applied.stderr}`);
  return {
    cluster,
    nats,
    async connection(user) {
      const nc = await connect({ servers: nats.url, ...natsAuthOptions({ user, passwordFile: password(user) }) });
      t.teardown(() => nc.close());
      return nc;
    },
    async client(user, options = {}) {
      const client = await WharfClient.connect({ servers: nats.url, cluster, auth: { user, passwordFile: password(user) }, ...options });
      t.teardown(() => client.close());
      return client;
    },
  };
}
