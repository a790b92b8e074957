/** SQS's queue actions: create, find, list, attributes, delete, purge, tags, dead-letter sources. */
import { SqsError } from './errors.ts';
import { optionalInt, optionalString, requiredString, stringList, stringMap } from './input.ts';
import { queueOf, urlOf, type ActionContext, type ActionHandler } from './context.ts';
import { wharfAttributes, sqsAttributes } from './queue-attributes.ts';
import { isFifoName, sqsName, wharfName } from './queue-names.ts';

/** SQS's page limit of ListQueues and ListDeadLetterSourceQueues. */
const MAX_RESULTS = 1000;

export const queueActions = {
  CreateQueue: async (input, ctx) => {
    const name = requiredString(input, 'QueueName');
    const queue = wharfName(name);
    const attributes = wharfAttributes(stringMap(input, 'Attributes'), true);
    if ((attributes.fifo ?? false) !== isFifoName(name)) {
      throw new SqsError('InvalidParameterValue', 'The name of a FIFO queue must end with the .fifo suffix, and only a queue with FifoQueue true may have it.');
    }
    // The JSON protocol names CreateQueue's tags `tags`; the query protocol's Tag.N becomes `Tags`.
    const tags = { ...stringMap(input, 'Tags'), ...stringMap(input, 'tags') };
    await ctx.wharf.call(ctx.principal, 'CreateQueue', {
      queue,
      attributes: Object.fromEntries(Object.entries(attributes).filter(([, v]) => v !== null)),
      ...(Object.keys(tags).length > 0 ? { tags } : {}),
    });
    return { QueueUrl: urlOf(ctx, queue) };
  },

  GetQueueUrl: async (input, ctx) => {
    const queue = wharfName(requiredString(input, 'QueueName'));
    if (!ctx.wharf.queues(ctx.principal).some((q) => q.name === queue)) throw notFound();
    return { QueueUrl: urlOf(ctx, queue) };
  },

  ListQueues: async (input, ctx) => {
    const prefix = optionalString(input, 'QueueNamePrefix') ?? '';
    const names = ctx.wharf.queues(ctx.principal).map((q) => q.name).filter((q) => sqsName(q).startsWith(prefix));
    return page(names, input, ctx);
  },

  GetQueueAttributes: async (input, ctx) => {
    const names = stringList(input, 'AttributeNames');
    const description = await ctx.wharf.call(ctx.principal, 'GetQueueAttributes', { queue: queueOf(input) });
    const attributes = sqsAttributes(description, names, ctx.account);
    return Object.keys(attributes).length === 0 ? {} : { Attributes: attributes };
  },

  SetQueueAttributes: async (input, ctx) => {
    const queue = queueOf(input);
    const given = stringMap(input, 'Attributes');
    if ('FifoQueue' in given) throw new SqsError('InvalidAttributeName', 'FifoQueue is set when a queue is created and cannot be changed.');
    await ctx.wharf.call(ctx.principal, 'SetQueueAttributes', { queue, attributes: wharfAttributes(given, false) });
    return {};
  },

  DeleteQueue: async (input, ctx) => {
    await ctx.wharf.call(ctx.principal, 'DeleteQueue', { queue: queueOf(input) });
    return {};
  },

  PurgeQueue: async (input, ctx) => {
    await ctx.wharf.call(ctx.principal, 'PurgeQueue', { queue: queueOf(input) });
    return {};
  },

  TagQueue: async (input, ctx) => {
    await ctx.wharf.call(ctx.principal, 'TagQueue', { queue: queueOf(input), tags: stringMap(input, 'Tags') });
    return {};
  },

  UntagQueue: async (input, ctx) => {
    await ctx.wharf.call(ctx.principal, 'UntagQueue', { queue: queueOf(input), tagKeys: stringList(input, 'TagKeys') });
    return {};
  },

  ListQueueTags: async (input, ctx) => {
    const { tags } = await ctx.wharf.call(ctx.principal, 'ListQueueTags', { queue: queueOf(input) });
    return Object.keys(tags).length === 0 ? {} : { Tags: tags };
  },

  ListDeadLetterSourceQueues: async (input, ctx) => {
    const dlq = queueOf(input);
    const queues = ctx.wharf.queues(ctx.principal);
    if (!queues.some((q) => q.name === dlq)) throw notFound();
    const sources = queues.filter((q) => q.attributes.redrivePolicy?.deadLetterQueue === dlq).map((q) => q.name);
    // The JSON protocol spells this list `queueUrls`, unlike ListQueues' `QueueUrls`.
    const { QueueUrls, NextToken } = page(sources, input, ctx);
    return { queueUrls: QueueUrls, ...(NextToken === undefined ? {} : { NextToken }) };
  },
} satisfies Record<string, ActionHandler>;

export function notFound(): SqsError {
  return new SqsError('QueueDoesNotExist', 'The specified queue does not exist.');
}

/**
 * One page of queue names in SQS-name order. With MaxResults a NextToken (the last name shown)
 * follows while more remain; without it, up to 1,000 and no token, as SQS.
 */
function page(names: string[], input: Record<string, unknown>, ctx: ActionContext): { QueueUrls: string[]; NextToken?: string } {
  const max = optionalInt(input, 'MaxResults', 1, MAX_RESULTS);
  const token = optionalString(input, 'NextToken');
  const after = token === undefined ? undefined : Buffer.from(token, 'base64url').toString('utf8');
  const sorted = names.map(sqsName).sort().filter((n) => after === undefined || n > after);
  const shown = sorted.slice(0, max ?? MAX_RESULTS);
  const last = shown[shown.length - 1];
  const more = max !== undefined && sorted.length > shown.length && last !== undefined;
  return { QueueUrls: shown.map((n) => urlOf(ctx, wharfName(n))), ...(more ? { NextToken: Buffer.from(last, 'utf8').toString('base64url') } : {}) };
}
