/**
 * FIFO queues end to end, with a real nats-server and RocksDB: message groups delivered in order
 * while other groups proceed, the checks on messageGroupId, deduplication by id or content in the
 * queue's scope, and deduplication ids that survive a restart.
 */
import test from 'ava';
import type { WharfClient } from '../../src/client/client.ts';
import { ErrorCode, WharfError } from '../../src/errors.ts';
import type { ReceivedMessage } from '../../src/protocol/messages.ts';
import { startWharfCluster } from '../helpers/cluster.ts';
import { eventually } from '../helpers/eventually.ts';
import { startWharf } from '../helpers/wharf.ts';

const text = (m: ReceivedMessage) => new TextDecoder().decode(m.body);

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'no error';
  } catch (err) {
    return err instanceof WharfError ? err.code : `not a WharfError: ${String(err)}`;
  }
}

/** Receives and deletes until a receive comes back empty; the bodies in delivery order. */
async function drain(client: WharfClient, queue: string): Promise<ReceivedMessage[]> {
  const out: ReceivedMessage[] = [];
  for (;;) {
    const batch = await client.receive(queue, { maxMessages: 10 });
    if (batch.length === 0) return out;
    await client.deleteMessageBatch(queue, batch.map((m, i) => ({ id: String(i), receiptHandle: m.receiptHandle })));
    out.push(...batch);
  }
}

test('messageGroupId is required on a FIFO queue and refused on a standard one; a FIFO queue with partitions needs scope messageGroup', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('plain');
  await client.createQueue('ordered', { fifo: true });
  t.is(await codeOf(client.sendMessage('ordered', 'x')), ErrorCode.InvalidParameter);
  t.is(await codeOf(client.sendMessage('plain', 'x', { messageGroupId: 'g' })), ErrorCode.InvalidParameter);
  t.is(await codeOf(client.sendMessage('ordered', 'x', { messageGroupId: 'with space' })), ErrorCode.InvalidParameter);
  t.is(await codeOf(client.createQueue('wide', { fifo: true, partitions: 4 })), ErrorCode.InvalidAttribute);
  t.is(await codeOf(client.createQueue('plain2', { deduplicationScope: 'messageGroup' })), ErrorCode.InvalidAttribute);
  t.is(await codeOf(client.setQueueAttributes('ordered', { fifo: false } as never)), ErrorCode.InvalidAttribute);
  // A batch: the bad entry fails alone, the others are stored.
  const batch = await client.sendMessageBatch('ordered', [
    { id: 'a', body: new TextEncoder().encode('a'), messageGroupId: 'g' },
    { id: 'b', body: new TextEncoder().encode('b') },
  ]);
  t.deepEqual(batch.successful.map((s) => s.id), ['a']);
  t.deepEqual(batch.failed.map((f) => [f.id, f.code, f.senderFault]), [['b', ErrorCode.InvalidParameter, true]]);
  const description = await client.getQueueAttributes('ordered');
  t.true(description.attributes.fifo);
  t.is(description.attributes.deduplicationWindow, 300);
});

