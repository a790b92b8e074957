/**
 * Message attributes and system attributes, SQS's way. Wharf stores the three SQS types (String,
 * Number, Binary) but not a custom type's suffix (`Number.float`): such an attribute comes back
 * with its base type. Which attributes a receive returns is chosen by name, `All`, `.*` or a
 * `prefix.*`.
 */
import type { MessageAttributes, ReceivedMessage } from '../protocol/messages.ts';
import { SqsError } from './errors.ts';
import { objectMap, optionalString, type Input } from './input.ts';
import { md5OfAttributes, type SqsAttributeValue } from './md5.ts';
import { queueArn, type Account } from './queue-names.ts';

/** What a send's MessageAttributes become, and the digest SQS answers for them. */
export interface SentAttributes {
  wharf: MessageAttributes;
  /** Of the attributes as sent (custom types included), as SQS computes it. */
  md5?: string;
}

export function sentAttributes(input: Input): SentAttributes {
  const given = objectMap(input, 'MessageAttributes');
  const wharf: MessageAttributes = {};
  const sqs: Record<string, SqsAttributeValue> = {};
  for (const [name, value] of Object.entries(given)) {
    const dataType = optionalString(value, 'DataType');
    if (dataType === undefined) throw new SqsError('InvalidParameterValue', `The message attribute '${name}' must contain a non-empty attribute type.`);
    const base = dataType.split('.')[0];
    if (base === 'Binary') {
      const text = optionalString(value, 'BinaryValue');
      if (text === undefined) throw new SqsError('InvalidParameterValue', `The message attribute '${name}' with type 'Binary' must use field 'Binary'.`);
      const bytes = new Uint8Array(Buffer.from(text, 'base64'));
      wharf[name] = { type: 'binary', value: bytes };
      sqs[name] = { DataType: dataType, BinaryValue: bytes };
    } else if (base === 'String' || base === 'Number') {
      const text = optionalString(value, 'StringValue');
      if (text === undefined) throw new SqsError('InvalidParameterValue', `The message attribute '${name}' with type '${base}' must use field 'String'.`);
      wharf[name] = { type: base === 'String' ? 'string' : 'number', value: text };
      sqs[name] = { DataType: dataType, StringValue: text };
    } else {
      throw new SqsError('InvalidParameterValue', `The type of message (user) attribute '${name}' is invalid. You must use only the following supported type prefixes: Binary, Number, String.`);
    }
  }
  return Object.keys(sqs).length === 0 ? { wharf } : { wharf, md5: md5OfAttributes(sqs) };
}

/** A received message's attributes selected by `names`, in SQS's reply shape, with their digest. */
export function receivedAttributes(attributes: MessageAttributes, names: readonly string[]): { attributes?: Record<string, unknown>; md5?: string } {
  const chosen: Record<string, SqsAttributeValue> = {};
  for (const [name, a] of Object.entries(attributes)) {
    if (!selected(name, names)) continue;
    chosen[name] = a.type === 'binary' ? { DataType: 'Binary', BinaryValue: a.value } : { DataType: a.type === 'string' ? 'String' : 'Number', StringValue: a.value };
  }
  if (Object.keys(chosen).length === 0) return {};
  const shown = Object.fromEntries(
    Object.entries(chosen).map(([name, v]) => [
      name,
      v.BinaryValue === undefined ? { DataType: v.DataType, StringValue: v.StringValue } : { DataType: v.DataType, BinaryValue: Buffer.from(v.BinaryValue).toString('base64') },
    ]),
  );
  return { attributes: shown, md5: md5OfAttributes(chosen) };
}

function selected(name: string, names: readonly string[]): boolean {
  return names.some((n) => n === 'All' || n === '.*' || n === name || (n.endsWith('.*') && name.startsWith(n.slice(0, -1))));
}

/** Every system attribute SQS defines for a received message. */
export const SYSTEM_ATTRIBUTES = [
  'All',
  'SenderId',
  'SentTimestamp',
  'ApproximateReceiveCount',
  'ApproximateFirstReceiveTimestamp',
  'SequenceNumber',
  'MessageDeduplicationId',
  'MessageGroupId',
  'AWSTraceHeader',
  'DeadLetterQueueSourceArn',
] as const;

/** The system attributes of a received message that `names` asks for and Wharf knows. */
export function systemAttributes(message: ReceivedMessage, names: readonly string[], account: Account): Record<string, string> | undefined {
  for (const name of names) {
    if (!(SYSTEM_ATTRIBUTES as readonly string[]).includes(name)) throw new SqsError('InvalidAttributeName', `Unknown Attribute ${name.slice(0, 100)}.`);
  }
  if (names.length === 0) return undefined;
  const all = names.includes('All');
  const want = (name: string) => all || names.includes(name);
  const out: Record<string, string> = {};
  if (want('SentTimestamp')) out['SentTimestamp'] = String(message.sentAt);
  if (want('ApproximateReceiveCount')) out['ApproximateReceiveCount'] = String(message.receiveCount);
  if (want('ApproximateFirstReceiveTimestamp')) out['ApproximateFirstReceiveTimestamp'] = String(message.firstReceivedAt);
  if (want('MessageGroupId') && message.messageGroupId !== undefined) out['MessageGroupId'] = message.messageGroupId;
  if (want('DeadLetterQueueSourceArn') && message.deadLetter !== undefined) out['DeadLetterQueueSourceArn'] = queueArn(account, message.deadLetter.sourceQueue);
  return Object.keys(out).length === 0 ? undefined : out;
}
