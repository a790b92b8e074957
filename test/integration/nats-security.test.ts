/**
 * Connections secured by NATS: a nats-server that requires TLS with verified client certificates
 * and a user and password (its config made here, with a CA made by openssl), a node that connects
 * with WHARF_NATS_* settings, and clients (SDK and CLI) that get in only with the CA, a client
 * certificate and the right password. A client without them gets `unavailable`, never a hang.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { WharfClient } from '../../src/client/client.ts';
import { ErrorCode, WharfError } from '../../src/errors.ts';
import { optionsFromEnv } from '../../src/node/config.ts';
import { startNode } from '../../src/node/node.ts';
import type { NatsAuth } from '../../src/security/nats-auth.ts';
import { makeCertificates } from '../helpers/certificates.ts';
import { startNats } from '../helpers/nats-server.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

test('with TLS and passwords required, the node and clients that hold them work and others are refused', async (t) => {
  t.timeout(90_000);
  const dir = await tempDir(t, 'wharf-tls-');
  const certs = await makeCertificates(dir);
  const nodePassword = join(dir, 'node.password');
  const appPassword = join(dir, 'app.password');
  const wrongPassword = join(dir, 'wrong.password');
  await writeFile(nodePassword, 'node-secret-1\n');
  await writeFile(appPassword, 'app-secret-2\n');
  await writeFile(wrongPassword, 'guess\n');
  const conf = join(dir, 'secure.conf');
  await writeFile(
    conf,
    `tls {
  cert_file: "${certs.serverCert}"
  key_file: "${certs.serverKey}"
  ca_file: "${certs.ca}"
  verify: true
  timeout: 5
}
authorization {
  users: [
    { user: "wharf-node", password: "node-secret-1" }
    { user: "app", password: "app-secret-2" }
  ]
}
`,
  );
  const nats = await startNats(t, { configFile: conf });
  const cluster = `t${Date.now().toString(36)}`;
  const tls = { tlsCa: certs.ca, tlsCert: certs.clientCert, tlsKey: certs.clientKey };

  // The node takes its settings from the environment, as in a deployment.
  const options = optionsFromEnv({
    WHARF_NODE_ID: 'n1',
    WHARF_CLUSTER: cluster,
    WHARF_NATS_URL: nats.url,
    WHARF_DATA_DIR: await tempDir(t, 'wharf-data-'),
    WHARF_HTTP_PORT: '0',
    WHARF_LOG_LEVEL: 'silent',
    WHARF_NATS_USER: 'wharf-node',
    WHARF_NATS_PASSWORD_FILE: nodePassword,
    WHARF_NATS_TLS_CA: certs.ca,
    WHARF_NATS_TLS_CERT: certs.clientCert,
    WHARF_NATS_TLS_KEY: certs.clientKey,
  });
  const node = await startNode(options);
  t.teardown(() => node.stop());

  const auth: NatsAuth = { ...tls, user: 'app', passwordFile: appPassword };
  const client = await WharfClient.connect({ servers: nats.url, cluster, auth });
  t.teardown(() => client.close());
  await client.createQueue('secure');
  await client.sendMessage('secure', 'over TLS');
  const [received] = await client.receive('secure', { waitTimeSeconds: 5 });
  t.is(new TextDecoder().decode(received?.body), 'over TLS');

  const refused = async (label: string, a: NatsAuth | undefined) => {
    const err = await t.throwsAsync(WharfClient.connect({ servers: nats.url, cluster, ...(a === undefined ? {} : { auth: a }), timeoutMs: 5000 }), {
      instanceOf: WharfError,
    });
    t.is(err?.code, ErrorCode.Unavailable, label);
  };
  await refused('no TLS, no password', undefined);
  await refused('TLS without a client certificate', { tlsCa: certs.ca, user: 'app', passwordFile: appPassword });
  await refused('a wrong password', { ...tls, user: 'app', passwordFile: wrongPassword });
  // A missing secret file is a setting error, named, before any connection is tried.
  const missing = await t.throwsAsync(WharfClient.connect({ servers: nats.url, cluster, auth: { ...tls, user: 'app', passwordFile: join(dir, 'nope') } }), {
    instanceOf: WharfError,
  });
  t.is(missing?.code, ErrorCode.InvalidParameter);
  t.regex(missing?.message ?? '', /cannot read the NATS password file .*nope/);

  // The CLI takes the same settings as flags (or the node's WHARF_NATS_* variables).
  const wharf = (...args: string[]) =>
    new Promise<Run>((resolve) => {
      const argv = ['--import', 'tsx', 'src/cli/main.ts', ...args, '--server', nats.url, '--cluster', cluster];
      execFile(process.execPath, argv, { cwd: ROOT, timeout: 60_000 }, (err, stdout, stderr) => {
        resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
      });
    });
  const flags = ['--tls-ca', certs.ca, '--tls-cert', certs.clientCert, '--tls-key', certs.clientKey, '--user', 'app'];
  const listed = await wharf('queue', 'list', ...flags, '--password-file', appPassword);
  t.is(listed.code, 0, listed.stderr);
  t.regex(listed.stdout, /^secure$/m);
  const denied = await wharf('queue', 'list', ...flags, '--password-file', wrongPassword);
  t.is(denied.code, 3, denied.stderr);
  t.regex(denied.stderr, /^error unavailable: cannot connect to NATS/m);
});
