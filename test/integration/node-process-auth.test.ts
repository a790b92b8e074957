/**
 * A node process configured only by its environment, as in a deployment, authenticates to a
 * nats-server that requires a token: WHARF_NATS_TOKEN_FILE must reach the connection through
 * main.ts (configFromEnv, then the node), not only through startNode's options.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import { WharfClient } from '../../src/client/client.ts';
import { startNats } from '../helpers/nats-server.ts';
import { startNodeProcess } from '../helpers/node-process.ts';
import { tempDir } from '../helpers/temp-dir.ts';

test('a node process started from WHARF_* variables connects with its token file', async (t) => {
  t.timeout(90_000);
  const dir = await tempDir(t, 'wharf-token-');
  const tokenFile = join(dir, 'token');
  await writeFile(tokenFile, 's3cret-token\n');
  const conf = join(dir, 'token.conf');
  await writeFile(conf, 'authorization {\n  token: "s3cret-token"\n}\n');
  const nats = await startNats(t, { configFile: conf });
  const cluster = `t${Date.now().toString(36)}`;

  // startNodeProcess waits for `node ready`: a node that connected without the token never gets there.
  await startNodeProcess(t, {
    cluster,
    natsUrl: nats.url,
    dataDir: await tempDir(t, 'wharf-data-'),
    env: { WHARF_NATS_TOKEN_FILE: tokenFile, WHARF_HTTP_PORT: '0' },
  });

  const client = await WharfClient.connect({ servers: nats.url, cluster, auth: { tokenFile } });
  t.teardown(() => client.close());
  await client.createQueue('tokened');
  await client.sendMessage('tokened', 'hello');
  const [received] = await client.receive('tokened', { waitTimeSeconds: 5 });
  t.is(new TextDecoder().decode(received?.body), 'hello');
});
