/**
 * Per-message delays on FIFO queues, end to end with a real nats-server and RocksDB: a delayed
 * message keeps its place in its group (the group's later messages wait for it), other groups
 * proceed, peek shows it delayed, the counts say delayed, and it survives a restart and a failover.
 */
import test from 'ava';
import type { WharfClient } from '../../src/client/client.ts';
import type { ReceivedMessage } from '../../src/protocol/messages.ts';
import { startWharfCluster } from '../helpers/cluster.ts';
import { eventually } from '../helpers/eventually.ts';
import { OffsetClock } from '../helpers/clock.ts';
import { startWharf } from '../helpers/wharf.ts';

const text = (m: ReceivedMessage) => new TextDecoder().decode(m.body);

/** Receives (long polls) and deletes one message at a time until `n` arrived; bodies with the time each arrived. */
async function takeInOrder(client: WharfClient, queue: string, n: number): Promise<Array<{ body: string; at: number }>> {
  const out: Array<{ body: string; at: number }> = [];
  await eventually(
    async () => {
      const [m] = await client.receive(queue, { maxMessages: 1, waitTimeSeconds: 1 });
      if (m !== undefined) {
        out.push({ body: text(m), at: Date.now() });
        await client.deleteMessage(queue, m.receiptHandle);
      }
      return out.length >= n ? true : undefined;
    },
    { timeoutMs: 60_000, message: `${n} messages of ${queue}` },
  );
  return out;
}

test('a delayed FIFO message holds its group until it is due and handled, other groups proceed, and it survives a restart', async (t) => {
  t.timeout(90_000);
  const clock = new OffsetClock();
  const fixture = await startWharf(t, { clock });
  const { client } = fixture;
  await client.createQueue('orders', { fifo: true });
  await client.sendMessage('orders', 'g-0', { messageGroupId: 'g', delaySeconds: 60 });
  await client.sendMessage('orders', 'g-1', { messageGroupId: 'g' });
  await client.sendMessage('orders', 'h-0', { messageGroupId: 'h' });

  const peeked = await client.peek('orders', { states: ['delayed'] });
  t.deepEqual(peeked.messages.map((m) => [m.state, m.messageGroupId]), [['delayed', 'g']]);
  t.like((await client.getQueueAttributes('orders')).counts, { approximateNumberOfMessages: 2, approximateNumberOfMessagesDelayed: 1 });
  const [h] = await client.receive('orders', { maxMessages: 10, visibilityTimeout: 600 });
  t.is(h && text(h), 'h-0', 'the other group is not held by g\'s delay');
  t.deepEqual(await client.receive('orders', { maxMessages: 10 }), [], 'g waits for its delayed first message');

  await fixture.restart();
  t.deepEqual(await client.receive('orders', { maxMessages: 10 }), [], 'still waiting after the restart');
  clock.advance(61_000);
  const got = await takeInOrder(client, 'orders', 2);
  t.deepEqual(got.map((m) => m.body), ['g-0', 'g-1'], 'g\'s later message waited for the delayed one');
});

test('three nodes: a FIFO message delayed in its group survives a failover with its place and due time', async (t) => {
  t.timeout(120_000);
  const cluster = await startWharfCluster(t, { nodes: 3 });
  const client = await cluster.connect();
  await eventually(() => client.createQueue('orders', { fifo: true }).then(() => true), { timeoutMs: 30_000, message: 'the queue is created' });
  const sentAt = Date.now();
  await client.sendMessage('orders', 'g-0', { messageGroupId: 'g', delaySeconds: 4 });
  await client.sendMessage('orders', 'g-1', { messageGroupId: 'g' });
  await cluster.waitForReplicasInSync('orders');
  const victim = (await cluster.primaryOf('orders', 0)) as string;
  await cluster.node(victim).kill();
  await cluster.waitForPrimary('orders', 0, { not: victim, timeoutMs: 60_000 });
  const got = await takeInOrder(client, 'orders', 2);
  t.deepEqual(got.map((m) => m.body), ['g-0', 'g-1']);
  t.true((got[0]?.at ?? 0) >= sentAt + 4000, 'the new primary kept the due time');
});
