/**
 * The SQS endpoint's message actions through the official AWS SDK v3 against a real node. The SDK
 * checks the MD5 digests of bodies on every send and receive, so each passing command also proves
 * them. Covers batches with partial failures, long polling, visibility,
 * system attributes, FIFO order and deduplication, and dead-lettering after maxReceiveCount.
 */
import test from 'ava';
import {
  ChangeMessageVisibilityBatchCommand,
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { eventually } from '../helpers/eventually.ts';
import { sqsError, startSqs } from '../helpers/sqs.ts';

/** Receives (long polls of 1 s) until `n` messages came. */
async function receiveAll(sqs: SQSClient, QueueUrl: string, n: number, extra: Partial<ConstructorParameters<typeof ReceiveMessageCommand>[0]> = {}): Promise<Message[]> {
  const got: Message[] = [];
  await eventually(async () => {
    const r = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, ...extra }));
    got.push(...(r.Messages ?? []));
    return got.length >= n;
  }, { message: `${n} messages` });
  return got;
}

test('send with attributes, receive with attribute names and system attributes, delete', async (t) => {
  const { sqs } = await startSqs(t);
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'm' }));
  const sent = await sqs.send(
    new SendMessageCommand({
      QueueUrl,
      MessageBody: 'héllo wörld ✓',
      MessageAttributes: {
        color: { DataType: 'String', StringValue: 'blue' },
        size: { DataType: 'Number', StringValue: '42' },
        blob: { DataType: 'Binary', BinaryValue: new Uint8Array([0, 1, 2, 255]) },
        'trace.id': { DataType: 'String', StringValue: 't1' },
      },
    }),
  );
  t.truthy(sent.MessageId);
  t.truthy(sent.MD5OfMessageAttributes);
  const r = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl,
      MessageAttributeNames: ['color', 'blob', 'trace.*'],
      MessageSystemAttributeNames: ['ApproximateReceiveCount', 'SentTimestamp', 'ApproximateFirstReceiveTimestamp'],
    }),
  );
  const [m] = r.Messages ?? [];
  t.is(m?.Body, 'héllo wörld ✓');
  t.is(m?.MessageId, sent.MessageId);
  t.deepEqual(Object.keys(m?.MessageAttributes ?? {}).sort(), ['blob', 'color', 'trace.id']);
  t.deepEqual(m?.MessageAttributes?.['blob']?.BinaryValue, new Uint8Array([0, 1, 2, 255]));
  t.is(m?.Attributes?.['ApproximateReceiveCount'], '1');
  t.regex(m?.Attributes?.['SentTimestamp'] ?? '', /^\d{13}$/);
  t.regex(m?.Attributes?.['ApproximateFirstReceiveTimestamp'] ?? '', /^\d{13}$/);
  await sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: m?.ReceiptHandle }));
  const again = await sqsError(sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: m?.ReceiptHandle })));
  t.like(again, { name: 'ReceiptHandleIsInvalid', status: 404 });
  t.like(await sqsError(sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: 'garbage' }))), { name: 'ReceiptHandleIsInvalid' });
});

test('batches: partial failures per entry, and the batch-level errors', async (t) => {
  const { sqs } = await startSqs(t);
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'b' }));
  const sent = await sqs.send(
    new SendMessageBatchCommand({
      QueueUrl,
      Entries: [
        { Id: 'ok1', MessageBody: 'one' },
        { Id: 'bad', MessageBody: 'two', MessageAttributes: { 'AWS.x': { DataType: 'String', StringValue: 'reserved name' } } },
        { Id: 'ok2', MessageBody: 'three', DelaySeconds: 0 },
        { Id: 'badchars', MessageBody: '\u0000' },
      ],
    }),
  );
  t.deepEqual(sent.Successful?.map((s) => s.Id).sort(), ['ok1', 'ok2']);
  t.deepEqual(sent.Failed?.map((f) => [f.Id, f.Code, f.SenderFault]).sort(), [['bad', 'InvalidParameterValue', true], ['badchars', 'InvalidMessageContents', true]]);

  const got = await receiveAll(sqs, QueueUrl ?? '', 2);
  const deleted = await sqs.send(
    new DeleteMessageBatchCommand({ QueueUrl, Entries: [...got.map((m, i) => ({ Id: `d${i}`, ReceiptHandle: m.ReceiptHandle })), { Id: 'stale', ReceiptHandle: 'not-a-handle' }] }),
  );
  t.deepEqual(deleted.Successful?.map((s) => s.Id).sort(), ['d0', 'd1']);
  t.deepEqual(deleted.Failed?.map((f) => [f.Id, f.Code]), [['stale', 'ReceiptHandleIsInvalid']]);

  t.like(await sqsError(sqs.send(new SendMessageBatchCommand({ QueueUrl, Entries: [] }))), { name: 'EmptyBatchRequest', code: 'AWS.SimpleQueueService.EmptyBatchRequest' });
  const eleven = Array.from({ length: 11 }, (_, i) => ({ Id: `e${i}`, MessageBody: 'x' }));
  t.like(await sqsError(sqs.send(new SendMessageBatchCommand({ QueueUrl, Entries: eleven }))), { name: 'TooManyEntriesInBatchRequest' });
  t.like(await sqsError(sqs.send(new SendMessageBatchCommand({ QueueUrl, Entries: [{ Id: 'a', MessageBody: 'x' }, { Id: 'a', MessageBody: 'y' }] }))), {
    name: 'BatchEntryIdsNotDistinct',
  });
  t.like(await sqsError(sqs.send(new SendMessageBatchCommand({ QueueUrl, Entries: [{ Id: 'has space', MessageBody: 'x' }] }))), { name: 'InvalidBatchEntryId' });
});

