/**
 * The SQS endpoint on every node of a three-node replicated cluster: a queue whose partition's
 * primary is n1 is written through n2's endpoint and read and deleted through n3's, the nodes
 * forwarding to the primary.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import { DeleteMessageCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { createReplicatedQueue, startCluster } from '../helpers/replicated-cluster.ts';
import { ACCESS_KEY_ID, SECRET } from '../helpers/sqs.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { eventually } from '../helpers/eventually.ts';

test('any node serves SQS for any queue', async (t) => {
  const credentials = join(await tempDir(t, 'wharf-sqs-'), 'credentials.json');
  await writeFile(credentials, JSON.stringify({ credentials: [{ accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET, principal: 'test-app' }] }));
  const c = await startCluster(t, { sqsPort: 0, sqsCredentials: credentials });
  await createReplicatedQueue(c, 'shared', 'sync', ['n1']);
  const client = (id: string) => {
    const sqs = new SQSClient({ endpoint: `http://127.0.0.1:${c.nodes.get(id)?.sqsPort}`, region: 'us-east-1', credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET } });
    t.teardown(() => sqs.destroy());
    return sqs;
  };
  const [n2, n3] = [client('n2'), client('n3')];
  const QueueUrl = `http://127.0.0.1:${c.nodes.get('n2')?.sqsPort}/000000000000/shared`;
  const { MessageId } = await eventually(() => n2.send(new SendMessageCommand({ QueueUrl, MessageBody: 'across nodes' })), { message: 'the primary serves' });
  const url3 = `http://127.0.0.1:${c.nodes.get('n3')?.sqsPort}/000000000000/shared`;
  const r = await n3.send(new ReceiveMessageCommand({ QueueUrl: url3, WaitTimeSeconds: 5 }));
  t.is(r.Messages?.[0]?.MessageId, MessageId);
  t.is(r.Messages?.[0]?.Body, 'across nodes');
  await n3.send(new DeleteMessageCommand({ QueueUrl: url3, ReceiptHandle: r.Messages?.[0]?.ReceiptHandle }));
  t.is((await n2.send(new ReceiveMessageCommand({ QueueUrl }))).Messages, undefined);
});
