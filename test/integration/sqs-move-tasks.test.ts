/**
 * SQS's redrive (message move tasks) through the AWS SDK against a real node: dead letters moved
 * back to their source, progress in ListMessageMoveTasks, a cancel, an unknown task handle.
 */
import test from 'ava';
import {
  CancelMessageMoveTaskCommand,
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ListMessageMoveTasksCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  StartMessageMoveTaskCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { eventually } from '../helpers/eventually.ts';
import { sqsError, startSqs } from '../helpers/sqs.ts';

const arn = (name: string) => `arn:aws:sqs:us-east-1:000000000000:${name}`;

async function count(sqs: SQSClient, QueueUrl: string): Promise<number> {
  const r = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }));
  return Number(r.Attributes?.['ApproximateNumberOfMessages']);
}

/** `n` dead letters of `src` in `dlq` (maxReceiveCount 1: received once, released, received again). */
async function deadLetters(sqs: SQSClient, n: number): Promise<{ src: string; dlq: string }> {
  const dlq = (await sqs.send(new CreateQueueCommand({ QueueName: 'dlq' }))).QueueUrl ?? '';
  const RedrivePolicy = JSON.stringify({ deadLetterTargetArn: arn('dlq'), maxReceiveCount: 1 });
  const src = (await sqs.send(new CreateQueueCommand({ QueueName: 'src', Attributes: { RedrivePolicy } }))).QueueUrl ?? '';
  for (let i = 0; i < n; i += 10) {
    const Entries = Array.from({ length: Math.min(10, n - i) }, (_, j) => ({ Id: `e${j}`, MessageBody: `m${i + j}` }));
    await sqs.send(new SendMessageBatchCommand({ QueueUrl: src, Entries }));
  }
  await eventually(async () => {
    await sqs.send(new ReceiveMessageCommand({ QueueUrl: src, MaxNumberOfMessages: 10, VisibilityTimeout: 0 }));
    return (await count(sqs, dlq)) === n;
  }, { message: `${n} dead letters` });
  return { src, dlq };
}

test('a move task returns dead letters to their source and reports its progress', async (t) => {
  const { sqs } = await startSqs(t);
  const { src, dlq } = await deadLetters(sqs, 3);
  const { TaskHandle } = await sqs.send(new StartMessageMoveTaskCommand({ SourceArn: arn('dlq') }));
  t.truthy(TaskHandle);
  const done = await eventually(async () => {
    const { Results } = await sqs.send(new ListMessageMoveTasksCommand({ SourceArn: arn('dlq'), MaxResults: 10 }));
    return Results?.[0]?.Status === 'COMPLETED' ? Results[0] : undefined;
  }, { message: 'the task completes' });
  t.is(done.ApproximateNumberOfMessagesMoved, 3);
  t.is(done.ApproximateNumberOfMessagesToMove, 3);
  t.is(done.SourceArn, arn('dlq'));
  t.is(done.TaskHandle, undefined);
  t.is(await count(sqs, dlq), 0);
  t.is(await count(sqs, src), 3);
});

test('a move task is cancelled by its handle; an unknown handle is ResourceNotFoundException', async (t) => {
  const { sqs } = await startSqs(t);
  await deadLetters(sqs, 20);
  await sqs.send(new CreateQueueCommand({ QueueName: 'elsewhere' }));
  const { TaskHandle } = await sqs.send(new StartMessageMoveTaskCommand({ SourceArn: arn('dlq'), DestinationArn: arn('elsewhere'), MaxNumberOfMessagesPerSecond: 1 }));
  const running = await sqs.send(new ListMessageMoveTasksCommand({ SourceArn: arn('dlq') }));
  t.is(running.Results?.[0]?.TaskHandle, TaskHandle);
  t.is(running.Results?.[0]?.DestinationArn, arn('elsewhere'));
  t.is(running.Results?.[0]?.MaxNumberOfMessagesPerSecond, 1);
  const cancelled = await sqs.send(new CancelMessageMoveTaskCommand({ TaskHandle }));
  t.true((cancelled.ApproximateNumberOfMessagesMoved ?? -1) >= 0);
  await eventually(async () => {
    const { Results } = await sqs.send(new ListMessageMoveTasksCommand({ SourceArn: arn('dlq') }));
    return Results?.[0]?.Status === 'CANCELLED';
  }, { message: 'the task is cancelled' });
  t.like(await sqsError(sqs.send(new CancelMessageMoveTaskCommand({ TaskHandle: 'no-such-task' }))), { name: 'ResourceNotFoundException', status: 404 });
});
