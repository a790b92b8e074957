/**
 * `wharf send`, `wharf receive` and `wharf delete`: messages in and out of a queue.
 */
import { createInterface } from 'node:readline';
import { Argument, Option, type Command } from 'commander';
import type { SendOptions, WharfClient } from '../client/client.ts';
import { WharfError, toWharfError } from '../errors.ts';
import { LIMITS } from '../protocol/limits.ts';
import type { MessageAttributes, ReceivedMessage } from '../protocol/messages.ts';
import { outputOf, withClient } from './connection.ts';
import {
  ExitCode,
  ExitWith,
  attributeText,
  attributesJson,
  exitCodeOf,
  formatTime,
  printError,
  type Output,
} from './output.ts';
import { attributeArg, dedupIdArg, groupIdArg, integerIn, queueNameArg } from './parse.ts';

/** Sends not yet answered before reading more input: bounds memory however long stdin is. */
const MAX_PENDING_SENDS = 10_000;

const queueArgument = () => new Argument('<queue>', 'queue name').argParser(queueNameArg);

interface SendFlags {
  delay?: number;
  ttl?: number;
  group?: string;
  dedupId?: string;
  attr?: MessageAttributes;
  whole?: boolean;
  count?: boolean;
}

interface ReceiveFlags {
  max: number;
  wait?: number;
  visibilityTimeout?: number;
  consumer?: string;
  delete?: boolean;
  base64?: boolean;
  exitEmpty?: boolean;
}

