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
  const fixture = await startWharf(t);
  const { client } = fixture;
  await client.createQueue('orders', { fifo: true });
  const sentAt = Date.now();
  await client.sendMessage('orders', 'g-0', { messageGroupId: 'g', delaySeconds: 3 });
  await client.sendMessage('orders', 'g-1', { messageGroupId: 'g' });
  await client.sendMessage('orders', 'h-0', { messageGroupId: 'h' });

  const peeked = await client.peek('orders', { states: ['delayed'] });
  t.deepEqual(peeked.messages.map((m) => [m.messageId !== '', m.state, m.messageGroupId]), [[true, 'delayed', 'g']]);
  const counts = (await client.getQueueAttributes('orders')).counts;
  t.like(counts, { approximateNumberOfMessagesDelayed: 1 });

  await fixture.restart();
  const got = await takeInOrder(client, 'orders', 3);
  t.is(got[0]?.body, 'h-0', 'the other group is not held by g\'s delay');
  t.deepEqual(got.slice(1).map((m) => m.body), ['g-0', 'g-1'], 'g\'s later message waited for the delayed one');
  t.true((got[1]?.at ?? 0) >= sentAt + 3000, 'the delayed message was not delivered before its delay');
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
