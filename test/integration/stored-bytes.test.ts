/**
 * maxStoredBytes through the SDK against a real node: sends past the limit fail with queue_full
 * naming the limit, GetQueueAttributes reports the bytes held, a delete makes room, and a batch
 * fails per entry without storing the refused ones.
 */
import test from 'ava';
import { ErrorCode, WharfError } from '../../src/errors.ts';
import { eventually } from '../helpers/eventually.ts';
import { startWharf } from '../helpers/wharf.ts';
import { failsWith, receiveSome, text } from '../helpers/queue-assertions.ts';

const KIB = 1024;
const body = (fill: string) => fill.repeat(KIB);

test('sends past maxStoredBytes fail with queue_full; a delete makes room; counts show the bytes held', async (t) => {
  const { client } = await startWharf(t, {}, { maxAttempts: 1 });
  await client.createQueue('bounded', { maxStoredBytes: 3 * KIB });
  for (const fill of ['a', 'b', 'c']) await client.sendMessage('bounded', body(fill));
  t.is((await client.getQueueAttributes('bounded')).counts.approximateStoredBytes, 3 * KIB);

  const refused = await client.sendMessage('bounded', 'd').catch((err: unknown) => err);
  t.true(refused instanceof WharfError && refused.code === ErrorCode.QueueFull, String(refused));
  t.regex((refused as Error).message, /bounded holds its maxStoredBytes of 3072 bytes/);
  t.like((await client.getQueueAttributes('bounded')).counts, { approximateNumberOfMessages: 3, approximateStoredBytes: 3 * KIB });

  const [first] = await receiveSome(client, 'bounded');
  t.is((await client.getQueueAttributes('bounded')).counts.approximateStoredBytes, 3 * KIB, 'in flight still counts');
  await client.deleteMessage('bounded', first?.receiptHandle ?? '');
  t.is((await client.getQueueAttributes('bounded')).counts.approximateStoredBytes, 2 * KIB);
  await client.sendMessage('bounded', body('d'));
  await failsWith(t, client.sendMessage('bounded', 'e'), ErrorCode.QueueFull, 'full again');
});

test('a batch past maxStoredBytes fails per entry and stores only the entries that fit', async (t) => {
  const { client } = await startWharf(t, {}, { maxAttempts: 1 });
  await client.createQueue('batched', { maxStoredBytes: 2 * KIB + 100 });
  const entry = (id: string, bytes: number) => ({ id, body: new TextEncoder().encode(id.repeat(bytes)) });
  const result = await client.sendMessageBatch('batched', [entry('a', KIB), entry('b', KIB), entry('c', 200), entry('d', 100)]);
  t.deepEqual(result.successful.map((s) => s.id), ['a', 'b', 'd']);
  t.is(result.failed.length, 1);
  t.like(result.failed[0], { id: 'c', code: ErrorCode.QueueFull });
  t.regex(result.failed[0]?.message ?? '', /maxStoredBytes/);

  t.like((await client.getQueueAttributes('batched')).counts, { approximateNumberOfMessages: 3, approximateStoredBytes: 2 * KIB + 100 });
  const got: string[] = [];
  await eventually(
    async () => {
      for (const m of await client.receive('batched', { maxMessages: 10 })) got.push(text(m.body).slice(0, 1));
      return got.length >= 3;
    },
    { message: 'the stored entries received' },
  );
  t.deepEqual(got.sort(), ['a', 'b', 'd'], 'the refused entry was not stored');
});

test('maxStoredBytes is validated, refused on streams, and 0 lifts it', async (t) => {
  const { client } = await startWharf(t, {}, { maxAttempts: 1 });
  await failsWith(t, client.createQueue('negative', { maxStoredBytes: -1 }), ErrorCode.InvalidAttribute);
  await failsWith(t, client.createQueue('stream', { mode: 'stream', maxStoredBytes: KIB }), ErrorCode.InvalidAttribute);
  await client.createQueue('lifted', { maxStoredBytes: KIB });
  await client.sendMessage('lifted', body('a'));
  await failsWith(t, client.sendMessage('lifted', 'b'), ErrorCode.QueueFull);
  await client.setQueueAttributes('lifted', { maxStoredBytes: 0 });
  await client.sendMessage('lifted', 'b');
  t.is((await client.getQueueAttributes('lifted')).counts.approximateNumberOfMessages, 2);
});