export function registerMessageCommands(program: Command): void {
  program
    .command('send')
    .description(
      'send messages to a queue: the body arguments as one message, or else each line of standard input as one message',
    )
    .addArgument(queueArgument())
    .argument('[body...]', 'message body; several words are joined by single spaces')
    .addOption(
      new Option(
        '--delay <seconds>',
        `seconds before the messages can be received (0-${LIMITS.maxDelaySeconds}; default: the queue's delay)`,
      ).argParser(integerIn(0, LIMITS.maxDelaySeconds)),
    )
    .addOption(
      new Option('--ttl <seconds>', `the messages expire this long after the send (1-${LIMITS.maxTtlSeconds})`).argParser(integerIn(1, LIMITS.maxTtlSeconds)),
    )
    .addOption(
      new Option(
        '--attr <name=value>',
        `a string message attribute; repeat for more (at most ${LIMITS.maxMessageAttributes})`,
      ).argParser(attributeArg),
    )
    .addOption(new Option('--group <id>', 'message group of every message sent (required on a FIFO queue; each group is delivered in order)').argParser(groupIdArg))
    .addOption(new Option('--dedup-id <id>', 'deduplication id of the message (one message only): a repeat within the queue\'s window stores nothing').argParser(dedupIdArg))
    .option('--whole', 'send all of standard input as one message, bytes unchanged (no body arguments)')
    .option('--count', 'print how many messages were sent instead of their ids')
    .addHelpText(
      'after',
      `
Prints the id of each message sent, one per line, in input order. Empty input lines are skipped.
Messages go in batches; a message the server refuses is reported on stderr with its number and the
others are still sent (exit code 2). Use "--" before a body that starts with "-".

Examples:
  wharf send orders '{"id": 1}'
  seq 1 1000 | wharf send orders --count
  wharf send images --whole < photo.jpg
  wharf send payments --group customer-42 --dedup-id order-1001 '{"amount": 5}'`,
    )
    .action(async (queue: string, body: string[], flags: SendFlags, command: Command) => {
      const out = outputOf(command);
      if (flags.whole === true && body.length > 0) {
        command.error('error: --whole reads standard input; give no body arguments with it', { exitCode: 1 });
      }
      if (flags.dedupId !== undefined && body.length === 0 && flags.whole !== true) {
        command.error('error: --dedup-id names one message: give a body argument or --whole', { exitCode: 1 });
      }
      const options: SendOptions = {
        ...(flags.delay === undefined ? {} : { delaySeconds: flags.delay }),
        ...(flags.ttl === undefined ? {} : { ttlSeconds: flags.ttl }),
        ...(flags.group === undefined ? {} : { messageGroupId: flags.group }),
        ...(flags.dedupId === undefined ? {} : { deduplicationId: flags.dedupId }),
        ...(flags.attr === undefined ? {} : { attributes: flags.attr }),
      };
      if (body.length === 0 && process.stdin.isTTY) {
        process.stderr.write(
          flags.whole === true
            ? 'reading one message from standard input; end it with Ctrl-D\n'
            : 'reading messages from standard input, one per line; end with Ctrl-D\n',
        );
      }
      const source = body.length > 0 ? [body.join(' ')] : flags.whole === true ? wholeStdin() : stdinLines();
      const result = await withClient(command, (client) =>
        sendAll(client, queue, source, options, (id) => {
          if (flags.count !== true) out.line(id);
        }),
      );
      out.document({ queue, sent: result.messageIds.length, failed: result.failed, messageIds: result.messageIds });
      const sent = result.messageIds.length;
      if (flags.count === true) out.line(`sent ${sent} message${sent === 1 ? '' : 's'}`);
      if (result.failed > 0) throw new ExitWith(ExitCode.ServerError);
    });

  program
    .command('receive')
    .description(
      'receive messages and print them; each stays in flight (invisible) until deleted or its visibility timeout ends',
    )
    .addArgument(queueArgument())
    .addOption(
      new Option('--max <n>', `receive up to n messages (1-${LIMITS.maxReceiveMessages})`)
        .default(1)
        .argParser(integerIn(1, LIMITS.maxReceiveMessages)),
    )
    .addOption(
      new Option(
        '--wait <seconds>',
        `long-poll: wait up to this long for a message (0-${LIMITS.maxWaitTimeSeconds}; default: the queue's receive-wait)`,
      ).argParser(integerIn(0, LIMITS.maxWaitTimeSeconds)),
    )
    .addOption(
      new Option(
        '--visibility-timeout <seconds>',
        `keep these messages invisible this long (0-${LIMITS.maxVisibilityTimeout}; default: the queue's)`,
      ).argParser(integerIn(0, LIMITS.maxVisibilityTimeout)),
    )
    .option('--consumer <name>', 'the lease owner these deliveries record (default: <host>:<pid>:<random>)')
    .option('--delete', 'delete the messages after printing them')
    .option('--base64', 'print bodies base64-encoded (for binary bodies); default: as UTF-8 text')
    .option('--exit-empty', 'exit with code 4 when no message was received (default: exit 0, print nothing)')
    .addHelpText(
      'after',
      `
Prints, for each message: message-id, receive-count, sent time, receipt-handle (for "wharf delete"),
attributes, and the body last. Messages are separated by a blank line. --json prints them all as
one document.

Examples:
  wharf receive orders --max 10 --wait 20
  wharf receive orders --delete --json`,
    )
    .action(async (queue: string, flags: ReceiveFlags, command: Command) => {
      const out = outputOf(command);
      const extraTimeoutMs = (flags.wait ?? LIMITS.maxWaitTimeSeconds) * 1000;
      const failed = await withClient(
        command,
        async (client) => {
          const messages = await client.receive(queue, {
            maxMessages: flags.max,
            ...(flags.wait === undefined ? {} : { waitTimeSeconds: flags.wait }),
            ...(flags.visibilityTimeout === undefined ? {} : { visibilityTimeout: flags.visibilityTimeout }),
            ...(flags.consumer === undefined ? {} : { consumer: flags.consumer }),
          });
          printMessages(out, queue, messages, flags.base64 === true);
          if (messages.length === 0 && flags.exitEmpty === true) throw new ExitWith(ExitCode.Empty);
          return flags.delete === true ? deleteAll(client, queue, messages) : [];
        },
        { extraTimeoutMs },
      );
      if (failed.length > 0) {
        const unavailable = failed.some((e) => exitCodeOf(e) === ExitCode.Unavailable);
        throw new ExitWith(unavailable ? ExitCode.Unavailable : ExitCode.ServerError);
      }
    });

  program
    .command('delete')
    .description('delete one received message by its receipt handle (as printed by "wharf receive")')
    .addArgument(queueArgument())
    .argument('<receipt-handle>', 'the receipt handle of the delivery')
    .action(async (queue: string, receiptHandle: string, _flags: unknown, command: Command) => {
      const out = outputOf(command);
      await withClient(command, (client) => client.deleteMessage(queue, receiptHandle));
      out.document({ queue, deleted: true });
      out.line('deleted');
    });
}

