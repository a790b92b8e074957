/**
 * Message attributes against a real node: typed values round-trip; SQS's rules are enforced with
 * invalid_message_attribute, for a whole SendMessage and for the one offending SendMessageBatch entry.
 */
import test from 'ava';
import { ErrorCode } from '../../src/errors.ts';
import { LIMITS } from '../../src/protocol/limits.ts';
import type { MessageAttributes } from '../../src/protocol/messages.ts';
import { counts, failsWith, receiveSome } from '../helpers/queue-assertions.ts';
import { startWharf } from '../helpers/wharf.ts';

const body = new TextEncoder().encode('x');

test('string, number and binary attributes come back as sent', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('orders');
  const attributes: MessageAttributes = {
    kind: { type: 'string', value: 'order é' },
    amount: { type: 'number', value: '-12.5e3' },
    blob: { type: 'binary', value: new Uint8Array([0, 255]) },
  };
  await client.sendMessage('orders', 'x', { attributes });
  const [m] = await receiveSome(client, 'orders');
  t.deepEqual({ ...m?.attributes, blob: { type: 'binary', value: new Uint8Array(m?.attributes['blob']?.value as Uint8Array) } }, attributes);
});

test('SendMessage breaking an attribute rule is invalid_message_attribute and stores nothing', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('orders');
  const bad: MessageAttributes[] = [
    Object.fromEntries(Array.from({ length: LIMITS.maxMessageAttributes + 1 }, (_, i) => [`a${i}`, { type: 'string', value: 'v' }])),
    { 'AWS.trace': { type: 'string', value: 'v' } },
    { 'a..b': { type: 'string', value: 'v' } },
    { 'bad name': { type: 'string', value: 'v' } },
    { n: { type: 'number', value: 'twelve' } },
    { n: { type: 'number', value: '1e127' } },
    { n: { type: 'number', value: '1'.repeat(39) } },
    { s: { type: 'string', value: '' } },
    { s: { type: 'string', value: 'bell\u0007' } },
  ];
  for (const attributes of bad) {
    await failsWith(t, client.sendMessage('orders', 'x', { attributes }), ErrorCode.InvalidMessageAttribute, Object.keys(attributes)[0]);
  }
  t.like((await client.getQueueAttributes('orders')).counts, counts(0, 0, 0));
});

test('in a SendMessageBatch only the entry breaking a rule fails, as a sender fault', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('orders');
  const reply = await client.sendMessageBatch('orders', [
    { id: 'good', body, attributes: { n: { type: 'number', value: '42' } } },
    { id: 'bad', body, attributes: { n: { type: 'number', value: 'forty-two' } } },
  ]);
  t.deepEqual(reply.successful.map((s) => s.id), ['good']);
  t.like(reply.failed, [{ id: 'bad', code: ErrorCode.InvalidMessageAttribute, senderFault: true }]);
  t.like((await client.getQueueAttributes('orders')).counts, counts(1, 0, 0));
});
