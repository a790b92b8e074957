/**
 * Message move tasks (redrives) against a real node: back to each message's source or to another
 * queue, progress, the rate limit (as counts per window, never timings), cancel, and resuming after
 * a node restart. Waits are `eventually` polls of the task list.
 */
import test from 'ava';
import type { WharfClient } from '../../src/client/client.ts';
import { ErrorCode } from '../../src/errors.ts';
import type { MessageMoveTask } from '../../src/protocol/messages.ts';
import { eventually } from '../helpers/eventually.ts';
import { startWharf } from '../helpers/wharf.ts';
import { bodies, failsWith, text } from '../helpers/queue-assertions.ts';

/** Fills `dlq` with `n` dead letters of `source` (maxReceiveCount 1, each received once and released). */
async function deadLetters(client: WharfClient, n: number): Promise<string[]> {
  await client.createQueue('dlq');
  await client.createQueue('source', { redrivePolicy: { deadLetterQueue: 'dlq', maxReceiveCount: 1 } });
  const sent = Array.from({ length: n }, (_, i) => `m${i}`);
  await client.sendMessageBatch('source', sent.map((body, i) => ({ id: `e${i}`, body: new TextEncoder().encode(body), deduplicationId: `d${i}` })));
  const got = await client.receive('source', { maxMessages: n, visibilityTimeout: 0 });
  if (got.length !== n) throw new Error(`received ${got.length} of ${n}`);
  // Every further receive finds them past the limit: they go to the DLQ.
  await eventually(async () => {
    await client.receive('source', { maxMessages: n });
    const c = (await client.getQueueAttributes('dlq')).counts;
    return c.approximateNumberOfMessages === n;
  }, { message: `${n} dead letters` });
  return sent;
}

async function task(client: WharfClient, taskId: string): Promise<MessageMoveTask> {
  const found = (await client.listMessageMoveTasks()).find((x) => x.taskId === taskId);
  if (!found) throw new Error(`no task ${taskId}`);
  return found;
}

async function all(client: WharfClient, queue: string): Promise<string[]> {
  const out: string[] = [];
  for (;;) {
    const got = await client.receive(queue, { maxMessages: 100, visibilityTimeout: 600 });
    if (got.length === 0) return out.sort();
    out.push(...bodies(got));
  }
}

test('a redrive moves every dead letter back to its source queue, reporting progress until completed', async (t) => {
  const { client } = await startWharf(t);
  const sent = await deadLetters(client, 30);
  const taskId = await client.startMessageMoveTask('dlq');
  const done = await eventually(async () => {
    const x = await task(client, taskId);
    return x.status === 'completed' && x;
  }, { message: 'the task completed' });
  t.like(done, { sourceQueue: 'dlq', moved: 30, total: 30, failures: 0 });
  t.deepEqual(await all(client, 'source'), sent.sort());
  t.like((await client.getQueueAttributes('dlq')).counts, { approximateNumberOfMessages: 0, approximateNumberOfMessagesNotVisible: 0 });
});

test('a redrive to another queue moves there; an unknown queue or task is refused with a typed error', async (t) => {
  const { client } = await startWharf(t);
  const sent = await deadLetters(client, 5);
  await client.createQueue('elsewhere');
  await failsWith(t, client.startMessageMoveTask('dlq', { destinationQueue: 'nowhere' }), ErrorCode.QueueNotFound);
  await failsWith(t, client.cancelMessageMoveTask('no-such-task'), ErrorCode.TaskNotFound);
  const taskId = await client.startMessageMoveTask('dlq', { destinationQueue: 'elsewhere' });
  await eventually(async () => (await task(client, taskId)).status === 'completed', { message: 'completed' });
  const moved = await client.receive('elsewhere', { maxMessages: 10 });
  t.deepEqual(bodies(moved).sort(), sent.sort());
  t.true(moved.every((m) => m.deadLetter === undefined), 'a redriven message is a plain message again');
  t.is((await all(client, 'source')).length, 0);
});

test('a rate-limited redrive never reports more moved than its rate allows per started second, and can be cancelled', async (t) => {
  const { client } = await startWharf(t);
  await deadLetters(client, 40);
  await client.createQueue('elsewhere');
  const taskId = await client.startMessageMoveTask('dlq', { destinationQueue: 'elsewhere', maxMessagesPerSecond: 2 });
  // Count-based: whenever we look, moved ≤ rate × (whole seconds since the start + 1).
  const seen = await eventually(async () => {
    const x = await task(client, taskId);
    t.true(x.moved <= 2 * (Math.floor((x.updatedAt - x.startedAt) / 1000) + 1), `moved ${x.moved} by ${x.updatedAt - x.startedAt} ms`);
    return x.moved >= 3 && x;
  }, { message: 'some progress' });
  t.true(seen.moved < 40);
  const cancelling = await client.cancelMessageMoveTask(taskId);
  t.true(cancelling.status === 'cancelling' || cancelling.status === 'cancelled');
  const ended = await eventually(async () => {
    const x = await task(client, taskId);
    return x.status === 'cancelled' && x;
  }, { message: 'cancelled' });
  // Exactly what it reports moved is in the destination; the rest stays in the DLQ.
  const there = await all(client, 'elsewhere');
  t.is(there.length, ended.moved);
  t.is((await client.getQueueAttributes('dlq')).counts.approximateNumberOfMessages + (await client.getQueueAttributes('dlq')).counts.approximateNumberOfMessagesNotVisible, 40 - ended.moved);
  t.true(ended.moved < 40, 'cancelled before the end');
});

test('a redrive resumes after its node restarts and moves every message exactly once', async (t) => {
  const fixture = await startWharf(t);
  const sent = await deadLetters(fixture.client, 12);
  const taskId = await fixture.client.startMessageMoveTask('dlq', { maxMessagesPerSecond: 3 });
  await eventually(async () => (await task(fixture.client, taskId)).moved >= 1, { message: 'some progress' });
  await fixture.restart();
  const done = await eventually(async () => {
    const x = await task(fixture.client, taskId);
    return x.status === 'completed' && x;
  }, { timeoutMs: 30_000, message: 'completed after the restart' }).catch(async (err: unknown) => {
    t.log(await task(fixture.client, taskId), (await fixture.client.getQueueAttributes('dlq')).counts);
    throw err;
  });
  t.is(done.moved, 12);
  const back = await fixture.client.receive('source', { maxMessages: 100, visibilityTimeout: 600 });
  t.deepEqual(back.map((m) => text(m.body)).sort(), sent.sort(), 'each message once');
});
