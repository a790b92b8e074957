/**
 * `wharf queue create|list|attrs|set|delete|purge`: managing queues.
 */
import { Argument, Option, type Command } from 'commander';
import { BOOLEANS, CHOICES, CREATION, SETTABLE } from '../protocol/attributes.ts';
import { LIMITS } from '../protocol/limits.ts';
import type { AttributeChanges, OptionalAttribute, QueueAttributes } from '../protocol/messages.ts';
import { addDeadLetterOptions, deadLetterAttributes, deadLetterRows, type DeadLetterFlags } from './dlq.ts';
import type { WharfClient } from '../client/client.ts';
import { outputOf, withClient } from './connection.ts';
import { attributeRows, countRows, formatTime } from './output.ts';
import { integerIn, queueNameArg, tagArg } from './parse.ts';
import { registerTagCommands } from './tags.ts';

interface AttributeFlag {
  attribute: NumericAttribute;
  /** Commander's name of the option's value: the long flag in camelCase. */
  key: string;
  flags: string;
  description: string;
  settable: boolean;
}

type NumericAttribute = Exclude<keyof QueueAttributes, keyof typeof CHOICES | keyof typeof BOOLEANS | OptionalAttribute>;

const ATTRIBUTE_FLAGS: readonly AttributeFlag[] = [
  {
    attribute: 'visibilityTimeout',
    key: 'visibilityTimeout',
    flags: '--visibility-timeout <seconds>',
    description: 'seconds a received message stays invisible to other receivers',
    settable: true,
  },
  {
    attribute: 'retentionPeriod',
    key: 'retention',
    flags: '--retention <seconds>',
    description: 'seconds a message is kept before it is dropped unreceived',
    settable: true,
  },
  {
    attribute: 'maximumMessageSize',
    key: 'maxMessageSize',
    flags: '--max-message-size <bytes>',
    description: 'largest message (body plus attributes), bytes',
    settable: true,
  },
  {
    attribute: 'delaySeconds',
    key: 'delay',
    flags: '--delay <seconds>',
    description: 'seconds every new message waits before it can be received',
    settable: true,
  },
  {
    attribute: 'receiveWaitTime',
    key: 'receiveWait',
    flags: '--receive-wait <seconds>',
    description: 'default long-poll wait of receive, seconds',
    settable: true,
  },
  {
    attribute: 'orderingWindowMs',
    key: 'orderingWindow',
    flags: '--ordering-window <ms>',
    description: 'with --ordering timeWindow: how long each message is held, ms',
    settable: true,
  },
  {
    attribute: 'deduplicationWindow',
    key: 'deduplicationWindow',
    flags: '--deduplication-window <seconds>',
    description: 'seconds a deduplication id is remembered',
    settable: true,
  },
  {
    attribute: 'retentionBytes',
    key: 'retentionBytes',
    flags: '--retention-bytes <bytes>',
    description: 'streams: bytes each partition keeps before the oldest messages go, 0 for no limit',
    settable: true,
  },
  {
    attribute: 'partitions',
    key: 'partitions',
    flags: '--partitions <n>',
    description: 'partitions of the queue (fixed at creation)',
    settable: false,
  },
  {
    attribute: 'replicationFactor',
    key: 'replicationFactor',
    flags: '--replication-factor <n>',
    description: 'copies of each partition on different nodes (fixed at creation)',
    settable: false,
  },
];

function rangeOf(attribute: NumericAttribute): { min: number; max: number; default: number } {
  return attribute === 'partitions' || attribute === 'replicationFactor' ? CREATION[attribute] : SETTABLE[attribute];
}

