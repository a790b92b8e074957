/**
 * The SQS endpoint's wire: the query protocol (form-encoded requests signed with SigV4 by the AWS
 * SDK's own signer, XML replies) and signature checking (a wrong secret, an unknown key, a changed
 * body, a missing signature; unsigned access only when configured).
 */
import { createHash, createHmac } from 'node:crypto';
import test from 'ava';
import { CreateQueueCommand, ListQueuesCommand } from '@aws-sdk/client-sqs';
import { SignatureV4 } from '@smithy/signature-v4';
import type { SourceData } from '@smithy/types';
import { ACCESS_KEY_ID, SECRET, sqsError, startSqs } from '../helpers/sqs.ts';

/** The hash the SDK's signer is given (it runs in the browser too, so it takes one). */
class Sha256 {
  private readonly hash: ReturnType<typeof createHash> | ReturnType<typeof createHmac>;
  constructor(secret?: SourceData) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: SourceData): void {
    this.hash.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
}

function bytes(data: SourceData): string | Uint8Array {
  if (typeof data === 'string') return data;
  return ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data);
}

interface RawReply {
  status: number;
  body: string;
}

/** A query-protocol request, signed as an SDK would sign it (or not, or with `tamper` applied after signing). */
async function query(endpoint: string, params: Record<string, string>, options: { secret?: string; accessKeyId?: string; unsigned?: boolean; tamper?: (body: string) => string } = {}): Promise<RawReply> {
  const url = new URL(endpoint);
  const body = new URLSearchParams({ Version: '2012-11-05', ...params }).toString();
  const headers: Record<string, string> = { host: url.host, 'content-type': 'application/x-www-form-urlencoded' };
  let signed = headers;
  if (!options.unsigned) {
    const signer = new SignatureV4({
      service: 'sqs',
      region: 'us-east-1',
      credentials: { accessKeyId: options.accessKeyId ?? ACCESS_KEY_ID, secretAccessKey: options.secret ?? SECRET },
      sha256: Sha256,
    });
    const request = await signer.sign({ method: 'POST', protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: '/', headers, body });
    signed = request.headers as Record<string, string>;
  }
  const res = await fetch(`${endpoint}/`, { method: 'POST', headers: signed, body: options.tamper ? options.tamper(body) : body });
  return { status: res.status, body: await res.text() };
}

