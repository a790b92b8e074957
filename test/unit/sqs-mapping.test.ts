/** The SQS endpoint's pure mappings: queue names, URLs and ARNs, and query-protocol parameters. */
import test from 'ava';
import { SqsError } from '../../src/sqs/errors.ts';
import { queryProtocol } from '../../src/sqs/query-protocol.ts';
import { queueArn, queueOfArn, queueOfUrl, queueUrl, sqsName, wharfName } from '../../src/sqs/queue-names.ts';

const account = { region: 'eu-west-1', accountId: '123456789012' };

test('FIFO names map one to one onto Wharf names', (t) => {
  t.is(wharfName('orders.fifo'), 'orders-fifo');
  t.is(sqsName('orders-fifo'), 'orders.fifo');
  t.is(wharfName('orders'), 'orders');
  t.is(sqsName(wharfName('a_b-c.fifo')), 'a_b-c.fifo');
  // The Wharf spelling of a FIFO name is not an SQS standard queue's name.
  t.is(t.throws(() => wharfName('orders-fifo'), { instanceOf: SqsError })?.code, 'InvalidParameterValue');
  for (const bad of ['', 'has space', 'x'.repeat(81), `${'x'.repeat(76)}.fifo`, '.fifo', 'a.b']) {
    t.is(t.throws(() => wharfName(bad), { instanceOf: SqsError })?.code, 'InvalidParameterValue', bad);
  }
  t.is(wharfName(`${'x'.repeat(75)}.fifo`).length, 80);
});

test('queue URLs and ARNs name the queue by their last part', (t) => {
  t.is(queueUrl('http://h:9324', account, 'jobs-fifo'), 'http://h:9324/123456789012/jobs.fifo');
  t.is(queueOfUrl('http://elsewhere/000000000000/jobs.fifo'), 'jobs-fifo');
  t.is(queueOfUrl('/123456789012/q'), 'q');
  t.is(t.throws(() => queueOfUrl('http://h/q'), { instanceOf: SqsError })?.code, 'InvalidAddress');
  t.is(queueArn(account, 'q'), 'arn:aws:sqs:eu-west-1:123456789012:q');
  t.is(queueOfArn('arn:aws:sqs:us-east-1:000000000000:jobs.fifo'), 'jobs-fifo');
  t.is(t.throws(() => queueOfArn('arn:aws:sns:us-east-1:000000000000:topic'), { instanceOf: SqsError })?.code, 'InvalidParameterValue');
});

const request = (form: string, path = '/') => ({ method: 'POST', path, query: new URLSearchParams(), headers: {}, body: Buffer.from(form) });

test('query parameters unflatten into the JSON protocol shape', (t) => {
  const { action, input } = queryProtocol.parse(
    request(
      'Action=SendMessageBatch&Version=2012-11-05&QueueUrl=%2F0%2Fq' +
        '&SendMessageBatchRequestEntry.2.Id=b&SendMessageBatchRequestEntry.2.MessageBody=two' +
        '&SendMessageBatchRequestEntry.1.Id=a&SendMessageBatchRequestEntry.1.MessageBody=one' +
        '&SendMessageBatchRequestEntry.1.MessageAttribute.1.Name=n&SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.DataType=Number' +
        '&SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.StringValue=7',
    ),
  );
  t.is(action, 'SendMessageBatch');
  t.deepEqual(input, {
    QueueUrl: '/0/q',
    Entries: [
      { Id: 'a', MessageBody: 'one', MessageAttributes: { n: { DataType: 'Number', StringValue: '7' } } },
      { Id: 'b', MessageBody: 'two' },
    ],
  });
  const attrs = queryProtocol.parse(request('Action=GetQueueAttributes&AttributeName.1=All', '/0/q')).input;
  t.deepEqual(attrs, { AttributeNames: ['All'], QueueUrl: '/0/q' });
  const refused = t.throws(() => queryProtocol.parse(request('Action=TagQueue&Tag.1.__proto__=x')), { instanceOf: SqsError });
  t.is(refused?.code, 'InvalidParameterValue');
});
