/**
 * `wharf stream read|offsets|commit|seek|groups`: streams (queues created with `--mode stream`),
 * read by offset, and their consumer groups' committed offsets. `commit` and `seek` are an
 * operator's: the node refuses them while the group has members (they commit their own).
 */
import { Argument, InvalidArgumentError, Option, type Command } from 'commander';
import type { WharfClient } from '../client/client.ts';
import { LIMITS } from '../protocol/limits.ts';
import type { PartitionOffsets, StreamMessage } from '../protocol/messages.ts';
import { outputOf, withClient } from './connection.ts';
import { attributesJson, formatTime } from './output.ts';
import { integerIn, queueNameArg } from './parse.ts';

const queueArgument = () => new Argument('<queue>', 'stream name').argParser(queueNameArg);
const partitionOption = () => new Option('--partition <n>', 'one partition only (default: every partition)').argParser(integerIn(0, 63));
const groupOption = (required: boolean) => {
  const option = new Option('--group <name>', 'consumer group').argParser(groupArg);
  return required ? option.makeOptionMandatory() : option;
};

function groupArg(value: string): string {
  if (!/^[A-Za-z0-9_-]{1,80}$/.test(value)) throw new InvalidArgumentError("a group name is 1-80 characters of A-Z, a-z, 0-9, '-' and '_'");
  return value;
}

/** A time as ms since the epoch or an ISO 8601 date. */
function timeArg(value: string): number {
  const ms = /^[0-9]+$/.test(value) ? Number(value) : Date.parse(value);
  if (!Number.isSafeInteger(ms) || ms < 0) throw new InvalidArgumentError('a time is ms since the epoch or an ISO 8601 date, e.g. 2026-11-23T22:00:00Z');
  return ms;
}

interface ReadFlags {
  partition?: number;
  offset?: number;
  time?: number;
  group?: string;
  max: number;
  wait?: number;
  commit?: boolean;
}

interface SeekFlags {
  group: string;
  partition?: number;
  offset?: number;
  time?: number;
  earliest?: boolean;
  latest?: boolean;
}

async function offsetsOf(client: WharfClient, queue: string, group: string | undefined, partition: number | undefined): Promise<PartitionOffsets[]> {
  const { partitions } = await client.request('GetOffsets', group === undefined ? { queue } : { queue, group });
  return partition === undefined ? partitions : partitions.filter((p) => p.partition === partition);
}