function addAttributeOptions(command: Command, settableOnly: boolean): Command {
  for (const flag of ATTRIBUTE_FLAGS) {
    if (settableOnly && !flag.settable) continue;
    const range = rangeOf(flag.attribute);
    command.addOption(
      new Option(
        flag.flags,
        `${flag.description} (${range.min}-${range.max}${settableOnly ? '' : `, default ${range.default}`})`,
      )
        .argParser(integerIn(range.min, range.max)),
    );
  }
  const replication = CHOICES.replication;
  command.addOption(
    new Option('--replication <mode>', 'acknowledge after a majority of replicas (sync) or the primary alone (async) persisted')
      .choices(replication.values),
  );
  command.addOption(
    new Option(
      '--ordering <mode>',
      'deliver by arrival (best effort), or hold each message --ordering-window ms and release in producer-timestamp order',
    ).choices(CHOICES.ordering.values),
  );
  command.addOption(
    new Option('--deduplication-scope <scope>', 'deduplication ids name a message of the queue, or of its message group (FIFO)')
      .choices(CHOICES.deduplicationScope.values),
  );
  command.addOption(
    new Option('--content-based-deduplication <on|off>', "a message sent without a deduplication id gets its body's SHA-256 as one")
      .choices(['on', 'off']),
  );
  if (!settableOnly && !BOOLEANS.fifo.settable) {
    command.option('--fifo', 'a FIFO queue: messages name a message group, each group is delivered in order (fixed at creation)');
  }
  if (!settableOnly) {
    command.addOption(
      new Option('--mode <mode>', 'queue: messages leased and deleted (SQS); stream: kept until retention, read by offset (fixed at creation)')
        .choices(CHOICES.mode.values),
    );
  }
  return addDeadLetterOptions(command, settableOnly);
}

type AttributeOptions = Partial<Record<string, number>> & {
  replication?: QueueAttributes['replication'];
  ordering?: QueueAttributes['ordering'];
  deduplicationScope?: QueueAttributes['deduplicationScope'];
  contentBasedDeduplication?: 'on' | 'off';
  fifo?: boolean;
  mode?: QueueAttributes['mode'];
} & DeadLetterFlags;

/** The attribute flags that were given, as queue attributes. */
function givenAttributes(options: AttributeOptions): Record<string, unknown> {
  const out: Record<string, unknown> = { ...deadLetterAttributes(options) };
  for (const { attribute, key } of ATTRIBUTE_FLAGS) {
    const value = options[key];
    if (value !== undefined) out[attribute] = value;
  }
  if (options.replication !== undefined) out['replication'] = options.replication;
  if (options.ordering !== undefined) out['ordering'] = options.ordering;
  if (options.deduplicationScope !== undefined) out['deduplicationScope'] = options.deduplicationScope;
  if (options.contentBasedDeduplication !== undefined) out['contentBasedDeduplication'] = options.contentBasedDeduplication === 'on';
  if (options.fifo === true) out['fifo'] = true;
  if (options.mode !== undefined) out['mode'] = options.mode;
  return out;
}

const queueArgument = (description = 'queue name') => new Argument('<name>', description).argParser(queueNameArg);

/** Every queue name (following nextToken), or the first `limit` ones. */
export async function listAll(
  client: WharfClient,
  options: { prefix?: string; limit?: number; pageSize?: number } = {},
): Promise<string[]> {
  const names: string[] = [];
  let nextToken: string | undefined;
  const pageSize = options.pageSize ?? LIMITS.maxListQueues;
  do {
    const wanted = options.limit === undefined ? pageSize : Math.min(pageSize, options.limit - names.length);
    const page = await client.listQueues({
      limit: wanted,
      ...(options.prefix === undefined ? {} : { prefix: options.prefix }),
      ...(nextToken === undefined ? {} : { nextToken }),
    });
    names.push(...page.queues);
    nextToken = page.nextToken;
  } while (nextToken !== undefined && (options.limit === undefined || names.length < options.limit));
  return names;
}

