/**
 * Dead letters on the command line: the options of `queue create` and `queue set` that set a
 * redrive policy, an allow policy, expiry dead-lettering and a length limit, the rows `queue attrs`
 * shows for them, and `wharf dlq redrive|tasks|cancel` (message move tasks).
 */
import { Argument, InvalidArgumentError, Option, type Command } from 'commander';
import { LIMITS } from '../protocol/limits.ts';
import type { AttributeChanges, MessageMoveTask, QueueAttributes, RedriveAllowPolicy } from '../protocol/messages.ts';
import { outputOf, withClient } from './connection.ts';
import { formatTime } from './output.ts';
import { integerIn, queueNameArg } from './parse.ts';

export interface DeadLetterFlags {
  dlq?: string;
  maxReceives?: number;
  removeDlq?: boolean;
  allowSources?: RedriveAllowPolicy;
  deadLetterOnExpiry?: boolean;
  maxLength?: number;
  overflow?: QueueAttributes['overflowPolicy'];
}

/** `all`, `none`, or a comma-separated list of up to 10 queue names. */
function allowArg(value: string): RedriveAllowPolicy {
  if (value === 'all') return { redrivePermission: 'allowAll' };
  if (value === 'none') return { redrivePermission: 'denyAll' };
  const names = value.split(',').map((n) => n.trim());
  if (names.length > 10) throw new InvalidArgumentError('at most 10 source queues');
  return { redrivePermission: 'byQueue', sourceQueues: names.map(queueNameArg) };
}

export function addDeadLetterOptions(command: Command, settable: boolean): Command {
  command
    .addOption(new Option('--dlq <queue>', 'dead-letter queue for messages received too often').argParser(queueNameArg))
    .addOption(new Option('--max-receives <n>', 'receives before a message goes to the --dlq (1-1000, default 5)').argParser(integerIn(1, 1000)))
    .addOption(new Option('--allow-sources <queues>', 'which queues may use this one as their DLQ: all, none or q1,q2,... (up to 10)').argParser(allowArg))
    .addOption(new Option('--dead-letter-on-expiry', 'messages past retention or their TTL go to the DLQ instead of being deleted'))
    .addOption(new Option('--max-length <n>', 'messages the queue holds at most').argParser(integerIn(1, 100_000_000)))
    .addOption(new Option('--overflow <policy>', 'a send beyond --max-length: reject (default), drop-oldest, dead-letter').choices(['reject', 'drop-oldest', 'dead-letter']));
  if (settable) command.addOption(new Option('--remove-dlq', 'remove the redrive policy'));
  return command;
}

/** The dead-letter attributes the flags give. */
export function deadLetterAttributes(flags: DeadLetterFlags): AttributeChanges {
  const out: AttributeChanges = {};
  if (flags.dlq !== undefined) out.redrivePolicy = { deadLetterQueue: flags.dlq, maxReceiveCount: flags.maxReceives ?? 5 };
  if (flags.removeDlq === true) out.redrivePolicy = null;
  if (flags.allowSources !== undefined) out.redriveAllowPolicy = flags.allowSources;
  if (flags.deadLetterOnExpiry === true) out.deadLetterOnExpiry = true;
  if (flags.maxLength !== undefined) out.maxLength = flags.maxLength;
  if (flags.overflow !== undefined) out.overflowPolicy = flags.overflow;
  return out;
}

/** Rows of `queue attrs` for the dead-letter attributes a queue has. */
export function deadLetterRows(a: QueueAttributes): Array<[string, string]> {
  const rows: Array<[string, string]> = [];
  if (a.redrivePolicy !== undefined) rows.push(['dead-letter-queue', `${a.redrivePolicy.deadLetterQueue} after ${a.redrivePolicy.maxReceiveCount} receives`]);
  if (a.redriveAllowPolicy !== undefined) {
    const p = a.redriveAllowPolicy;
    rows.push(['allowed-sources', p.redrivePermission === 'byQueue' ? (p.sourceQueues ?? []).join(',') : p.redrivePermission === 'allowAll' ? 'all' : 'none']);
  }
  if (a.deadLetterOnExpiry === true) rows.push(['dead-letter-on-expiry', 'yes']);
  if (a.maxLength !== undefined) rows.push(['max-length', `${a.maxLength} (overflow: ${a.overflowPolicy ?? 'reject'})`]);
  return rows;
}

function taskRow(x: MessageMoveTask): string[] {
  return [x.taskId, x.sourceQueue, x.destinationQueue ?? '(sources)', x.status, `${x.moved}/${x.total}`, String(x.failures), formatTime(x.updatedAt), x.lastError ?? ''];
}

export function registerDlqCommands(program: Command): void {
  const dlq = program.command('dlq').description('dead-letter queues: redrive their messages, list and cancel move tasks');

  dlq
    .command('redrive')
    .description('start moving the messages of a dead-letter queue back to their source queues (or --to one queue)')
    .addArgument(new Argument('<dlq>', 'the dead-letter queue').argParser(queueNameArg))
    .addOption(new Option('--to <queue>', 'move every message to this queue instead').argParser(queueNameArg))
    .addOption(new Option('--rate <n>', `messages per second at most (1-${LIMITS.maxMovesPerSecond})`).argParser(integerIn(1, LIMITS.maxMovesPerSecond)))
    .addHelpText('after', '\nExample:\n  wharf dlq redrive orders-dlq --rate 100')
    .action(async (name: string, options: { to?: string; rate?: number }, command: Command) => {
      const out = outputOf(command);
      const taskId = await withClient(command, (client) =>
        client.startMessageMoveTask(name, {
          ...(options.to === undefined ? {} : { destinationQueue: options.to }),
          ...(options.rate === undefined ? {} : { maxMessagesPerSecond: options.rate }),
        }),
      );
      out.document({ taskId });
      out.line(`started move task ${taskId} (wharf dlq tasks shows its progress)`);
    });

  dlq
    .command('tasks')
    .description('list message move tasks, running and finished')
    .addOption(new Option('--source <queue>', 'only the tasks of this dead-letter queue').argParser(queueNameArg))
    .action(async (options: { source?: string }, command: Command) => {
      const out = outputOf(command);
      const tasks = await withClient(command, (client) => client.listMessageMoveTasks(options.source));
      out.document({ tasks });
      out.table(['task', 'source', 'destination', 'status', 'moved', 'failures', 'updated', 'last error'], tasks.map(taskRow));
    });

  dlq
    .command('cancel')
    .description('cancel a running message move task (it stops after its current step)')
    .argument('<task>', 'the task id')
    .action(async (taskId: string, _options: unknown, command: Command) => {
      const out = outputOf(command);
      const task = await withClient(command, (client) => client.cancelMessageMoveTask(taskId));
      out.document({ task });
      out.line(`move task ${taskId}: ${task.status} (${task.moved} moved)`);
    });
}
