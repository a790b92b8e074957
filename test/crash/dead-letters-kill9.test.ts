/**
 * Dead letters under SIGKILL: a node running as a child process is killed while it moves marked
 * messages to a DLQ, and while a redrive moves them back; restarted on the same data, it finishes
 * the work. Every message must end up exactly once where it belongs: nothing lost, nothing doubled
 * (both moves store with deterministic deduplication ids; the restart comes well within their
 * 5-minute window, the one limit docs/api.md states).
 */
import { randomBytes } from 'node:crypto';
import test, { type ExecutionContext } from 'ava';
import { WharfClient } from '../../src/client/client.ts';
import type { MessageMoveTask } from '../../src/protocol/messages.ts';
import { eventually } from '../helpers/eventually.ts';
import { startNats } from '../helpers/nats-server.ts';
import { startNodeProcess, type NodeProcessHandle } from '../helpers/node-process.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const MESSAGES = 300;

async function start(t: ExecutionContext): Promise<{ node: NodeProcessHandle; client: WharfClient }> {
  const nats = await startNats(t);
  const dataDir = await tempDir(t, 'wharf-data-');
  const cluster = `d${randomBytes(4).toString('hex')}`;
  const node = await startNodeProcess(t, { cluster, natsUrl: nats.url, dataDir });
  const client = await WharfClient.connect({ servers: nats.url, cluster, timeoutMs: 5000, maxAttempts: 10 });
  t.teardown(() => client.close());
  return { node, client };
}

/** Every body in `queue`, received until it is empty (leases long enough to hold them all). */
async function drain(client: WharfClient, queue: string): Promise<string[]> {
  const out: string[] = [];
  for (;;) {
    const got = await client.receive(queue, { maxMessages: 100, visibilityTimeout: 600 });
    if (got.length === 0) return out;
    out.push(...got.map((m) => Buffer.from(m.body).toString()));
  }
}

async function visibleIn(client: WharfClient, queue: string): Promise<number> {
  const c = (await client.getQueueAttributes(queue)).counts;
  return c.approximateNumberOfMessages + c.approximateNumberOfMessagesNotVisible + c.approximateNumberOfMessagesDelayed;
}

/** `MESSAGES` numbered messages in `source`, each received once and released: the next receive dead-letters it. */
async function poisoned(client: WharfClient): Promise<string[]> {
  await client.createQueue('dlq');
  await client.createQueue('source', { partitions: 2, redrivePolicy: { deadLetterQueue: 'dlq', maxReceiveCount: 1 } });
  const sent = Array.from({ length: MESSAGES }, (_, i) => String(i));
  for (let i = 0; i < MESSAGES; i += 100) {
    await client.sendMessageBatch('source', sent.slice(i, i + 100).map((body) => ({ id: `e${body}`, body: new TextEncoder().encode(body), deduplicationId: `s${body}` })));
  }
  let received = 0;
  while (received < MESSAGES) received += (await client.receive('source', { maxMessages: 100, visibilityTimeout: 0 })).length;
  return sent;
}

test('a kill -9 while messages are being dead-lettered loses none and doubles none', async (t) => {
  const { node, client } = await start(t);
  const sent = await poisoned(client);
  // Receives now mark them; the node moves marks to the DLQ in rounds. Kill it once the first arrive.
  await eventually(async () => {
    await client.receive('source', { maxMessages: 100 });
    return (await visibleIn(client, 'dlq')) > 0;
  }, { message: 'the first dead letters' });
  node.kill('SIGKILL');
  await node.exited;
  await node.restart();
  await eventually(async () => {
    await client.receive('source', { maxMessages: 100 });
    return (await visibleIn(client, 'source')) === 0 && (await visibleIn(client, 'dlq')) === MESSAGES;
  }, { timeoutMs: 60_000, message: 'every message dead-lettered' });
  const dead = await drain(client, 'dlq');
  t.is(dead.length, MESSAGES, 'no duplicates');
  t.deepEqual([...new Set(dead)].sort(), [...sent].sort(), 'none lost');
  t.is((await client.getQueueAttributes('source')).counts.approximateNumberOfMessagesDeadLettered, MESSAGES);
});

test('a kill -9 during a redrive: the task resumes after the restart and moves every message exactly once', async (t) => {
  const { node, client } = await start(t);
  const sent = await poisoned(client);
  await eventually(async () => {
    await client.receive('source', { maxMessages: 100 });
    return (await visibleIn(client, 'dlq')) === MESSAGES;
  }, { timeoutMs: 30_000, message: 'every message dead-lettered' });
  await client.createQueue('restored');
  const taskId = await client.startMessageMoveTask('dlq', { destinationQueue: 'restored', maxMessagesPerSecond: 100 });
  const task = async (): Promise<MessageMoveTask | undefined> => (await client.listMessageMoveTasks('dlq')).find((x) => x.taskId === taskId);
  await eventually(async () => ((await task())?.moved ?? 0) > 0, { message: 'the redrive under way' });
  node.kill('SIGKILL');
  await node.exited;
  await node.restart();
  // Messages the killed step had leased come back after their 30 s lease: the task waits for them.
  const done = await eventually(async () => {
    const x = await task();
    return x?.status === 'completed' && x;
  }, { timeoutMs: 90_000, intervalMs: 200, message: 'the redrive completed' });
  const restored = await drain(client, 'restored');
  t.is(restored.length, MESSAGES, 'no duplicates');
  t.deepEqual([...new Set(restored)].sort(), [...sent].sort(), 'none lost');
  t.is(await visibleIn(client, 'dlq'), 0);
  t.true(done.moved <= MESSAGES, `reported ${done.moved} moved`);
});
