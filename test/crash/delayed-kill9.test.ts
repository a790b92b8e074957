/**
 * Delayed messages survive a kill -9 restart: a node (child process) holds messages delayed by
 * seconds and by days, is killed with SIGKILL right after the sends were acknowledged, and restarts
 * on the same data dir. Every long-delayed message is still delayed with the same due time (peeked
 * before and after), and every short-delayed one becomes receivable once due (polled, bounded).
 */
import { randomBytes } from 'node:crypto';
import test from 'ava';
import { WharfClient } from '../../src/client/client.ts';
import type { PeekedMessage, PeekState } from '../../src/protocol/messages.ts';
import { eventually } from '../helpers/eventually.ts';
import { startNats } from '../helpers/nats-server.ts';
import { startNodeProcess } from '../helpers/node-process.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const QUEUE = 'later';
const SHORT = 200;
const LONG = 300;

/** Every message of the queue in `state`, through all peek pages. */
async function peekAll(client: WharfClient, state: PeekState): Promise<PeekedMessage[]> {
  const out: PeekedMessage[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.peek(QUEUE, { states: [state], limit: 100, ...(cursor === undefined ? {} : { cursor }) });
    out.push(...page.messages);
    cursor = page.cursor;
  } while (cursor !== undefined);
  return out;
}

test('delayed messages survive a kill -9 restart with their due times, and are released once due', async (t) => {
  t.timeout(90_000);
  const nats = await startNats(t);
  const dataDir = await tempDir(t, 'wharf-data-');
  const cluster = `d${randomBytes(4).toString('hex')}`;
  const node = await startNodeProcess(t, { cluster, natsUrl: nats.url, dataDir });
  const client = await WharfClient.connect({ servers: nats.url, cluster });
  t.teardown(() => client.close());
  await client.createQueue(QUEUE, { partitions: 2, retentionPeriod: 14 * 86_400 });

  const short = new Set<string>();
  for (let i = 0; i < SHORT; i += 50) {
    const reply = await client.sendMessageBatch(QUEUE, Array.from({ length: 50 }, (_, k) => ({ id: `s${i + k}`, body: Buffer.from(`s${i + k}`), delaySeconds: 3 })));
    for (const { messageId } of reply.successful) short.add(messageId);
  }
  for (let i = 0; i < LONG; i += 100) {
    await client.sendMessageBatch(QUEUE, Array.from({ length: 100 }, (_, k) => ({ id: `l${i + k}`, body: Buffer.from(`l${i + k}`), delaySeconds: 7 * 86_400 - (i + k) })));
  }
  t.is(short.size, SHORT, 'every short-delayed send acknowledged');
  const dueBefore = new Map((await peekAll(client, 'delayed')).filter((m) => !short.has(m.messageId)).map((m) => [m.messageId, m.delayedUntil]));
  t.is(dueBefore.size, LONG);

  node.kill('SIGKILL');
  t.is((await node.exited).signal, 'SIGKILL');
  await node.restart();

  const received = new Set<string>();
  await eventually(
    async () => {
      for (const m of await client.receive(QUEUE, { maxMessages: 100, waitTimeSeconds: 1 })) {
        t.true(short.has(m.messageId), 'only short-delayed messages come out');
        received.add(m.messageId);
        await client.deleteMessage(QUEUE, m.receiptHandle);
      }
      return received.size === SHORT;
    },
    { timeoutMs: 30_000, intervalMs: 50, message: 'every short-delayed message received after the restart' },
  );
  const dueAfter = new Map((await peekAll(client, 'delayed')).map((m) => [m.messageId, m.delayedUntil]));
  t.deepEqual([...dueAfter].sort(), [...dueBefore].sort(), 'every long-delayed message is still delayed until the same time');
  t.is((await client.getQueueAttributes(QUEUE)).counts.approximateNumberOfMessagesDelayed, LONG);
});
