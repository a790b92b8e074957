/** SQS's message actions: send, receive, delete and change visibility, one or a batch at a time. */
import { createHash } from 'node:crypto';
import { LIMITS, MESSAGE_GROUP_ID } from '../protocol/limits.ts';
import type { OutgoingMessage } from '../protocol/messages.ts';
import { batchEntries, failedEntry, refused, type SqsBatchFailure } from './batch.ts';
import { queueOf, type ActionContext, type ActionHandler } from './context.ts';
import { SqsError } from './errors.ts';
import { optionalInt, optionalString, requiredInt, requiredString, stringList, type Input } from './input.ts';
import { md5OfBody } from './md5.ts';
import { receivedAttributes, sentAttributes, SYSTEM_ATTRIBUTES, systemAttributes } from './message-attributes.ts';
import { isFifoName, sqsName } from './queue-names.ts';
import { notFound } from './queue-actions.ts';
import type { Principal } from './backend.ts';

/** SQS's most messages per receive. */
const MAX_RECEIVE = 10;
/** The characters SQS allows in a body: XML's. */
const BODY_CHARACTERS = /^[\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]*$/u;
/** Wharf's rule for deduplication and receive attempt ids (narrower than SQS's). */
const WHARF_ID = /^[A-Za-z0-9_-]{1,128}$/;

interface Outgoing {
  message: OutgoingMessage;
  md5OfBody: string;
  md5OfAttributes?: string;
}

export const messageActions = {
  SendMessage: async (input, ctx) => {
    const queue = queueOf(input);
    const out = outgoing(input, queue);
    const { messageId } = await ctx.wharf.call(ctx.principal, 'SendMessage', { queue, ...out.message });
    return sendResult(out, messageId);
  },

  SendMessageBatch: async (input, ctx) => {
    const queue = queueOf(input);
    const failed: SqsBatchFailure[] = [];
    const accepted = new Map<string, Outgoing>();
    for (const entry of batchEntries(input)) {
      try {
        accepted.set(entry.Id, outgoing(entry, queue));
      } catch (err) {
        failed.push(refused(entry.Id, err));
      }
    }
    const successful: Array<Record<string, unknown>> = [];
    if (accepted.size === 0) {
      checkExists(ctx, queue);
    } else {
      const entries = [...accepted].map(([id, o]) => ({ id, ...o.message }));
      const reply = await ctx.wharf.call(ctx.principal, 'SendMessageBatch', { queue, entries });
      for (const s of reply.successful) successful.push({ Id: s.id, ...sendResult(accepted.get(s.id) as Outgoing, s.messageId) });
      failed.push(...reply.failed.map(failedEntry));
    }
    return { Successful: successful, Failed: failed };
  },

  ReceiveMessage: async (input, ctx) => {
    const queue = queueOf(input);
    const maxMessages = optionalInt(input, 'MaxNumberOfMessages', 1, MAX_RECEIVE) ?? 1;
    const waitTimeSeconds = optionalInt(input, 'WaitTimeSeconds', 0, LIMITS.maxWaitTimeSeconds);
    const visibilityTimeout = optionalInt(input, 'VisibilityTimeout', 0, LIMITS.maxVisibilityTimeout);
    const attempt = optionalString(input, 'ReceiveRequestAttemptId');
    // AttributeNames is SQS's older spelling of MessageSystemAttributeNames.
    const systemNames = [...stringList(input, 'AttributeNames'), ...stringList(input, 'MessageSystemAttributeNames')];
    const attributeNames = stringList(input, 'MessageAttributeNames');
    // Checked before the receive: a request refused afterwards would have leased its messages.
    const unknown = systemNames.find((n) => !(SYSTEM_ATTRIBUTES as readonly string[]).includes(n));
    if (unknown !== undefined) throw new SqsError('InvalidAttributeName', `Unknown Attribute ${unknown.slice(0, 100)}.`);
    const { messages } = await ctx.wharf.call(ctx.principal, 'ReceiveMessage', {
      queue,
      maxMessages,
      ...(waitTimeSeconds === undefined ? {} : { waitTimeSeconds }),
      ...(visibilityTimeout === undefined ? {} : { visibilityTimeout }),
      ...(attempt === undefined ? {} : { receiveRequestAttemptId: wharfId('ReceiveRequestAttemptId', attempt) }),
      consumer: consumerOf(ctx.principal),
    });
    if (messages.length === 0) return {};
    return {
      Messages: messages.map((m) => {
        const body = Buffer.from(m.body).toString('utf8');
        const attributes = receivedAttributes(m.attributes, attributeNames);
        const system = systemAttributes(m, systemNames, ctx.account);
        return {
          MessageId: m.messageId,
          ReceiptHandle: m.receiptHandle,
          MD5OfBody: md5OfBody(body),
          Body: body,
          ...(system === undefined ? {} : { Attributes: system }),
          ...(attributes.md5 === undefined ? {} : { MD5OfMessageAttributes: attributes.md5, MessageAttributes: attributes.attributes }),
        };
      }),
    };
  },

  DeleteMessage: async (input, ctx) => {
    await ctx.wharf.call(ctx.principal, 'DeleteMessage', { queue: queueOf(input), receiptHandle: receiptHandle(input) });
    return {};
  },

  DeleteMessageBatch: async (input, ctx) =>
    entryBatch(input, ctx, (entry) => ({ receiptHandle: receiptHandle(entry) }), (queue, entries) =>
      ctx.wharf.call(ctx.principal, 'DeleteMessageBatch', { queue, entries }),
    ),

  ChangeMessageVisibility: async (input, ctx) => {
    await ctx.wharf.call(ctx.principal, 'ChangeMessageVisibility', {
      queue: queueOf(input),
      receiptHandle: receiptHandle(input),
      visibilityTimeout: requiredInt(input, 'VisibilityTimeout', 0, LIMITS.maxVisibilityTimeout),
    });
    return {};
  },

  ChangeMessageVisibilityBatch: async (input, ctx) =>
    entryBatch(
      input,
      ctx,
      (entry) => ({ receiptHandle: receiptHandle(entry), visibilityTimeout: requiredInt(entry, 'VisibilityTimeout', 0, LIMITS.maxVisibilityTimeout) }),
      (queue, entries) => ctx.wharf.call(ctx.principal, 'ChangeMessageVisibilityBatch', { queue, entries }),
    ),
} satisfies Record<string, ActionHandler>;