/** Sends every body through the client's batcher; reports ids in input order. */
async function sendAll(
  client: WharfClient,
  queue: string,
  bodies: Iterable<string | Uint8Array> | AsyncIterable<string | Uint8Array>,
  options: SendOptions,
  onSent: (messageId: string) => void,
): Promise<{ messageIds: string[]; failed: number }> {
  type Outcome = { ok: true; messageId: string } | { ok: false; error: WharfError };
  const pending: Array<{ number: number; outcome: Promise<Outcome> }> = [];
  const messageIds: string[] = [];
  let failed = 0;
  let number = 0;

  const settleOldest = async (): Promise<void> => {
    const oldest = pending.shift();
    if (oldest === undefined) return;
    const outcome = await oldest.outcome;
    if (outcome.ok) {
      messageIds.push(outcome.messageId);
      onSent(outcome.messageId);
      return;
    }
    // Without NATS or a node nothing else will get through either: stop at the first such error.
    if (exitCodeOf(outcome.error) === ExitCode.Unavailable) throw outcome.error;
    failed++;
    printError(outcome.error, `message ${oldest.number}`);
  };

  for await (const body of bodies) {
    number++;
    const outcome = client.send(queue, body, options).then(
      ({ messageId }): Outcome => ({ ok: true, messageId }),
      (err: unknown): Outcome => ({ ok: false, error: toWharfError(err) }),
    );
    pending.push({ number, outcome });
    if (pending.length >= MAX_PENDING_SENDS) await settleOldest();
  }
  await client.flush();
  while (pending.length > 0) await settleOldest();
  return { messageIds, failed };
}

async function* stdinLines(): AsyncGenerator<string> {
  const lines = createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of lines) {
    if (line !== '') yield line;
  }
}

async function* wholeStdin(): AsyncGenerator<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) {
    chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  }
  yield new Uint8Array(Buffer.concat(chunks));
}

function printMessages(out: Output, queue: string, messages: readonly ReceivedMessage[], base64: boolean): void {
  const bodyOf = (m: ReceivedMessage) =>
    Buffer.from(m.body.buffer, m.body.byteOffset, m.body.byteLength).toString(base64 ? 'base64' : 'utf8');
  out.document({
    queue,
    messages: messages.map((m) => ({
      messageId: m.messageId,
      receiptHandle: m.receiptHandle,
      receiveCount: m.receiveCount,
      sentAt: m.sentAt,
      firstReceivedAt: m.firstReceivedAt,
      ...(m.messageGroupId === undefined ? {} : { messageGroupId: m.messageGroupId }),
      attributes: attributesJson(m.attributes),
      body: bodyOf(m),
      bodyEncoding: base64 ? 'base64' : 'utf8',
    })),
  });
  messages.forEach((m, i) => {
    if (i > 0) out.line('');
    out.pairs([
      ['message-id', m.messageId],
      ['receive-count', String(m.receiveCount)],
      ['sent', formatTime(m.sentAt)],
      ['receipt-handle', m.receiptHandle],
      ...(m.messageGroupId === undefined ? [] : [['message-group', m.messageGroupId] as [string, string]]),
      ...Object.entries(m.attributes).map(([name, a]): [string, string] => ['attribute', attributeText(name, a)]),
      ['body', bodyOf(m)],
    ]);
  });
}

/** Deletes the received messages; returns the errors of those that could not be deleted (printed). */
async function deleteAll(
  client: WharfClient,
  queue: string,
  messages: readonly ReceivedMessage[],
): Promise<WharfError[]> {
  const errors: WharfError[] = [];
  for (let start = 0; start < messages.length; start += LIMITS.maxBatchEntries) {
    const chunk = messages.slice(start, start + LIMITS.maxBatchEntries);
    const { failed } = await client.deleteMessageBatch(
      queue,
      chunk.map((m, i) => ({ id: String(i), receiptHandle: m.receiptHandle })),
    );
    for (const failure of failed) {
      const error = WharfError.fromWire({ code: failure.code, message: failure.message });
      errors.push(error);
      printError(error, `could not delete message ${chunk[Number(failure.id)]?.messageId ?? failure.id}`);
    }
  }
  return errors;
}