export function registerQueueCommands(program: Command): void {
  const queue = program
    .command('queue')
    .description('create, list, inspect, change, purge and delete queues')
    .addHelpText('after', '\nRun "wharf queue <command> --help" for the options of each command.');

  addAttributeOptions(
    queue
      .command('create')
      .description('create a queue; succeeds unchanged if it exists with the same attributes')
      .addArgument(queueArgument('name of the new queue (1-80 of A-Z a-z 0-9 - _)')),
    false,
  )
    .option('--tag <key=value>', 'a tag of the new queue (repeatable; ignored if the queue exists)', tagArg)
    .addHelpText(
      'after',
      '\nExamples:\n  wharf queue create orders --visibility-timeout 60 --partitions 4 --tag team=payments\n' +
        '  wharf queue create payments --fifo --content-based-deduplication on --deduplication-window 600',
    )
    .action(async (name: string, options: AttributeOptions & { tag?: Record<string, string> }, command: Command) => {
      const out = outputOf(command);
      const { tag, ...rest } = options;
      const attributes = givenAttributes(rest);
      const reply = await withClient(command, (client) =>
        client.createQueue(name, Object.keys(attributes).length > 0 ? (attributes as Partial<QueueAttributes>) : undefined, tag),
      );
      out.document(reply);
      out.line(reply.created ? `created queue ${name}` : `queue ${name} already exists with these attributes`);
    });

  queue
    .command('list')
    .description('list queue names, one per line, in name order')
    .option('--prefix <prefix>', 'only queues whose name starts with this')
    .addOption(
      new Option('--limit <n>', 'list at most n queues (default: all)').argParser(integerIn(1, Number.MAX_SAFE_INTEGER)),
    )
    .addOption(
      new Option('--page-size <n>', 'queues asked for per request')
        .argParser(integerIn(1, LIMITS.maxListQueues))
        .hideHelp(),
    )
    .action(async (options: { prefix?: string; limit?: number; pageSize?: number }, command: Command) => {
      const out = outputOf(command);
      const names = await withClient(command, (client) => listAll(client, options));
      out.document({ queues: names });
      for (const name of names) out.line(name);
    });

  queue
    .command('attrs')
    .alias('get')
    .description("show a queue's attributes, approximate message counts, oldest message's age and times")
    .addArgument(queueArgument())
    .action(async (name: string, _options: unknown, command: Command) => {
      const out = outputOf(command);
      const description = await withClient(command, (client) => client.getQueueAttributes(name));
      out.document(description);
      out.pairs([
        ['queue', description.queue],
        ...attributeRows(description.attributes),
        ...deadLetterRows(description.attributes),
        ...countRows(description.counts),
        ['created', formatTime(description.createdAt)],
        ['modified', formatTime(description.modifiedAt)],
      ]);
    });

  addAttributeOptions(
    queue
      .command('set')
      .description('change attributes of a queue (at least one option); prints all its attributes after')
      .addArgument(queueArgument()),
    true,
  )
    .addHelpText('after', '\nExample:\n  wharf queue set orders --visibility-timeout 120 --receive-wait 20')
    .action(async (name: string, options: AttributeOptions, command: Command) => {
      const out = outputOf(command);
      const attributes = givenAttributes(options);
      if (Object.keys(attributes).length === 0) {
        command.error('error: give at least one attribute to set, e.g. --visibility-timeout 60', { exitCode: 1 });
      }
      const updated = await withClient(command, (client) => client.setQueueAttributes(name, attributes as AttributeChanges));
      out.document({ queue: name, attributes: updated });
      out.pairs([['queue', name], ...attributeRows(updated), ...deadLetterRows(updated)]);
    });

  queue
    .command('delete')
    .description('delete a queue and every message in it')
    .addArgument(queueArgument())
    .action(async (name: string, _options: unknown, command: Command) => {
      const out = outputOf(command);
      await withClient(command, (client) => client.deleteQueue(name));
      out.document({ queue: name, deleted: true });
      out.line(`deleted queue ${name}`);
    });

  queue
    .command('purge')
    .description('delete every message of a queue, keeping the queue')
    .addArgument(queueArgument())
    .action(async (name: string, _options: unknown, command: Command) => {
      const out = outputOf(command);
      const { purged } = await withClient(command, (client) => client.purgeQueue(name));
      out.document({ queue: name, purged });
      out.line(`purged ${purged} message${purged === 1 ? '' : 's'} from ${name}`);
    });

  registerTagCommands(queue);
}
