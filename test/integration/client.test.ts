/**
 * The SDK's own behaviour against a real node: client-side batching of send(), and the consumer
 * helper (receive, handle, delete on success, leave failures to come back).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { connect } from '@nats-io/transport-node';
import { ErrorCode } from '../../src/errors.ts';
import type { ReceivedMessage } from '../../src/protocol/messages.ts';
import { subjects } from '../../src/protocol/subjects.ts';
import { clusterName } from '../../src/names.ts';
import { eventually } from '../helpers/eventually.ts';
import { startWharf } from '../helpers/wharf.ts';
import { counts, failsWith, text } from '../helpers/queue-assertions.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

test('send() in a plain loop batches messages into few requests and every message arrives once', async (t) => {
  const { client, nats, cluster } = await startWharf(t);
  await client.createQueue('batched');
  const watcher = await connect({ servers: nats.url });
  t.teardown(() => watcher.close());
  let requests = 0;
  // Counted on both subjects: the SDK sends to the primary's node once it knows it, else to any node.
  const s = subjects(clusterName(cluster));
  for (const subject of [s.api('SendMessageBatch'), s.nodeApi('*', 'SendMessageBatch')]) watcher.subscribe(subject, { callback: () => void requests++ });
  await watcher.flush();

  const sent = await Promise.all(Array.from({ length: 2000 }, (_, i) => client.send('batched', `m${i}`)));
  await client.flush();

  t.is(new Set(sent.map((s) => s.messageId)).size, 2000);
  t.true(requests > 0 && requests < 100, `${requests} requests for 2000 messages`);
  const seen = new Set<string>();
  await eventually(async () => {
    const got = await client.receive('batched', { maxMessages: 1000 });
    for (const m of got) seen.add(text(m.body));
    return seen.size === 2000;
  });
  t.like((await client.getQueueAttributes('batched')).counts, counts(0, 2000, 0));
});

test('send() rejects only the message the queue refuses; the others of its batch are sent', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('small', { maximumMessageSize: 1024 });

  const ok = client.send('small', 'fits');
  const tooLarge = client.send('small', 'x'.repeat(2048));
  const alsoOk = client.send('small', 'fits too');

  await failsWith(t, tooLarge, ErrorCode.MessageTooLarge);
  t.truthy((await ok).messageId);
  t.truthy((await alsoOk).messageId);
  t.like((await client.getQueueAttributes('small')).counts, counts(2, 0, 0));
});

test('consume() deletes what its handler handled and leaves a failed message to come back', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('work', { visibilityTimeout: 1 });
  for (const body of ['a', 'b', 'c']) await client.sendMessage('work', body);
  const attempts: ReceivedMessage[] = [];

  const consumer = client.consume(
    'work',
    (m) => {
      attempts.push(m);
      if (text(m.body) === 'b' && m.receiveCount === 1) throw new Error('not this time');
    },
    { waitTimeSeconds: 1, onError: () => undefined },
  );
  t.teardown(() => consumer.stop());

  await eventually(async () => {
    const c = (await client.getQueueAttributes('work')).counts;
    return c.approximateNumberOfMessages + c.approximateNumberOfMessagesNotVisible === 0;
  }, { message: 'every message handled and deleted' });
  await consumer.stop();
  const b = attempts.filter((m) => text(m.body) === 'b');
  t.deepEqual(b.map((m) => m.receiveCount), [1, 2]);
  t.deepEqual(attempts.filter((m) => text(m.body) !== 'b').map((m) => m.receiveCount), [1, 1]);
});

// A client closed while its connection was reconnecting (the server had just gone away) kept
// reconnecting and pinging: drain() resolved without closing it, and its process never exited.
test('a client closed while its server is away lets its process exit', async (t) => {
  const { nats, cluster } = await startWharf(t);
  const script = [
    "import { WharfClient } from './src/client/client.ts';",
    `const c = await WharfClient.connect({ servers: ${JSON.stringify(nats.url)}, cluster: ${JSON.stringify(cluster)} });`,
    "process.stdout.write('connected\\n');",
    "process.stdin.once('data', async () => { await c.close(); process.stdout.write('closed\\n'); process.stdin.pause(); });",
  ].join('\n');
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
  t.teardown(() => child.kill('SIGKILL'));
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  await eventually(() => out.includes('connected'), { timeoutMs: 30_000, message: 'the client connected' });

  await nats.stop();
  child.stdin.write('close\n');

  await eventually(() => out.includes('closed'), { timeoutMs: 10_000, message: 'close() returned' });
  const code = await Promise.race([exited, new Promise<'running'>((r) => setTimeout(() => r('running'), 10_000).unref())]);
  t.is(code, 0, 'the process exited by itself once the client was closed');
});