test('a group is held while its message is in flight; other groups proceed; every group arrives in send order', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('orders', { fifo: true, partitions: 3, deduplicationScope: 'messageGroup' });
  const groups = ['alice', 'bob', 'carol', 'dave'];
  // Interleaved sends through the batching send(): each group's order must hold across batches.
  for (let i = 0; i < 40; i++) for (const g of groups) void client.send('orders', `${g}-${i}`, { messageGroupId: g });
  await client.flush();

  const first = await client.receive('orders', { maxMessages: 1 });
  const held = first[0]?.messageGroupId;
  t.true(held !== undefined && groups.includes(held));
  t.is(first[0] && text(first[0]), `${held}-0`);
  // While it is in flight, no receive returns anything of its group.
  const others: ReceivedMessage[] = [];
  for (let i = 0; i < 20; i++) others.push(...(await client.receive('orders', { maxMessages: 10, visibilityTimeout: 600 })));
  t.false(others.some((m) => m.messageGroupId === held));
  t.deepEqual(new Set(others.map((m) => m.messageGroupId)), new Set(groups.filter((g) => g !== held)));
  // Each group's run in one receive is its next messages, in order.
  for (const g of groups.filter((x) => x !== held)) {
    const mine = others.filter((m) => m.messageGroupId === g).map(text);
    t.deepEqual(mine, mine.map((_, i) => `${g}-${i}`));
  }
  // Failing the held message (visibility 0) delivers it again, first of its group.
  await client.changeMessageVisibility('orders', (first[0] as ReceivedMessage).receiptHandle, 0);
  const again = await eventually(async () => {
    const got = await client.receive('orders', { maxMessages: 10 });
    return got.length > 0 ? got : undefined;
  }, { message: 'the failed message delivered again' });
  t.is(again[0]?.messageId, first[0]?.messageId);
  t.is(again[0]?.receiveCount, 2);
  t.true(again.every((m) => m.messageGroupId === held));

  // A consumer drains the rest; each group arrives in order.
  await client.deleteMessageBatch('orders', [...others, ...again].map((m, i) => ({ id: String(i), receiptHandle: m.receiptHandle })));
  const seen = new Map<string, string[]>();
  for (const m of [...others, ...again]) seen.set(m.messageGroupId as string, [...(seen.get(m.messageGroupId as string) ?? []), text(m)]);
  const consumer = client.consume('orders', (m) => {
    seen.set(m.messageGroupId as string, [...(seen.get(m.messageGroupId as string) ?? []), text(m)]);
  }, { concurrency: 8, waitTimeSeconds: 1 });
  await eventually(() => [...seen.values()].reduce((n, l) => n + l.length, 0) >= groups.length * 40, { timeoutMs: 30_000, message: 'every message consumed' });
  await consumer.stop();
  for (const g of groups) t.deepEqual(seen.get(g), Array.from({ length: 40 }, (_, i) => `${g}-${i}`), g);
});

test('deduplication: by id in the group (scope messageGroup), by content when asked, and the window is an attribute', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('scoped', { fifo: true, partitions: 2, deduplicationScope: 'messageGroup' });
  const a = await client.sendMessage('scoped', 'one', { messageGroupId: 'g1', deduplicationId: 'same' });
  const b = await client.sendMessage('scoped', 'two', { messageGroupId: 'g2', deduplicationId: 'same' });
  const c = await client.sendMessage('scoped', 'three', { messageGroupId: 'g1', deduplicationId: 'same' });
  t.not(a.messageId, b.messageId, 'the same id in another group is another message');
  t.is(c.messageId, a.messageId, 'the same id in the same group is the same message');
  t.deepEqual((await drain(client, 'scoped')).map(text).sort(), ['one', 'two']);

  await client.createQueue('content', { fifo: true, contentBasedDeduplication: true, deduplicationWindow: 3600 });
  const x = await client.sendMessage('content', 'payload', { messageGroupId: 'g1', contentDeduplication: true });
  const y = await client.sendMessage('content', 'payload', { messageGroupId: 'g2', contentDeduplication: true });
  const z = await client.sendMessage('content', 'other', { messageGroupId: 'g1', contentDeduplication: true });
  t.is(y.messageId, x.messageId, 'scope queue: equal bodies are one message whatever the group');
  t.not(z.messageId, x.messageId);
  t.deepEqual((await drain(client, 'content')).map(text), ['payload', 'other']);
  t.is((await client.setQueueAttributes('content', { deduplicationWindow: 60 })).deduplicationWindow, 60);
  t.is(await codeOf(client.setQueueAttributes('content', { deduplicationWindow: 59 })), ErrorCode.InvalidAttribute);
});

test('deduplication ids of a FIFO queue survive a restart of the node', async (t) => {
  const fixture = await startWharf(t);
  await fixture.client.createQueue('orders', { fifo: true, contentBasedDeduplication: true });
  const first = await fixture.client.sendMessage('orders', 'a', { messageGroupId: 'g', deduplicationId: 'order-1' });
  const content = await fixture.client.sendMessage('orders', 'b', { messageGroupId: 'g', contentDeduplication: true });
  await fixture.restart();
  t.is((await fixture.client.sendMessage('orders', 'a', { messageGroupId: 'g', deduplicationId: 'order-1' })).messageId, first.messageId);
  t.is((await fixture.client.sendMessage('orders', 'b', { messageGroupId: 'g', contentDeduplication: true })).messageId, content.messageId);
  t.deepEqual((await drain(fixture.client, 'orders')).map(text), ['a', 'b']);
});

