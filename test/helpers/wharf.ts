/**
 * A real Wharf node for a test: its own nats-server on a random port, a RocksDB store in a temp
 * dir, the node running in the test process, and a connected client. Everything is stopped on
 * teardown; `restart()` stops the node and starts it again on the same store.
 */
import { randomBytes } from 'node:crypto';
import type { ExecutionContext } from 'ava';
import { WharfClient, type ClientOptions } from '../../src/client/client.ts';
import type { NodeOptions } from '../../src/node/config.ts';
import { startNode, type WharfNode } from '../../src/node/node.ts';
import { startNats, type NatsServerHandle } from './nats-server.ts';
import { tempDir } from './temp-dir.ts';

export interface WharfFixture {
  nats: NatsServerHandle;
  node: WharfNode;
  client: WharfClient;
  cluster: string;
  dataDir: string;
  /** Options the node was started with (without natsUrl, dataDir and cluster). */
  options: NodeOptions;
  /** A second client on its own connection. */
  newClient(options?: Omit<ClientOptions, 'servers' | 'cluster'>): Promise<WharfClient>;
  /** Stops the node (gracefully) and starts it again on the same data. */
  restart(): Promise<WharfNode>;
}

export async function startWharf(
  t: ExecutionContext<unknown>,
  options: NodeOptions = {},
  clientOptions: Omit<ClientOptions, 'servers' | 'cluster'> = {},
): Promise<WharfFixture> {
  const nats = await startNats(t);
  const dataDir = await tempDir(t, 'wharf-data-');
  const cluster = `t${randomBytes(4).toString('hex')}`;
  const nodeOptions: NodeOptions = {
    nodeId: 'n1',
    logLevel: process.env['LOG_LEVEL'] ?? 'silent',
    tickMs: 20,
    httpPort: 0,
    ...options,
    natsUrl: nats.url,
    dataDir,
    cluster,
  };
  const clients: WharfClient[] = [];
  const fixture: WharfFixture = {
    nats,
    node: await startNode(nodeOptions),
    client: await WharfClient.connect({ ...clientOptions, servers: nats.url, cluster }),
    cluster,
    dataDir,
    options,
    async newClient(more = {}) {
      const c = await WharfClient.connect({ ...more, servers: nats.url, cluster });
      clients.push(c);
      return c;
    },
    async restart() {
      await fixture.node.stop();
      fixture.node = await startNode(nodeOptions);
      return fixture.node;
    },
  };
  t.teardown(async () => {
    await Promise.all([fixture.client, ...clients].map((c) => c.close()));
    await fixture.node.stop();
  });
  return fixture;
}