export function registerStreamCommands(program: Command): void {
  const stream = program.command('stream').description('read streams by offset and manage their consumer groups');

  stream
    .command('read')
    .description("print messages of a stream from an offset, a time, or a group's committed offsets (nothing is consumed)")
    .addArgument(queueArgument())
    .addOption(partitionOption())
    .addOption(new Option('--offset <n>', 'read from this offset').argParser(integerIn(0, Number.MAX_SAFE_INTEGER)).conflicts('time'))
    .addOption(new Option('--time <t>', 'read from the first message sent at or after this time').argParser(timeArg))
    .addOption(groupOption(false))
    .addOption(new Option('--max <n>', 'messages per partition').default(10).argParser(integerIn(1, LIMITS.maxReceiveMessages)))
    .addOption(new Option('--wait <seconds>', 'wait this long for a message when none is readable').argParser(integerIn(0, LIMITS.maxWaitTimeSeconds)))
    .option('--commit', "with --group: commit the offsets after what was printed (the group must have no members)")
    .action(async (queue: string, flags: ReadFlags, command: Command) => {
      const out = outputOf(command);
      await withClient(
        command,
        async (client) => {
          const printed: Array<StreamMessage & { partition: number }> = [];
          const commits: Array<{ partition: number; offset: number }> = [];
          for (const p of await offsetsOf(client, queue, flags.group, flags.partition)) {
            const from =
              flags.offset ??
              (flags.time === undefined
                ? (p.committed?.offset ?? p.startOffset)
                : (await client.request('FindOffset', { queue, partition: p.partition, timestamp: flags.time })).offset);
            const reply = await client.request('ReadStream', {
              queue,
              partition: p.partition,
              offset: from,
              maxMessages: flags.max,
              ...(flags.wait === undefined ? {} : { waitTimeSeconds: flags.wait }),
            });
            for (const m of reply.messages) {
              printed.push({ ...m, partition: p.partition });
              out.line(`${p.partition}\t${m.offset}\t${formatTime(m.sentAt)}\t${new TextDecoder().decode(m.body)}`);
            }
            commits.push({ partition: p.partition, offset: reply.nextOffset });
          }
          if (flags.commit === true && flags.group !== undefined) await client.request('CommitOffsets', { queue, group: flags.group, offsets: commits });
          out.document({
            messages: printed.map((m) => ({ ...m, body: Buffer.from(m.body).toString('base64'), attributes: attributesJson(m.attributes) })),
            next: commits,
          });
        },
        { extraTimeoutMs: (flags.wait ?? 0) * 1000 },
      );
    });

  stream
    .command('offsets')
    .description("each partition's first and end offset, and a group's committed offset and lag")
    .addArgument(queueArgument())
    .addOption(groupOption(false))
    .action(async (queue: string, flags: { group?: string }, command: Command) => {
      const out = outputOf(command);
      await withClient(command, async (client) => {
        const partitions = await offsetsOf(client, queue, flags.group, undefined);
        out.document({ partitions });
        out.table(
          ['partition', 'start', 'end', ...(flags.group === undefined ? [] : ['committed', 'lag', 'generation'])],
          partitions.map((p) => [
            String(p.partition),
            String(p.startOffset),
            String(p.endOffset),
            ...(flags.group === undefined
              ? []
              : [p.committed ? String(p.committed.offset) : '-', String(p.endOffset - (p.committed?.offset ?? p.startOffset)), p.committed ? String(p.committed.generation) : '-']),
          ]),
        );
      });
    });

  stream
    .command('commit')
    .description("store a group's offset in one partition (refused while the group has members)")
    .addArgument(queueArgument())
    .addOption(groupOption(true))
    .addOption(new Option('--partition <n>', 'partition').argParser(integerIn(0, 63)).makeOptionMandatory())
    .addOption(new Option('--offset <n>', 'the next offset the group reads').argParser(integerIn(0, Number.MAX_SAFE_INTEGER)).makeOptionMandatory())
    .action(async (queue: string, flags: { group: string; partition: number; offset: number }, command: Command) => {
      const out = outputOf(command);
      await withClient(command, async (client) => {
        await client.request('CommitOffsets', { queue, group: flags.group, offsets: [{ partition: flags.partition, offset: flags.offset }] });
        out.document({ committed: [{ partition: flags.partition, offset: flags.offset }] });
        out.line(`committed ${flags.group} partition ${flags.partition} at offset ${flags.offset}`);
      });
    });

  stream
    .command('seek')
    .description("move a group's committed offsets to an offset, a time, the start or the end (refused while the group has members)")
    .addArgument(queueArgument())
    .addOption(groupOption(true))
    .addOption(partitionOption())
    .addOption(new Option('--offset <n>', 'this offset').argParser(integerIn(0, Number.MAX_SAFE_INTEGER)).conflicts(['time', 'earliest', 'latest']))
    .addOption(new Option('--time <t>', 'the first message sent at or after this time (ms or ISO 8601)').argParser(timeArg).conflicts(['earliest', 'latest']))
    .addOption(new Option('--earliest', 'the first stored message').conflicts('latest'))
    .option('--latest', 'the end: only messages sent from now on')
    .action(async (queue: string, flags: SeekFlags, command: Command) => {
      const out = outputOf(command);
      if (flags.offset === undefined && flags.time === undefined && flags.earliest !== true && flags.latest !== true) {
        command.error('error: one of --offset, --time, --earliest or --latest is required', { exitCode: 1 });
      }
      await withClient(command, async (client) => {
        const offsets: Array<{ partition: number; offset: number }> = [];
        for (const p of await offsetsOf(client, queue, undefined, flags.partition)) {
          const offset =
            flags.offset ??
            (flags.time !== undefined
              ? (await client.request('FindOffset', { queue, partition: p.partition, timestamp: flags.time })).offset
              : flags.latest === true
                ? p.endOffset
                : p.startOffset);
          offsets.push({ partition: p.partition, offset });
        }
        await client.request('CommitOffsets', { queue, group: flags.group, offsets });
        out.document({ committed: offsets });
        out.table(['partition', 'offset'], offsets.map((o) => [String(o.partition), String(o.offset)]));
      });
    });

  stream
    .command('groups')
    .description('the consumer groups of a stream, or one group with its members and their partitions')
    .addArgument(queueArgument())
    .addArgument(new Argument('[group]', 'one group').argParser(groupArg))
    .action(async (queue: string, group: string | undefined, _flags: unknown, command: Command) => {
      const out = outputOf(command);
      await withClient(command, async (client) => {
        const names = group === undefined ? (await client.request('ListGroups', { queue })).groups : [group];
        const groups = await Promise.all(names.map((g) => client.request('DescribeGroup', { queue, group: g })));
        out.document({ groups });
        if (group === undefined) {
          out.table(['group', 'generation', 'members'], groups.map((g) => [g.group, String(g.generation), String(g.members.length)]));
          return;
        }
        const only = groups[0];
        out.line(`group ${only?.group ?? group} generation ${only?.generation ?? 0}`);
        out.table(['member', 'partitions', 'last-seen'], (only?.members ?? []).map((m) => [m.memberId, m.partitions.join(','), formatTime(m.lastSeen)]));
      });
    });
}
