/**
 * Stopping the Stately forwarder leaves nothing running: its socket (stately-socket.ts) stops
 * retrying an address it never reached, and `wharf inspect --stately` ends by itself on SIGINT.
 * Retries are observed through a real WebSocket server that refuses to stay connected.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { StatelySocket } from '../../src/inspect/stately-socket.ts';
import { eventually } from '../helpers/eventually.ts';
import { startWharf } from '../helpers/wharf.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** A TCP port nothing listens on: taken, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

interface WsServer {
  on(event: 'connection', fn: (socket: { terminate(): void }) => void): void;
  once(event: 'listening', fn: () => void): void;
  address(): { port: number };
  close(): void;
}
const { WebSocketServer } = createRequire(createRequire(import.meta.url).resolve('@statelyai/inspect'))('ws') as {
  WebSocketServer: new (options: { host: string; port: number }) => WsServer;
};

test('the socket retries a connection that closes, and after stop neither a socket nor a retry is left', async (t) => {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  let connections = 0;
  server.on('connection', (socket) => {
    connections++;
    socket.terminate();
  });
  await new Promise<void>((resolve) => server.once('listening', resolve));
  t.teardown(() => server.close());
  const socket = new StatelySocket(`ws://127.0.0.1:${server.address().port}`, { retryMs: 10 });
  socket.start();
  await eventually(() => connections >= 3, { message: 'three connections' });

  socket.stop();
  t.true(socket.idle);
  const attempts = socket.attempts;
  // Another connection would come within a few retry periods: poll for it, bounded.
  await t.throwsAsync(eventually(() => socket.attempts > attempts, { timeoutMs: 300 }));
  t.true(socket.idle);
});

test('a socket that never reached its address is idle once stopped', async (t) => {
  const socket = new StatelySocket(`ws://127.0.0.1:${await closedPort()}`, { retryMs: 10 });
  socket.start();
  await eventually(() => socket.attempts >= 2, { message: 'a retry' });
  socket.stop();
  t.true(socket.idle);
});

test('wharf inspect --stately with an unreachable address exits by itself on SIGINT', async (t) => {
  const f = await startWharf(t);
  const url = `ws://127.0.0.1:${await closedPort()}`;
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'inspect', '--port', '0', '--stately', url, '--server', f.nats.url, '--cluster', f.cluster],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await eventually(() => stdout.includes('Ctrl-C stops it'), { timeoutMs: 120_000, message: 'the inspector to start' });

  child.kill('SIGINT');
  // Without a clean stop the retry timer keeps the process alive for good: a bounded wait tells.
  const code = await Promise.race([exited, new Promise<'alive'>((resolve) => setTimeout(() => resolve('alive'), 60_000).unref())]);
  t.is(code, 0);
});
