/**
 * The SQS endpoint's queue actions through the official AWS SDK v3 against a real node: create
 * (standard and FIFO, with attributes and tags), URL lookup, listing with pages, attributes read
 * and changed, purge, delete, tags, dead-letter sources, and the errors SQS answers for bad input.
 */
import test from 'ava';
import {
  CreateQueueCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListDeadLetterSourceQueuesCommand,
  ListQueuesCommand,
  ListQueueTagsCommand,
  PurgeQueueCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SetQueueAttributesCommand,
  TagQueueCommand,
  UntagQueueCommand,
} from '@aws-sdk/client-sqs';
import { sqsError, startSqs } from '../helpers/sqs.ts';

test('create, find, list, read and change attributes, purge and delete a queue', async (t) => {
  const { sqs, endpoint } = await startSqs(t);
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'orders', Attributes: { VisibilityTimeout: '45', DelaySeconds: '0' }, tags: { team: 'core' } }));
  t.is(QueueUrl, `${endpoint}/000000000000/orders`);
  // The same name and attributes again: the existing queue's URL.
  t.is((await sqs.send(new CreateQueueCommand({ QueueName: 'orders', Attributes: { VisibilityTimeout: '45' } }))).QueueUrl, QueueUrl);
  t.is((await sqs.send(new GetQueueUrlCommand({ QueueName: 'orders' }))).QueueUrl, QueueUrl);

  const all = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['All'] }))).Attributes ?? {};
  t.is(all['VisibilityTimeout'], '45');
  t.is(all['QueueArn'], 'arn:aws:sqs:us-east-1:000000000000:orders');
  t.is(all['ApproximateNumberOfMessages'], '0');
  t.is(all['MessageRetentionPeriod'], '345600');
  t.false('FifoQueue' in all);
  t.regex(all['CreatedTimestamp'] ?? '', /^\d{10}$/);
  // Nothing asked, nothing answered, as SQS.
  t.deepEqual((await sqs.send(new GetQueueAttributesCommand({ QueueUrl }))).Attributes, undefined);

  await sqs.send(new SetQueueAttributesCommand({ QueueUrl, Attributes: { VisibilityTimeout: '10', ReceiveMessageWaitTimeSeconds: '2' } }));
  const some = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['VisibilityTimeout', 'ReceiveMessageWaitTimeSeconds'] }));
  t.deepEqual(some.Attributes, { VisibilityTimeout: '10', ReceiveMessageWaitTimeSeconds: '2' });

  await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'one' }));
  const counted = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }));
  t.is(counted.Attributes?.['ApproximateNumberOfMessages'], '1');
  await sqs.send(new PurgeQueueCommand({ QueueUrl }));
  t.is((await sqs.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 0 }))).Messages, undefined);

  await sqs.send(new DeleteQueueCommand({ QueueUrl }));
  const gone = await sqsError(sqs.send(new GetQueueUrlCommand({ QueueName: 'orders' })));
  t.deepEqual(gone, { name: 'QueueDoesNotExist', code: 'AWS.SimpleQueueService.NonExistentQueue', status: 400 });
});

test('ListQueues filters by prefix and pages with MaxResults and NextToken', async (t) => {
  const { sqs, endpoint } = await startSqs(t);
  for (const name of ['a-1', 'a-2', 'a-3', 'b-1']) await sqs.send(new CreateQueueCommand({ QueueName: name }));
  await sqs.send(new CreateQueueCommand({ QueueName: 'a-4.fifo', Attributes: { FifoQueue: 'true' } }));
  const first = await sqs.send(new ListQueuesCommand({ QueueNamePrefix: 'a-', MaxResults: 3 }));
  t.deepEqual(first.QueueUrls, ['a-1', 'a-2', 'a-3'].map((n) => `${endpoint}/000000000000/${n}`));
  t.truthy(first.NextToken);
  const second = await sqs.send(new ListQueuesCommand({ QueueNamePrefix: 'a-', MaxResults: 3, NextToken: first.NextToken }));
  t.deepEqual(second.QueueUrls, [`${endpoint}/000000000000/a-4.fifo`]);
  t.is(second.NextToken, undefined);
  t.is((await sqs.send(new ListQueuesCommand({}))).QueueUrls?.length, 5);
});

test('FIFO queues: .fifo names, FifoQueue and ContentBasedDeduplication attributes', async (t) => {
  const { sqs } = await startSqs(t);
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'jobs.fifo', Attributes: { FifoQueue: 'true', ContentBasedDeduplication: 'true' } }));
  t.regex(QueueUrl ?? '', /\/jobs\.fifo$/);
  const a = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['All'] }))).Attributes ?? {};
  t.is(a['FifoQueue'], 'true');
  t.is(a['ContentBasedDeduplication'], 'true');
  t.is(a['DeduplicationScope'], 'queue');
  // A .fifo name needs FifoQueue, and FifoQueue needs a .fifo name.
  t.is((await sqsError(sqs.send(new CreateQueueCommand({ QueueName: 'x.fifo' })))).name, 'InvalidParameterValue');
  t.is((await sqsError(sqs.send(new CreateQueueCommand({ QueueName: 'x', Attributes: { FifoQueue: 'true' } })))).name, 'InvalidParameterValue');
  // The type of a queue is fixed at creation.
  t.is((await sqsError(sqs.send(new SetQueueAttributesCommand({ QueueUrl, Attributes: { FifoQueue: 'false' } })))).name, 'InvalidAttributeName');
});