/** A send's message, checked as SQS checks it. */
function outgoing(input: Input, queue: string): Outgoing {
  const body = requiredString(input, 'MessageBody');
  if (body.length === 0) throw new SqsError('InvalidParameterValue', 'The request must contain a non-empty message body.');
  if (!BODY_CHARACTERS.test(body)) {
    throw new SqsError('InvalidMessageContents', 'Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF');
  }
  const attributes = sentAttributes(input);
  const delaySeconds = optionalInt(input, 'DelaySeconds', 0, LIMITS.maxDelaySeconds);
  const deduplicationId = optionalString(input, 'MessageDeduplicationId');
  const groupId = optionalString(input, 'MessageGroupId');
  const message: OutgoingMessage = {
    body: new Uint8Array(Buffer.from(body, 'utf8')),
    ...(Object.keys(attributes.wharf).length > 0 ? { attributes: attributes.wharf } : {}),
    ...(delaySeconds === undefined ? {} : { delaySeconds }),
    ...(deduplicationId === undefined ? {} : { deduplicationId: wharfId('MessageDeduplicationId', deduplicationId) }),
    // On a standard queue SQS takes a group id for fair queueing; Wharf has no such thing there.
    ...(groupId === undefined || !isFifoName(sqsName(queue)) ? {} : { messageGroupId: groupId }),
  };
  return { message, md5OfBody: md5OfBody(body), ...(attributes.md5 === undefined ? {} : { md5OfAttributes: attributes.md5 }) };
}

function sendResult(out: Outgoing, messageId: string): Record<string, unknown> {
  return {
    MessageId: messageId,
    MD5OfMessageBody: out.md5OfBody,
    ...(out.md5OfAttributes === undefined ? {} : { MD5OfMessageAttributes: out.md5OfAttributes }),
  };
}

/**
 * A deduplication or receive attempt id: SQS allows ASCII punctuation, Wharf's ids do not, so an id
 * with any is replaced by its SHA-256 (the same id always maps to the same one).
 */
function wharfId(name: string, id: string): string {
  if (!MESSAGE_GROUP_ID.test(id)) throw new SqsError('InvalidParameterValue', `${name} can contain 1 to 128 alphanumeric and punctuation characters.`);
  return WHARF_ID.test(id) ? id : createHash('sha256').update(id).digest('hex');
}

function receiptHandle(input: Input): string {
  const handle = requiredString(input, 'ReceiptHandle');
  if (handle.length === 0 || handle.length > 256) throw new SqsError('ReceiptHandleIsInvalid', `The input receipt handle "${handle.slice(0, 100)}" is not a valid receipt handle.`);
  return handle;
}

/** The lease owner Wharf records for this principal's receives (peek and the inspector show it). */
function consumerOf(principal: Principal): string {
  return `sqs:${principal.name}`.replace(/[^\x21-\x7e]/g, '_').slice(0, 128);
}

function checkExists(ctx: ActionContext, queue: string): void {
  if (!ctx.wharf.queues(ctx.principal).some((q) => q.name === queue)) throw notFound();
}

/** A delete or visibility batch: entries checked here, the rest by Wharf, failures of both merged. */
async function entryBatch<E>(
  input: Input,
  ctx: ActionContext,
  read: (entry: Input) => E,
  run: (queue: string, entries: Array<{ id: string } & E>) => Promise<{ successful: Array<{ id: string }>; failed: Parameters<typeof failedEntry>[0][] }>,
): Promise<Record<string, unknown>> {
  const queue = queueOf(input);
  const failed: SqsBatchFailure[] = [];
  const entries: Array<{ id: string } & E> = [];
  for (const entry of batchEntries(input)) {
    try {
      entries.push({ id: entry.Id, ...read(entry) });
    } catch (err) {
      failed.push(refused(entry.Id, err));
    }
  }
  if (entries.length === 0) {
    checkExists(ctx, queue);
    return { Successful: [], Failed: failed };
  }
  const reply = await run(queue, entries);
  return { Successful: reply.successful.map((s) => ({ Id: s.id })), Failed: [...failed, ...reply.failed.map(failedEntry)] };
}
