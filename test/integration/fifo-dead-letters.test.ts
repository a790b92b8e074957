/**
 * Dead letters of FIFO queues against a real node: a message received maxReceiveCount times goes to
 * the queue's FIFO DLQ with its message group, the group moves on to its next message, a redrive
 * back keeps the group (and its order), and the DLQ must be of the source's type.
 */
import test from 'ava';
import { ErrorCode } from '../../src/errors.ts';
import type { MessageMoveTask, ReceivedMessage } from '../../src/protocol/messages.ts';
import { eventually } from '../helpers/eventually.ts';
import { bodies, failsWith, text } from '../helpers/queue-assertions.ts';
import { startWharf } from '../helpers/wharf.ts';

test('a FIFO message received maxReceiveCount times goes to the FIFO DLQ with its group, its group moves on, and a redrive keeps the group', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('dlq', { fifo: true });
  await client.createQueue('orders', { fifo: true, redrivePolicy: { deadLetterQueue: 'dlq', maxReceiveCount: 1 } });
  const poison = await client.sendMessage('orders', 'g-0', { messageGroupId: 'g', deduplicationId: 'g0' });
  await client.sendMessage('orders', 'g-1', { messageGroupId: 'g', deduplicationId: 'g1' });
  await client.sendMessage('orders', 'h-0', { messageGroupId: 'h', deduplicationId: 'h0' });

  const [first] = await client.receive('orders', { maxMessages: 1, visibilityTimeout: 0 });
  t.is(first && text(first.body), 'g-0');
  // Its lease ended at once; the next receive finds it over the limit: it leaves, and g goes on.
  const next: ReceivedMessage[] = await eventually(async () => {
    const got = await client.receive('orders', { maxMessages: 10, visibilityTimeout: 600 });
    return got.some((m) => m.messageGroupId === 'g') ? got : undefined;
  }, { message: 'g delivers its next message' });
  t.deepEqual(bodies(next.filter((m) => m.messageGroupId === 'g')), ['g-1'], 'the dead-lettered message is not delivered again; g moved on');

  const [dead] = await eventually(async () => {
    const got = await client.receive('dlq', { maxMessages: 10, visibilityTimeout: 0 });
    return got.length > 0 ? got : undefined;
  }, { message: 'the dead letter in the DLQ' });
  t.like(dead, { messageId: poison.messageId, messageGroupId: 'g' });
  t.like(dead?.deadLetter, { sourceQueue: 'orders', reason: 'max-receives', receiveCount: 1 });
  await client.deleteMessageBatch('orders', next.map((m, i) => ({ id: String(i), receiptHandle: m.receiptHandle })));

  // A later message of g, then the redrive back: the moved message is stored in g again.
  await client.sendMessage('orders', 'g-2', { messageGroupId: 'g', deduplicationId: 'g2' });
  const taskId = await client.startMessageMoveTask('dlq');
  await eventually(async () => {
    const task = (await client.listMessageMoveTasks()).find((x: MessageMoveTask) => x.taskId === taskId);
    return task?.status === 'completed' && task.moved === 1;
  }, { message: 'the redrive completed' });
  const back: ReceivedMessage[] = [];
  await eventually(async () => {
    const got = await client.receive('orders', { maxMessages: 10, visibilityTimeout: 600 });
    back.push(...got);
    await Promise.all(got.map((m) => client.deleteMessage('orders', m.receiptHandle)));
    return back.length >= 2;
  }, { message: 'g-2 and the redriven g-0' });
  t.deepEqual(back.map((m) => [text(m.body), m.messageGroupId]), [['g-2', 'g'], ['g-0', 'g']], 'the redriven message is in g, after what g held');
  t.is(back[1]?.messageId, poison.messageId);
});

test("a FIFO queue's DLQ must be FIFO and a standard queue's standard; a redrive of a message without a group to a FIFO queue fails the task", async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('plain-dlq');
  await client.createQueue('fifo-dlq', { fifo: true });
  await failsWith(t, client.createQueue('orders', { fifo: true, redrivePolicy: { deadLetterQueue: 'plain-dlq', maxReceiveCount: 2 } }), ErrorCode.InvalidAttribute);
  await failsWith(t, client.createQueue('jobs', { redrivePolicy: { deadLetterQueue: 'fifo-dlq', maxReceiveCount: 2 } }), ErrorCode.InvalidAttribute);
  await client.createQueue('orders', { fifo: true });
  await failsWith(t, client.setQueueAttributes('orders', { redrivePolicy: { deadLetterQueue: 'plain-dlq', maxReceiveCount: 2 } }), ErrorCode.InvalidAttribute);

  await client.sendMessage('plain-dlq', 'no group');
  const taskId = await client.startMessageMoveTask('plain-dlq', { destinationQueue: 'orders' });
  const failed = await eventually(async () => {
    const task = (await client.listMessageMoveTasks()).find((x: MessageMoveTask) => x.taskId === taskId);
    return task?.status === 'failed' ? task : undefined;
  }, { message: 'the task failed' });
  t.regex(failed.lastError ?? '', /needs a message group/);
  t.like((await client.getQueueAttributes('plain-dlq')).counts, { approximateNumberOfMessages: 1 });
});