test('tags: added, listed, removed', async (t) => {
  const { sqs } = await startSqs(t);
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'tagged', tags: { env: 'test' } }));
  await sqs.send(new TagQueueCommand({ QueueUrl, Tags: { team: 'core', cost: '42' } }));
  t.deepEqual((await sqs.send(new ListQueueTagsCommand({ QueueUrl }))).Tags, { env: 'test', team: 'core', cost: '42' });
  await sqs.send(new UntagQueueCommand({ QueueUrl, TagKeys: ['env', 'cost'] }));
  t.deepEqual((await sqs.send(new ListQueueTagsCommand({ QueueUrl }))).Tags, { team: 'core' });
  t.is((await sqsError(sqs.send(new TagQueueCommand({ QueueUrl, Tags: { 'aws:reserved': 'x' } })))).name, 'InvalidParameterValue');
});

test('redrive policies: RedrivePolicy round trip, ListDeadLetterSourceQueues, RedriveAllowPolicy refusing a source', async (t) => {
  const { sqs, endpoint } = await startSqs(t);
  const dlq = (await sqs.send(new CreateQueueCommand({ QueueName: 'dlq' }))).QueueUrl;
  const policy = JSON.stringify({ deadLetterTargetArn: 'arn:aws:sqs:us-east-1:000000000000:dlq', maxReceiveCount: 3 });
  const src = (await sqs.send(new CreateQueueCommand({ QueueName: 'src', Attributes: { RedrivePolicy: policy } }))).QueueUrl;
  await sqs.send(new CreateQueueCommand({ QueueName: 'other' }));
  const got = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: src, AttributeNames: ['RedrivePolicy'] }));
  t.deepEqual(JSON.parse(got.Attributes?.['RedrivePolicy'] ?? '{}'), JSON.parse(policy));
  t.deepEqual((await sqs.send(new ListDeadLetterSourceQueuesCommand({ QueueUrl: dlq }))).queueUrls, [`${endpoint}/000000000000/src`]);

  await sqs.send(new SetQueueAttributesCommand({ QueueUrl: dlq, Attributes: { RedriveAllowPolicy: JSON.stringify({ redrivePermission: 'denyAll' }) } }));
  const refused = await sqsError(sqs.send(new SetQueueAttributesCommand({ QueueUrl: `${endpoint}/000000000000/other`, Attributes: { RedrivePolicy: policy } })));
  t.is(refused.name, 'InvalidParameterValue');
  // An empty RedrivePolicy removes it.
  await sqs.send(new SetQueueAttributesCommand({ QueueUrl: src, Attributes: { RedrivePolicy: '' } }));
  t.deepEqual((await sqs.send(new ListDeadLetterSourceQueuesCommand({ QueueUrl: dlq }))).queueUrls, []);
});

test('bad input gets the error SQS answers', async (t) => {
  const { sqs, endpoint } = await startSqs(t);
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'q' }));
  t.like(await sqsError(sqs.send(new CreateQueueCommand({ QueueName: 'bad name!' }))), { name: 'InvalidParameterValue', status: 400 });
  t.like(await sqsError(sqs.send(new CreateQueueCommand({ QueueName: 'q', Attributes: { VisibilityTimeout: '99' } }))), { name: 'QueueNameExists', code: 'QueueAlreadyExists' });
  t.like(await sqsError(sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['Nope' as 'All'] }))), { name: 'InvalidAttributeName' });
  t.like(await sqsError(sqs.send(new SetQueueAttributesCommand({ QueueUrl, Attributes: { VisibilityTimeout: 'ten' } }))), { name: 'InvalidAttributeValue' });
  t.like(await sqsError(sqs.send(new SetQueueAttributesCommand({ QueueUrl, Attributes: { VisibilityTimeout: '50000' } }))), { name: 'InvalidAttributeValue' });
  t.like(await sqsError(sqs.send(new SetQueueAttributesCommand({ QueueUrl, Attributes: { Policy: '{}' } }))), { name: 'InvalidAttributeName' });
  t.like(await sqsError(sqs.send(new SendMessageCommand({ QueueUrl: `${endpoint}/000000000000/missing`, MessageBody: 'x' }))), {
    name: 'QueueDoesNotExist',
    code: 'AWS.SimpleQueueService.NonExistentQueue',
  });
  t.like(await sqsError(sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 11 }))), { name: 'InvalidParameterValue' });
  t.like(await sqsError(sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'bad \u0001 char' }))), { name: 'InvalidMessageContents' });
  t.like(await sqsError(sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'x'.repeat(262_145) }))), { name: 'InvalidParameterValue' });
});
