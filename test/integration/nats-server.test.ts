import { access, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { eventually } from '../helpers/eventually.ts';
import { startNats, startNatsServer } from '../helpers/nats-server.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const test = anyTest as TestFn<unknown>;

async function varz(monitoringUrl: string): Promise<Record<string, unknown>> {
  const response = await fetch(`${monitoringUrl}/varz`);
  return (await response.json()) as Record<string, unknown>;
}

async function client(t: ExecutionContext<unknown>, servers: string): Promise<NatsConnection> {
  const nc = await connect({ servers, reconnectTimeWait: 50, maxReconnectAttempts: -1 });
  t.teardown(() => nc.close());
  return nc;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('a server starts on a loopback port chosen by itself and answers a request', async (t) => {
  const nats = await startNats(t);
  const nc = await client(t, nats.url);
  nc.subscribe('echo', {
    callback: (_err, msg) => {
      msg.respond(msg.data);
    },
  });

  const reply = await nc.request('echo', 'hello', { timeout: 2_000 });

  t.is(reply.string(), 'hello');
  t.regex(nats.url, /^nats:\/\/127\.0\.0\.1:\d+$/);
  t.is(nats.url, `nats://127.0.0.1:${nats.port}`);
  t.regex(nats.monitoringUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
});

test('a server runs JetStream in its directory and accepts 8MB payloads', async (t) => {
  const nats = await startNats(t);

  const info = await varz(nats.monitoringUrl);

  t.is(info['max_payload'], 8 * 1024 * 1024);
  const js = info['jetstream'] as { config?: { store_dir?: string } } | undefined;
  t.is(js?.config?.store_dir, join(nats.dir, 'js', 'jetstream'));
  t.true((await stat(join(nats.dir, 'nats-server.log'))).size > 0);
});

test('restart keeps the port and the JetStream store', async (t) => {
  const nats = await startNats(t);
  const before = await connect({ servers: nats.url });
  const jsm = await jetstreamManager(before);
  await jsm.streams.add({ name: 'KEEP', subjects: ['keep.>'] });
  await jetstream(before).publish('keep.a', 'persisted');
  await before.close();
  const firstPid = nats.pid;

  await nats.restart();

  t.not(nats.pid, firstPid);
  t.false(isAlive(firstPid));
  const after = await client(t, nats.url);
  const message = await (await jetstreamManager(after)).streams.getMessage('KEEP', { seq: 1 });
  t.is(message?.string(), 'persisted');
});

test('a client reconnects after the server is killed and restarted', async (t) => {
  const nats = await startNats(t);
  const nc = await client(t, nats.url);
  nc.subscribe('echo', {
    callback: (_err, msg) => {
      msg.respond(msg.data);
    },
  });

  nats.kill('SIGKILL');
  await nats.restart();

  const reply = await eventually(
    async () => (await nc.request('echo', 'again', { timeout: 500 })).string(),
    { message: 'a reply after restart' },
  );
  t.is(reply, 'again');
});

test('stop ends the process, is idempotent and keeps the directory', async (t) => {
  const nats = await startNats(t);
  const pid = nats.pid;

  await nats.stop();
  await nats.stop();

  t.false(isAlive(pid));
  await t.throwsAsync(connect({ servers: nats.url, reconnect: false, timeout: 500 }));
  await t.notThrowsAsync(access(nats.dir));
});

test('extra arguments and a config file reach the server', async (t) => {
  const dir = await tempDir(t, 'wharf-conf-');
  const configFile = join(dir, 'extra.conf');
  await writeFile(configFile, 'server_name: "from-config"\n');

  const nats = await startNats(t, { configFile, args: ['--auth', 's3cret'] });

  const info = await varz(nats.monitoringUrl);
  t.is(info['server_name'], 'from-config');
  t.is(info['auth_required'], true);
  t.is(info['max_payload'], 8 * 1024 * 1024);
  const nc = await connect({ servers: nats.url, token: 's3cret' });
  t.teardown(() => nc.close());
  await t.throwsAsync(connect({ servers: nats.url, reconnect: false }));
});

test('a missing binary gives an error that says how to install it', async (t) => {
  const error = await t.throwsAsync(startNatsServer({ bin: '/nonexistent/nats-server' }));

  t.regex(error?.message ?? '', /npm run setup/);
  t.regex(error?.message ?? '', /apt-get install nats-server/);
});

test('a server that exits at start reports its stderr', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'wharf-nats-bad-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));

  const error = await t.throwsAsync(startNatsServer({ dir, args: ['--no-such-flag'] }));

  t.regex(error?.message ?? '', /exited early/);
  t.regex(error?.message ?? '', /no-such-flag/);
});

test('a temp dir is removed after a passing test', async (t) => {
  let dir = '';
  await t.try(async (tt) => {
    dir = await tempDir(tt, 'wharf-temp-');
    tt.pass();
  }).then((result) => result.commit());

  await t.throwsAsync(access(dir));
});
