/**
 * PeekMessages on a stream (docs/api.md, "Peek"), against a real node: messages by offset in state
 * `stored`, from an offset of a partition, paged with the cursor, with the consumer groups'
 * committed offsets; the options that make no sense on a stream (or a queue) are refused; `wharf peek`.
 */
import test from 'ava';
import { ErrorCode } from '../../src/errors.ts';
import { failsWith, text } from '../helpers/queue-assertions.ts';
import { cliOf } from '../helpers/cli.ts';
import { startWharf } from '../helpers/wharf.ts';

test('peek on a stream browses by offset, from an offset, with the committed offsets of its groups, and consumes nothing', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('events', { mode: 'stream' });
  for (const body of ['e0', 'e1', 'e2', 'e3', 'e4']) await client.sendMessage('events', body);
  await client.request('CommitOffsets', { queue: 'events', group: 'billing', offsets: [{ partition: 0, offset: 3 }] });
  await client.request('CommitOffsets', { queue: 'events', group: 'audit', offsets: [{ partition: 0, offset: 1 }] });

  const all = await client.peek('events', { body: true });
  t.deepEqual(all.messages.map((m) => [m.offset, m.state, text(m.body ?? new Uint8Array())]), [
    [0, 'stored', 'e0'],
    [1, 'stored', 'e1'],
    [2, 'stored', 'e2'],
    [3, 'stored', 'e3'],
    [4, 'stored', 'e4'],
  ]);
  t.is(all.cursor, undefined);
  t.deepEqual(
    [...(all.committed ?? [])].sort((a, b) => a.group.localeCompare(b.group)),
    [
      { partition: 0, group: 'audit', offset: 1 },
      { partition: 0, group: 'billing', offset: 3 },
    ],
  );

  const from = await client.peek('events', { partition: 0, offset: 3, limit: 1 });
  t.deepEqual(from.messages.map((m) => m.offset), [3]);
  t.truthy(from.cursor, 'a page that stopped at its limit gives a cursor');
  const next = await client.peek('events', { cursor: from.cursor as string });
  t.deepEqual(next.messages.map((m) => m.offset), [4]);
  t.is(next.cursor, undefined);

  // Looking consumed nothing: a read from the start still finds all five.
  const { messages } = await client.request('ReadStream', { queue: 'events', partition: 0, offset: 0, maxMessages: 10 });
  t.is(messages.length, 5);
});

test('peek refuses states on a stream, and offset on a queue, without a partition or with a cursor', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('events', { mode: 'stream', partitions: 2 });
  await client.createQueue('work');
  await failsWith(t, client.peek('events', { states: ['ready'] }), ErrorCode.InvalidParameter);
  await failsWith(t, client.peek('work', { partition: 0, offset: 1 }), ErrorCode.InvalidParameter);
  await failsWith(t, client.peek('events', { offset: 1 }), ErrorCode.InvalidParameter);
  const page = await client.peek('events', { limit: 1 });
  t.deepEqual(page.messages, []);
  t.deepEqual(page.committed, []);
});

test('wharf peek prints a stream page with offsets and committed offsets', async (t) => {
  const f = await startWharf(t);
  await f.client.createQueue('events', { mode: 'stream' });
  for (const body of ['e0', 'e1', 'e2']) await f.client.sendMessage('events', body);
  await f.client.request('CommitOffsets', { queue: 'events', group: 'billing', offsets: [{ partition: 0, offset: 2 }] });
  const { code, stdout } = await cliOf(f, ['peek', 'events', '--partition', '0', '--offset', '1']);
  t.is(code, 0);
  t.regex(stdout, /offset\s+1/);
  t.regex(stdout, /offset\s+2/);
  t.notRegex(stdout, /offset\s+0\n/);
  t.regex(stdout, /committed billing partition 0 offset 2/);
  const json = await cliOf(f, ['peek', 'events', '--json']);
  const doc = JSON.parse(json.stdout) as { messages: Array<{ offset: number; state: string }>; committed: Array<{ group: string; offset: number }> };
  t.deepEqual(doc.messages.map((m) => [m.offset, m.state]), [[0, 'stored'], [1, 'stored'], [2, 'stored']]);
  t.deepEqual(doc.committed.map((c) => [c.group, c.offset]), [['billing', 2]]);
});