test('query protocol: form-encoded requests get SQS XML replies and errors', async (t) => {
  const { endpoint } = await startSqs(t);
  const created = await query(endpoint, { Action: 'CreateQueue', QueueName: 'xmlq', 'Attribute.1.Name': 'VisibilityTimeout', 'Attribute.1.Value': '40', 'Tag.1.Key': 'team', 'Tag.1.Value': 'core' });
  t.is(created.status, 200);
  const url = `${endpoint}/000000000000/xmlq`;
  t.regex(created.body, new RegExp(`<CreateQueueResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/"><CreateQueueResult><QueueUrl>${url}</QueueUrl></CreateQueueResult><ResponseMetadata><RequestId>[0-9a-f-]{36}</RequestId></ResponseMetadata></CreateQueueResponse>`));

  const sent = await query(endpoint, {
    Action: 'SendMessage',
    QueueUrl: url,
    MessageBody: 'hello <xml> & friends',
    'MessageAttribute.1.Name': 'color',
    'MessageAttribute.1.Value.DataType': 'String',
    'MessageAttribute.1.Value.StringValue': 'blue',
  });
  t.is(sent.status, 200);
  const md5 = createHash('md5').update('hello <xml> & friends').digest('hex');
  t.regex(sent.body, new RegExp(`<SendMessageResult><MessageId>[^<]+</MessageId><MD5OfMessageBody>${md5}</MD5OfMessageBody><MD5OfMessageAttributes>[0-9a-f]{32}</MD5OfMessageAttributes></SendMessageResult>`));

  const received = await query(endpoint, { Action: 'ReceiveMessage', QueueUrl: url, 'AttributeName.1': 'ApproximateReceiveCount', 'MessageAttributeName.1': 'All' });
  t.is(received.status, 200);
  t.regex(received.body, /<ReceiveMessageResult><Message><MessageId>[^<]+<\/MessageId><ReceiptHandle>[^<]+<\/ReceiptHandle>/);
  t.regex(received.body, new RegExp(`<MD5OfBody>${md5}</MD5OfBody><Body>hello &#60;xml&#62; &#38; friends</Body>`));
  t.regex(received.body, /<Attribute><Name>ApproximateReceiveCount<\/Name><Value>1<\/Value><\/Attribute>/);
  t.regex(received.body, /<MessageAttribute><Name>color<\/Name><Value><DataType>String<\/DataType><StringValue>blue<\/StringValue><\/Value><\/MessageAttribute>/);
  const handle = /<ReceiptHandle>([^<]+)<\/ReceiptHandle>/.exec(received.body)?.[1] ?? '';

  const batch = await query(endpoint, {
    Action: 'DeleteMessageBatch',
    QueueUrl: url,
    'DeleteMessageBatchRequestEntry.1.Id': 'a',
    'DeleteMessageBatchRequestEntry.1.ReceiptHandle': handle.replace(/&#(\d+);/g, (_, c: string) => String.fromCharCode(Number(c))),
    'DeleteMessageBatchRequestEntry.2.Id': 'b',
    'DeleteMessageBatchRequestEntry.2.ReceiptHandle': 'stale',
  });
  // SQS's XML lists are flattened: entries repeat directly inside the result.
  t.regex(batch.body, /<DeleteMessageBatchResult><DeleteMessageBatchResultEntry><Id>a<\/Id><\/DeleteMessageBatchResultEntry><BatchResultErrorEntry><Id>b<\/Id><Code>ReceiptHandleIsInvalid<\/Code><Message>[^<]+<\/Message><SenderFault>true<\/SenderFault><\/BatchResultErrorEntry><\/DeleteMessageBatchResult>/);

  const attrs = await query(endpoint, { Action: 'GetQueueAttributes', QueueUrl: url, 'AttributeName.1': 'VisibilityTimeout' });
  t.regex(attrs.body, /<GetQueueAttributesResult><Attribute><Name>VisibilityTimeout<\/Name><Value>40<\/Value><\/Attribute><\/GetQueueAttributesResult>/);
  const tags = await query(endpoint, { Action: 'ListQueueTags', QueueUrl: url });
  t.regex(tags.body, /<ListQueueTagsResult><Tag><Key>team<\/Key><Value>core<\/Value><\/Tag><\/ListQueueTagsResult>/);
  const listed = await query(endpoint, { Action: 'ListQueues' });
  t.regex(listed.body, new RegExp(`<ListQueuesResult><QueueUrl>${url}</QueueUrl></ListQueuesResult>`));
  const deleted = await query(endpoint, { Action: 'DeleteQueue', QueueUrl: url });
  t.regex(deleted.body, /^<\?xml version="1.0"\?><DeleteQueueResponse xmlns="[^"]+"><ResponseMetadata>/);

  const missing = await query(endpoint, { Action: 'GetQueueUrl', QueueName: 'nope' });
  t.is(missing.status, 400);
  t.regex(missing.body, /<ErrorResponse xmlns="http:\/\/queue.amazonaws.com\/doc\/2012-11-05\/"><Error><Type>Sender<\/Type><Code>AWS.SimpleQueueService.NonExistentQueue<\/Code><Message>[^<]+<\/Message><Detail\/><\/Error><RequestId>/);
  const unknown = await query(endpoint, { Action: 'FlyToTheMoon' });
  t.is(unknown.status, 400);
  t.regex(unknown.body, /<Code>InvalidAction<\/Code>/);
});

test('SigV4: a wrong secret, an unknown key, a changed body and a missing signature are refused', async (t) => {
  const { endpoint, client } = await startSqs(t);
  const wrong = client({ accessKeyId: ACCESS_KEY_ID, secretAccessKey: 'not-the-secret' });
  t.like(await sqsError(wrong.send(new ListQueuesCommand({}))), { name: 'SignatureDoesNotMatch', status: 403 });
  const stranger = client({ accessKeyId: 'AKIDUNKNOWN', secretAccessKey: SECRET });
  t.like(await sqsError(stranger.send(new CreateQueueCommand({ QueueName: 'x' }))), { name: 'InvalidClientTokenId', status: 403 });

  const changed = await query(endpoint, { Action: 'CreateQueue', QueueName: 'intended' }, { tamper: (b) => b.replace('intended', 'hijacked') });
  t.is(changed.status, 403);
  t.regex(changed.body, /<Code>SignatureDoesNotMatch<\/Code>/);
  const unsigned = await query(endpoint, { Action: 'ListQueues' }, { unsigned: true });
  t.is(unsigned.status, 403);
  t.regex(unsigned.body, /<Code>MissingAuthenticationToken<\/Code>/);
  // Nothing refused was created.
  t.notRegex((await query(endpoint, { Action: 'ListQueues' })).body, /QueueUrl/);
});

test('unsigned access is served, as anonymous, only when the node allows it; a known key must still sign correctly', async (t) => {
  const { endpoint } = await startSqs(t, { sqsAllowUnsigned: true });
  t.is((await query(endpoint, { Action: 'CreateQueue', QueueName: 'open' }, { unsigned: true })).status, 200);
  // An unknown key is as good as no signature here (an SDK needs some credentials to send at all).
  t.is((await query(endpoint, { Action: 'ListQueues' }, { accessKeyId: 'AKIDANYTHING', secret: 'anything' })).status, 200);
  const wrong = await query(endpoint, { Action: 'ListQueues' }, { secret: 'not-the-secret' });
  t.is(wrong.status, 403);
  t.regex(wrong.body, /<Code>SignatureDoesNotMatch<\/Code>/);
});