test('a group held by a message in flight stays held across a restart', async (t) => {
  const fixture = await startWharf(t);
  await fixture.client.createQueue('orders', { fifo: true });
  for (const body of ['g-0', 'g-1', 'h-0']) await fixture.client.sendMessage('orders', body, { messageGroupId: body.slice(0, 1) });
  const [first] = await fixture.client.receive('orders', { maxMessages: 1, visibilityTimeout: 600 });
  t.is(first && text(first), 'g-0');
  await fixture.restart();
  const after = await eventually(async () => {
    const got = await fixture.client.receive('orders', { maxMessages: 10 });
    return got.length > 0 ? got : undefined;
  });
  t.deepEqual(after.map(text), ['h-0']);
  await fixture.client.deleteMessage('orders', (first as ReceivedMessage).receiptHandle);
  t.deepEqual((await drain(fixture.client, 'orders')).map(text), ['g-1']);
});

test('three nodes: order, held groups, receipt handles and deduplication ids of a FIFO queue survive a failover; forwarded answers keep the group', async (t) => {
  t.timeout(120_000);
  const cluster = await startWharfCluster(t, { nodes: 3 });
  const client = await cluster.connect();
  await eventually(() => client.createQueue('orders', { fifo: true, partitions: 2, deduplicationScope: 'messageGroup' }).then(() => true), {
    timeoutMs: 30_000,
    message: 'the queue is created',
  });
  const groups = ['alice', 'bob', 'carol'];
  const ids = new Map<string, string>();
  for (let i = 0; i < 10; i++) {
    for (const g of groups) {
      const { messageId } = await client.sendMessage('orders', `${g}-${i}`, { messageGroupId: g, deduplicationId: `${g}-${i}` });
      ids.set(`${g}-${i}`, messageId);
    }
  }
  const [held] = await client.receive('orders', { maxMessages: 1, visibilityTimeout: 600 });
  const group = held?.messageGroupId as string;
  t.true(groups.includes(group), 'the group travels back in forwarded answers too');
  await cluster.waitForReplicasInSync('orders');

  // SIGKILL the node of a primary; every partition it led gets a new primary.
  const partitions = [0, 1];
  const primaries = await Promise.all(partitions.map((p) => cluster.primaryOf('orders', p)));
  const victim = primaries.find((p) => p !== undefined) as string;
  await cluster.node(victim).kill();
  for (const p of partitions) if (primaries[p] === victim) await cluster.waitForPrimary('orders', p, { not: victim, timeoutMs: 60_000 });

  // Deduplication ids were replicated: repeats answer the first message ids.
  for (const g of groups) {
    const again = await client.sendMessage('orders', `${g}-0`, { messageGroupId: g, deduplicationId: `${g}-0` });
    t.is(again.messageId, ids.get(`${g}-0`) as string, g);
  }
  // The held group stays held: its lease was replicated.
  const others: ReceivedMessage[] = [];
  for (let i = 0; i < 10; i++) others.push(...(await client.receive('orders', { maxMessages: 10, visibilityTimeout: 600 })));
  t.false(others.some((m) => m.messageGroupId === group));
  t.true(others.every((m) => m.messageGroupId !== undefined));
  await client.deleteMessage('orders', (held as ReceivedMessage).receiptHandle);
  await client.deleteMessageBatch('orders', others.map((m, i) => ({ id: String(i), receiptHandle: m.receiptHandle })));
  const seen = new Map<string, string[]>();
  for (const m of [held as ReceivedMessage, ...others]) seen.set(m.messageGroupId as string, [...(seen.get(m.messageGroupId as string) ?? []), text(m)]);
  for (const m of await drain(client, 'orders')) seen.set(m.messageGroupId as string, [...(seen.get(m.messageGroupId as string) ?? []), text(m)]);
  for (const g of groups) t.deepEqual(seen.get(g), Array.from({ length: 10 }, (_, i) => `${g}-${i}`), g);
});
