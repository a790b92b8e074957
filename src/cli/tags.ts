/**
 * `wharf queue tag|untag|tags`: a queue's tags (TagQueue, UntagQueue, ListQueueTags).
 */
import { Argument, type Command } from 'commander';
import { outputOf, withClient } from './connection.ts';
import { queueNameArg, tagArg } from './parse.ts';

export function registerTagCommands(queue: Command): void {
  queue
    .command('tag')
    .description('add tags to a queue, or change the values of tags it has (at most 50 tags)')
    .addArgument(new Argument('<name>', 'queue name').argParser(queueNameArg))
    .addArgument(new Argument('<key=value...>', 'tags; keys are case-sensitive, a value may be empty (key=)'))
    .addHelpText('after', '\nExample:\n  wharf queue tag orders team=payments env=prod')
    .action(async (name: string, pairs: string[], _options: unknown, command: Command) => {
      const out = outputOf(command);
      let tags: Record<string, string> = {};
      try {
        for (const pair of pairs) tags = tagArg(pair, tags);
      } catch (err) {
        command.error(`error: ${(err as Error).message}`, { exitCode: 1 });
      }
      await withClient(command, (client) => client.tagQueue(name, tags));
      out.document({ queue: name, tagged: tags });
      out.line(`tagged ${name}: ${Object.keys(tags).join(', ')}`);
    });

  queue
    .command('untag')
    .description('remove tags from a queue by key (keys it does not have are ignored)')
    .addArgument(new Argument('<name>', 'queue name').argParser(queueNameArg))
    .addArgument(new Argument('<key...>', 'tag keys'))
    .action(async (name: string, keys: string[], _options: unknown, command: Command) => {
      const out = outputOf(command);
      await withClient(command, (client) => client.untagQueue(name, keys));
      out.document({ queue: name, untagged: keys });
      out.line(`untagged ${name}: ${keys.join(', ')}`);
    });

  queue
    .command('tags')
    .description("list a queue's tags, one key=value per line, in key order")
    .addArgument(new Argument('<name>', 'queue name').argParser(queueNameArg))
    .action(async (name: string, _options: unknown, command: Command) => {
      const out = outputOf(command);
      const tags = await withClient(command, (client) => client.listQueueTags(name));
      out.document({ queue: name, tags });
      for (const key of Object.keys(tags).sort()) out.line(`${key}=${tags[key] ?? ''}`);
    });
}
