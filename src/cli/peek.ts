/**
 * `wharf peek <queue>`: browse messages without consuming them (PeekMessages), one page per run:
 * ready, in flight (with lease owner and deadline) and delayed (with when they are due). The next
 * page's cursor is printed last; pass it back with --cursor. A dead-letter queue is browsed the same
 * way: its messages are peeked like any other queue's. A stream is browsed by offset (--offset with
 * --partition), and the page lists its consumer groups' committed offsets.
 */
import { Argument, Option, type Command } from 'commander';
import { LIMITS } from '../protocol/limits.ts';
import { PEEK_STATES, type PeekState, type PeekedMessage, type Request } from '../protocol/messages.ts';
import { outputOf, withClient } from './connection.ts';
import { attributeText, attributesJson, formatTime } from './output.ts';
import { integerIn, queueNameArg } from './parse.ts';

interface PeekFlags {
  state?: PeekState[];
  limit: number;
  cursor?: string;
  partition?: number;
  id?: string;
  attr?: string;
  body?: boolean;
  offset?: number;
}

export function registerPeekCommand(program: Command): void {
  program
    .command('peek')
    .description('browse messages without consuming them: ready, in flight (lease owner, deadline) and delayed (due time)')
    .addArgument(new Argument('<queue>', 'queue name').argParser(queueNameArg))
    .addOption(
      new Option('--state <state>', 'only messages in this state; repeat for more (default: all)')
        .choices(PEEK_STATES)
        .argParser((value: string, previous: PeekState[] | undefined) => [...(previous ?? []), value as PeekState]),
    )
    .addOption(
      new Option('--limit <n>', `messages on this page (1-${LIMITS.maxPeekMessages})`).default(20).argParser(integerIn(1, LIMITS.maxPeekMessages)),
    )
    .option('--cursor <cursor>', 'continue where the previous page ended (its "cursor" line)')
    .addOption(new Option('--partition <n>', 'only this partition').argParser(integerIn(0, 63)))
    .option('--id <message-id>', 'only the message with this id')
    .option('--attr <name[=value]>', 'only messages with this attribute (and value)')
    .option('--body', 'print bodies (UTF-8) as well')
    .addOption(new Option('--offset <n>', 'streams: from this offset of --partition').argParser(integerIn(0, Number.MAX_SAFE_INTEGER)))
    .addHelpText(
      'after',
      `
Prints, for each message: message-id, state, partition, receive-count, sent time, lease owner and
lease end (in flight), due time (delayed), attributes, and the body with --body. On a stream: each
message's offset (state stored), then each consumer group's committed offset per partition. A page reads at
most ${LIMITS.maxPeekScan.toLocaleString('en-US')} stored messages, so a narrow filter may return fewer than --limit with a cursor.

Examples:
  wharf peek orders --state inflight
  wharf peek clicks --partition 0 --offset 1000
  wharf peek orders --limit 100 --cursor WzEsNDIsMCwibSIsMTAxXQ`,
    )
    .action(async (queue: string, flags: PeekFlags, command: Command) => {
      const out = outputOf(command);
      const request: Omit<Request<'PeekMessages'>, 'queue'> = {
        limit: flags.limit,
        ...(flags.state === undefined ? {} : { states: [...new Set(flags.state)] }),
        ...(flags.cursor === undefined ? {} : { cursor: flags.cursor }),
        ...(flags.partition === undefined ? {} : { partition: flags.partition }),
        ...(flags.id === undefined ? {} : { messageId: flags.id }),
        ...(flags.attr === undefined ? {} : { attribute: attributeFilter(flags.attr) }),
        ...(flags.body === true ? { body: true } : {}),
        ...(flags.offset === undefined ? {} : { offset: flags.offset }),
      };
      const page = await withClient(command, (client) => client.peek(queue, request));
      out.document({ queue, ...page, messages: page.messages.map(messageJson) });
      page.messages.forEach((m, i) => {
        if (i > 0) out.line('');
        out.pairs(messageRows(m));
      });
      if (page.messages.length > 0) out.line('');
      for (const c of page.committed ?? []) out.line(`committed ${c.group} partition ${c.partition} offset ${c.offset}`);
      out.line(page.cursor === undefined ? `end (${page.scanned} stored messages read)` : `cursor ${page.cursor}`);
    });
}

function attributeFilter(text: string): { name: string; value?: string } {
  const i = text.indexOf('=');
  return i < 0 ? { name: text } : { name: text.slice(0, i), value: text.slice(i + 1) };
}

const bodyText = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8');

function messageRows(m: PeekedMessage): Array<[string, string]> {
  return [
    ['message-id', m.messageId],
    ['state', m.state],
    ['partition', String(m.partition)],
    ...(m.offset === undefined ? [] : [['offset', String(m.offset)] as [string, string]]),
    ['receive-count', String(m.receiveCount)],
    ...(m.messageGroupId === undefined ? [] : [['message-group', m.messageGroupId] as [string, string]]),
    ['sent', formatTime(m.sentAt)],
    ...(m.leaseOwner === undefined ? [] : [['lease-owner', m.leaseOwner] as [string, string]]),
    ...(m.leaseUntil === undefined ? [] : [['lease-until', formatTime(m.leaseUntil)] as [string, string]]),
    ...(m.delayedUntil === undefined ? [] : [['delayed-until', formatTime(m.delayedUntil)] as [string, string]]),
    ...Object.entries(m.attributes).map(([name, a]): [string, string] => ['attribute', attributeText(name, a)]),
    ...(m.body === undefined ? [] : [['body', bodyText(m.body)] as [string, string]]),
  ];
}

function messageJson(m: PeekedMessage): Record<string, unknown> {
  const { body, attributes, ...rest } = m;
  return { ...rest, attributes: attributesJson(attributes), ...(body === undefined ? {} : { body: bodyText(body) }) };
}
