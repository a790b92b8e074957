/**
 * PeekMessages (docs/api.md, "Peek") against a real node: every state with what it says (lease owner
 * and deadline, due time, receive count), that looking changes nothing, paging with the cursor over
 * several partitions, the filters, refused input, and `wharf peek`.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { ErrorCode } from '../../src/errors.ts';
import type { PeekedMessage } from '../../src/protocol/messages.ts';
import { counts, failsWith, text } from '../helpers/queue-assertions.ts';
import { startWharf } from '../helpers/wharf.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

test('peek shows ready, in-flight (owner, deadline) and delayed (due) messages and changes nothing', async (t) => {
  const { client, newClient } = await startWharf(t);
  await client.createQueue('q', { visibilityTimeout: 300 });
  const ready = await client.sendMessage('q', 'ready', { attributes: { kind: { type: 'string', value: 'r' } } });
  const delayed = await client.sendMessage('q', 'later', { delaySeconds: 600 });
  const taken = await client.sendMessage('q', 'taken');
  const worker = await newClient({ consumer: 'worker-1' });
  // Receive both visible messages, then hand `ready` back (its lease ends now): ready, received once.
  const got = await worker.receive('q', { maxMessages: 2 });
  t.is(got.length, 2);
  const keep = got.find((m) => m.messageId === taken.messageId);
  const back = got.find((m) => m.messageId === ready.messageId);
  await worker.changeMessageVisibility('q', back?.receiptHandle ?? '', 0);

  const before = Date.now();
  const page = await client.peek('q', { body: true });
  t.is(page.cursor, undefined, 'one page holds the queue');
  const byId = new Map(page.messages.map((m) => [m.messageId, m]));
  const r = byId.get(ready.messageId) as PeekedMessage;
  t.like(r, { state: 'ready', receiveCount: 1, partition: 0 });
  t.deepEqual(r.attributes, { kind: { type: 'string', value: 'r' } });
  t.is(text(r.body ?? new Uint8Array()), 'ready');
  const f = byId.get(taken.messageId) as PeekedMessage;
  t.like(f, { state: 'inflight', receiveCount: 1, leaseOwner: 'worker-1' });
  t.true((f.leaseUntil ?? 0) > before + 200_000, 'the lease deadline is about 300 s ahead');
  const d = byId.get(delayed.messageId) as PeekedMessage;
  t.like(d, { state: 'delayed', receiveCount: 0 });
  t.true((d.delayedUntil ?? 0) >= d.sentAt + 600_000);

  // Looking leased nothing and counted nothing.
  // The age of the oldest message moves with time: like, not deepEqual.
  t.like((await client.getQueueAttributes('q')).counts, counts(1, 1, 1));
  const [again] = await client.receive('q');
  t.is(again?.messageId, ready.messageId);
  t.is(again?.receiveCount, 2, 'the receive count went up by the receives only');
  await worker.deleteMessage('q', keep?.receiptHandle ?? '');
});

test('peek pages through every partition with its cursor, and filters', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('q', { partitions: 3 });
  const sent = new Set<string>();
  for (let i = 0; i < 25; i++) {
    const { messageId } = await client.sendMessage('q', `m${i}`, { attributes: { parity: { type: 'string', value: i % 2 === 0 ? 'even' : 'odd' } } });
    sent.add(messageId);
  }
  const seen: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await client.peek('q', { limit: 10, ...(cursor === undefined ? {} : { cursor }) });
    t.true(page.messages.length <= 10);
    seen.push(...page.messages.map((m) => m.messageId));
    cursor = page.cursor;
    pages++;
  } while (cursor !== undefined && pages < 20);
  t.is(cursor, undefined, 'the last page has no cursor');
  t.is(seen.length, 25, 'every message once');
  t.deepEqual([...seen].sort(), [...sent].sort());

  const odd = await client.peek('q', { limit: 100, attribute: { name: 'parity', value: 'odd' } });
  t.is(odd.messages.length, 12);
  const one = [...sent][7] as string;
  const byId = await client.peek('q', { messageId: one });
  t.deepEqual(byId.messages.map((m) => m.messageId), [one]);
  const onlyPartition = await client.peek('q', { partition: 1, limit: 100 });
  t.true(onlyPartition.messages.every((m) => m.partition === 1));
  t.is((await client.peek('q', { states: ['inflight', 'delayed'] })).messages.length, 0);
});

test('peek refuses a foreign cursor, a partition the queue lacks and an unknown queue', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('q', { partitions: 2 });
  await failsWith(t, client.peek('q', { cursor: 'not-a-cursor' }), ErrorCode.InvalidParameter);
  await failsWith(t, client.peek('q', { cursor: Buffer.from(JSON.stringify([1, 1, 0, 'm', 0])).toString('base64url') }), ErrorCode.InvalidParameter);
  await failsWith(t, client.peek('q', { partition: 2 }), ErrorCode.InvalidParameter);
  await failsWith(t, client.peek('q', { limit: 101 }), ErrorCode.InvalidParameter);
  await failsWith(t, client.peek('nope'), ErrorCode.QueueNotFound);
});

test('wharf peek prints a page, its states and the lease owner', async (t) => {
  const f = await startWharf(t);
  await f.client.createQueue('q');
  await f.client.sendMessage('q', 'one');
  await f.client.sendMessage('q', 'two');
  const [held] = await f.client.receive('q', { consumer: 'cli-test-owner' });
  const { code, stdout } = await cli(['peek', 'q', '--state', 'inflight', '--json', '--server', f.nats.url, '--cluster', f.cluster]);
  t.is(code, 0);
  const doc = JSON.parse(stdout) as { messages: Array<{ messageId: string; state: string; leaseOwner?: string }> };
  t.deepEqual(doc.messages.map((m) => [m.messageId, m.state, m.leaseOwner]), [[held?.messageId, 'inflight', 'cli-test-owner']]);
  const human = await cli(['peek', 'q', '--limit', '1', '--server', f.nats.url, '--cluster', f.cluster]);
  t.is(human.code, 0);
  t.regex(human.stdout, /state\s+inflight/);
  t.regex(human.stdout, /cursor \S+/, 'a page that did not reach the end prints the next cursor');
});

function cli(args: readonly string[]): Promise<{ code: number | null; stdout: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout }));
  });
}