test('visibility: a changed timeout, a batch change, a released message comes back with a higher receive count', async (t) => {
  const { sqs } = await startSqs(t);
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'v', Attributes: { VisibilityTimeout: '600' } }));
  await sqs.send(new SendMessageBatchCommand({ QueueUrl, Entries: [{ Id: 'a', MessageBody: 'a' }, { Id: 'b', MessageBody: 'b' }] }));
  const got = await receiveAll(sqs, QueueUrl ?? '', 2);
  t.is((await sqs.send(new ReceiveMessageCommand({ QueueUrl }))).Messages, undefined);
  const [first, second] = got;
  await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl, ReceiptHandle: first?.ReceiptHandle, VisibilityTimeout: 0 }));
  const changed = await sqs.send(
    new ChangeMessageVisibilityBatchCommand({
      QueueUrl,
      Entries: [
        { Id: 's', ReceiptHandle: second?.ReceiptHandle, VisibilityTimeout: 0 },
        { Id: 'x', ReceiptHandle: 'not-a-handle', VisibilityTimeout: 0 },
      ],
    }),
  );
  t.deepEqual(changed.Successful?.map((s) => s.Id), ['s']);
  t.deepEqual(changed.Failed?.map((f) => f.Id), ['x']);
  const back = await receiveAll(sqs, QueueUrl ?? '', 2, { MessageSystemAttributeNames: ['All'] });
  t.deepEqual(back.map((m) => m.Attributes?.['ApproximateReceiveCount']), ['2', '2']);
  t.like(await sqsError(sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl, ReceiptHandle: first?.ReceiptHandle, VisibilityTimeout: 5 }))), {
    name: 'ReceiptHandleIsInvalid',
  });
});

test('long polling: a waiting receive returns the message sent while it waits, and other requests are served meanwhile', async (t) => {
  const { sqs } = await startSqs(t);
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'lp' }));
  const waiting = sqs.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 20 }));
  // The node answers other requests while the poll waits (the send below could not happen otherwise).
  const attrs = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }));
  t.is(attrs.Attributes?.['ApproximateNumberOfMessages'], '0');
  await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'wake up' }));
  const r = await waiting;
  t.deepEqual(r.Messages?.map((m) => m.Body), ['wake up']);
});

test('FIFO: order within a group, MessageGroupId and deduplication (explicit and content-based)', async (t) => {
  const { sqs } = await startSqs(t);
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'f.fifo', Attributes: { FifoQueue: 'true', ContentBasedDeduplication: 'true' } }));
  for (let i = 0; i < 5; i++) await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: `g1-${i}`, MessageGroupId: 'g1', MessageDeduplicationId: `id-${i}` }));
  // A repeat of a deduplication id (with SQS punctuation in it) stores nothing and answers the first id.
  const a = await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'dup', MessageGroupId: 'g2', MessageDeduplicationId: 'order#7!' }));
  const b = await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'dup again', MessageGroupId: 'g2', MessageDeduplicationId: 'order#7!' }));
  t.is(a.MessageId, b.MessageId);
  // Content-based: the same body without an id is one message.
  const c = await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'same body', MessageGroupId: 'g3' }));
  const d = await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'same body', MessageGroupId: 'g3' }));
  t.is(c.MessageId, d.MessageId);
  t.like(await sqsError(sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'no group' }))), { name: 'InvalidParameterValue' });

  const bodies: string[] = [];
  await eventually(async () => {
    const r = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, MessageSystemAttributeNames: ['MessageGroupId'] }));
    for (const m of r.Messages ?? []) {
      bodies.push(`${m.Attributes?.['MessageGroupId']}:${m.Body}`);
      await sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: m.ReceiptHandle }));
    }
    return bodies.length >= 7;
  }, { message: 'every FIFO message' });
  t.deepEqual(bodies.filter((b) => b.startsWith('g1:')), ['g1:g1-0', 'g1:g1-1', 'g1:g1-2', 'g1:g1-3', 'g1:g1-4']);
  t.deepEqual(bodies.filter((b) => !b.startsWith('g1:')).sort(), ['g2:dup', 'g3:same body']);
});

test('a message received maxReceiveCount times goes to the dead-letter queue, which names its source', async (t) => {
  const { sqs } = await startSqs(t);
  const dlq = (await sqs.send(new CreateQueueCommand({ QueueName: 'dead' }))).QueueUrl ?? '';
  const RedrivePolicy = JSON.stringify({ deadLetterTargetArn: 'arn:aws:sqs:us-east-1:000000000000:dead', maxReceiveCount: '2' });
  const src = (await sqs.send(new CreateQueueCommand({ QueueName: 'work', Attributes: { RedrivePolicy } }))).QueueUrl ?? '';
  const { MessageId } = await sqs.send(new SendMessageCommand({ QueueUrl: src, MessageBody: 'poison' }));
  for (let i = 0; i < 2; i++) {
    const [m] = await receiveAll(sqs, src, 1);
    await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: src, ReceiptHandle: m?.ReceiptHandle, VisibilityTimeout: 0 }));
  }
  // The third receive finds it past its limit: it moves to the DLQ instead of being delivered.
  const [dead] = await eventually(async () => {
    await sqs.send(new ReceiveMessageCommand({ QueueUrl: src }));
    const r = await sqs.send(new ReceiveMessageCommand({ QueueUrl: dlq, MessageSystemAttributeNames: ['DeadLetterQueueSourceArn'] }));
    return r.Messages?.length ? r.Messages : undefined;
  }, { message: 'the dead letter' });
  t.is(dead?.MessageId, MessageId);
  t.is(dead?.Body, 'poison');
  t.is(dead?.Attributes?.['DeadLetterQueueSourceArn'], 'arn:aws:sqs:us-east-1:000000000000:work');
});
