/**
 * Idempotent sends: a deduplication id makes a repeated send (a retry after a timeout) store
 * nothing new and answer the first send's message id, across partitions and restarts.
 */
import test from 'ava';
import { startWharf } from '../helpers/wharf.ts';
import type { WharfClient } from '../../src/client/client.ts';
import type { ReceivedMessage } from '../../src/protocol/messages.ts';

/** Receives (and deletes) until a receive comes back empty. */
async function drain(client: WharfClient, queue: string): Promise<ReceivedMessage[]> {
  const out: ReceivedMessage[] = [];
  for (;;) {
    const batch = await client.receive(queue, { maxMessages: 10 });
    if (batch.length === 0) return out;
    for (const m of batch) await client.deleteMessage(queue, m.receiptHandle);
    out.push(...batch);
  }
}

test('a send repeated with the same deduplication id stores one message and answers the same message id', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('orders', { partitions: 4 });
  const first = await client.sendMessage('orders', 'a', { deduplicationId: 'order-17' });
  const again = await client.sendMessage('orders', 'a', { deduplicationId: 'order-17' });
  const other = await client.sendMessage('orders', 'b', { deduplicationId: 'order-18' });
  t.is(again.messageId, first.messageId);
  t.not(other.messageId, first.messageId);
  const batch = await client.sendMessageBatch('orders', [
    { id: 'x', body: new TextEncoder().encode('a'), deduplicationId: 'order-17' },
    { id: 'y', body: new TextEncoder().encode('c'), deduplicationId: 'order-19' },
  ]);
  t.is(batch.successful.find((s) => s.id === 'x')?.messageId, first.messageId);
  const bodies = (await drain(client, 'orders')).map((m) => new TextDecoder().decode(m.body)).sort();
  t.deepEqual(bodies, ['a', 'b', 'c']);
});

test('deduplication ids survive a restart of the node', async (t) => {
  const fixture = await startWharf(t);
  await fixture.client.createQueue('orders');
  const first = await fixture.client.sendMessage('orders', 'a', { deduplicationId: 'order-1' });
  await fixture.restart();
  const again = await fixture.client.sendMessage('orders', 'a', { deduplicationId: 'order-1' });
  t.is(again.messageId, first.messageId);
  t.is((await drain(fixture.client, 'orders')).length, 1);
});

test('the SDK gives every message its own deduplication id: equal bodies are distinct messages', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('orders');
  await Promise.all([client.send('orders', 'same'), client.send('orders', 'same')]);
  t.is((await drain(client, 'orders')).length, 2);
});
