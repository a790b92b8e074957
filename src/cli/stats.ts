/**
 * `wharf stats [queue]`: message counts and the main attributes of one queue, or of every queue.
 */
import { Argument, type Command } from 'commander';
import type { WharfClient } from '../client/client.ts';
import { ErrorCode, isWharfError } from '../errors.ts';
import type { QueueDescription } from '../protocol/messages.ts';
import { outputOf, withClient } from './connection.ts';
import { formatSeconds } from './output.ts';
import { queueNameArg } from './parse.ts';
import { listAll } from './queue.ts';

/** GetQueueAttributes requests under way at once for `wharf stats` of every queue. */
const CONCURRENCY = 16;

const HEADERS = ['queue', 'messages', 'in-flight', 'delayed', 'partitions', 'visibility', 'retention'] as const;

function row(d: QueueDescription): string[] {
  return [
    d.queue,
    String(d.counts.approximateNumberOfMessages),
    String(d.counts.approximateNumberOfMessagesNotVisible),
    String(d.counts.approximateNumberOfMessagesDelayed),
    String(d.attributes.partitions),
    formatSeconds(d.attributes.visibilityTimeout),
    formatSeconds(d.attributes.retentionPeriod),
  ];
}

const summary = (d: QueueDescription) => ({ queue: d.queue, counts: d.counts, attributes: d.attributes });

/** Descriptions of every queue, in name order; queues deleted meanwhile are left out. */
async function describeAll(client: WharfClient): Promise<QueueDescription[]> {
  const names = await listAll(client);
  const found: Array<QueueDescription | undefined> = new Array<QueueDescription | undefined>(names.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < names.length; i = next++) {
      const name = names[i];
      if (name === undefined) continue;
      try {
        found[i] = await client.getQueueAttributes(name);
      } catch (err) {
        if (!isWharfError(err, ErrorCode.QueueNotFound)) throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, names.length) }, worker));
  return found.filter((d): d is QueueDescription => d !== undefined);
}

export function registerStatsCommand(program: Command): void {
  program
    .command('stats')
    .description('approximate message counts and main attributes: of one queue, or one row per queue')
    .addArgument(new Argument('[queue]', 'queue name (default: every queue)').argParser(queueNameArg))
    .addHelpText(
      'after',
      `
Columns: messages (receivable now), in-flight (received, not deleted, still invisible), delayed
(waiting out a delay), partitions, visibility timeout and retention period.`,
    )
    .action(async (queue: string | undefined, _flags: unknown, command: Command) => {
      const out = outputOf(command);
      if (queue !== undefined) {
        const description = await withClient(command, (client) => client.getQueueAttributes(queue));
        out.document(summary(description));
        out.table(HEADERS, [row(description)]);
        return;
      }
      const descriptions = await withClient(command, describeAll);
      out.document({ queues: descriptions.map(summary) });
      if (descriptions.length === 0) out.line('no queues');
      else out.table(HEADERS, descriptions.map(row));
    });
}
