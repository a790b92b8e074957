/**
 * Deduplication windows and FIFO order survive SIGKILL: producers send numbered messages of their
 * message group one after another, each with its own deduplication id, and the node (a child
 * process) is killed while sends are under way. After the restart every producer sends again, with
 * the same ids, everything from its first message on (the acknowledged ones and the one whose outcome
 * the kill made unknown), then more. Then:
 *
 *   - every acknowledged send repeated answers its first message id (the ids were durable);
 *   - the drain delivers each group's messages exactly once, in send order (a repeat stored nothing,
 *     and a send of unknown outcome is stored at most once, in its place).
 */
import { randomBytes } from 'node:crypto';
import test from 'ava';
import { WharfClient } from '../../src/client/client.ts';
import type { ReceivedMessage } from '../../src/protocol/messages.ts';
import { eventually } from '../helpers/eventually.ts';
import { startNats } from '../helpers/nats-server.ts';
import { startNodeProcess } from '../helpers/node-process.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const QUEUE = 'ledger';
const GROUPS = 8;
/** Acknowledged sends before the kill. */
const BEFORE_KILL = 400;
const AFTER_RESTART = 5;

interface Producer {
  group: string;
  /** Message ids of the acknowledged sends, by number. */
  acked: string[];
  /** The number whose send the kill interrupted (outcome unknown), if any. */
  unknown: number | undefined;
  running: boolean;
}

const body = (group: string, n: number) => `${group}:${n}`;
const dedupId = (group: string, n: number) => `${group}-${n}`;

async function produce(client: WharfClient, p: Producer, stop: () => boolean): Promise<void> {
  p.running = true;
  try {
    for (let n = p.acked.length; !stop(); n++) {
      try {
        const { messageId } = await client.sendMessage(QUEUE, body(p.group, n), { messageGroupId: p.group, deduplicationId: dedupId(p.group, n) });
        p.acked.push(messageId);
      } catch {
        // Its outcome is unknown: the group's order is only defined if nothing later is sent before it is settled.
        p.unknown = n;
        return;
      }
    }
  } finally {
    p.running = false;
  }
}

test('deduplication ids and group order survive SIGKILL of the node', async (t) => {
  t.timeout(90_000);
  const nats = await startNats(t);
  const dataDir = await tempDir(t, 'wharf-data-');
  const cluster = `f${randomBytes(4).toString('hex')}`;
  const node = await startNodeProcess(t, { cluster, natsUrl: nats.url, dataDir });
  const client = await WharfClient.connect({ servers: nats.url, cluster, maxAttempts: 1, timeoutMs: 3_000 });
  t.teardown(() => client.close());
  await client.createQueue(QUEUE, { fifo: true, partitions: 2, deduplicationScope: 'messageGroup', deduplicationWindow: 3600 });

  const producers: Producer[] = Array.from({ length: GROUPS }, (_, g) => ({ group: `g${g}`, acked: [], unknown: undefined, running: false }));
  let stopped = false;
  const running = producers.map((p) => produce(client, p, () => stopped));
  const acked = () => producers.reduce((n, p) => n + p.acked.length, 0);
  await eventually(() => acked() >= BEFORE_KILL, { timeoutMs: 30_000, message: `${BEFORE_KILL} acknowledged sends` });
  node.kill('SIGKILL');
  t.is((await node.exited).signal, 'SIGKILL');
  stopped = true;
  await Promise.all(running);
  t.log(`killed after ${acked()} acknowledged sends; ${producers.filter((p) => p.unknown !== undefined).length} sends of unknown outcome`);

  await node.restart();
  await eventually(() => client.getQueueAttributes(QUEUE).then(() => true), { timeoutMs: 15_000, intervalMs: 50, message: 'the restarted node serves' });

  for (const p of producers) {
    // The same ids again: acknowledged ones answer their first message id.
    for (const [n, first] of p.acked.entries()) {
      const again = await client.sendMessage(QUEUE, body(p.group, n), { messageGroupId: p.group, deduplicationId: dedupId(p.group, n) });
      t.is(again.messageId, first, `${p.group} ${n}`);
    }
    for (let n = p.acked.length; n < p.acked.length + (p.unknown === undefined ? 0 : 1) + AFTER_RESTART; n++) {
      await client.sendMessage(QUEUE, body(p.group, n), { messageGroupId: p.group, deduplicationId: dedupId(p.group, n) });
    }
  }
  const expected = new Map(producers.map((p) => [p.group, p.acked.length + (p.unknown === undefined ? 0 : 1) + AFTER_RESTART]));

  const seen = new Map<string, number[]>();
  const total = [...expected.values()].reduce((a, b) => a + b, 0);
  let delivered = 0;
  await eventually(
    async () => {
      const batch: ReceivedMessage[] = await client.receive(QUEUE, { maxMessages: 100, visibilityTimeout: 60 });
      for (const m of batch) {
        const [group, n] = new TextDecoder().decode(m.body).split(':') as [string, string];
        seen.set(group, [...(seen.get(group) ?? []), Number(n)]);
      }
      delivered += batch.length;
      if (batch.length > 0) await client.deleteMessageBatch(QUEUE, batch.map((m, i) => ({ id: String(i), receiptHandle: m.receiptHandle })));
      return delivered >= total;
    },
    { timeoutMs: 30_000, message: `${total} messages drained` },
  );
  for (const [group, count] of expected) t.deepEqual(seen.get(group), Array.from({ length: count }, (_, n) => n), group);
  t.deepEqual(await client.receive(QUEUE, { maxMessages: 10 }), [], 'nothing more');
});
