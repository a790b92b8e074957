/**
 * The `wharf` program: global options, every command, and `run(argv)` which turns whatever a
 * command ends with into an exit code (see EXIT_CODES_HELP).
 */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { registerClusterCommand } from './cluster.ts';
import { registerDeploymentCommand } from './deployment.ts';
import { registerDlqCommands } from './dlq.ts';
import { addGlobalOptions } from './connection.ts';
import { registerInspectCommand } from './inspect.ts';
import { registerMessageCommands } from './messages.ts';
import { registerPeekCommand } from './peek.ts';
import { EXIT_CODES_HELP, ExitCode, reportError } from './output.ts';
import { registerQueueCommands } from './queue.ts';
import { registerSecurityCommands } from './security.ts';
import { registerStatsCommand } from './stats.ts';
import { registerStatusCommand } from './status.ts';
import { registerStreamCommands } from './stream.ts';
import { registerTopCommand } from './top.ts';

function packageVersion(): string {
  try {
    const pkg: unknown = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    const version = typeof pkg === 'object' && pkg !== null ? (pkg as Record<string, unknown>)['version'] : undefined;
    return typeof version === 'string' ? version : 'unknown';
  } catch {
    return 'unknown';
  }
}

export function buildProgram(): Command {
  const program = new Command('wharf')
    .description('Wharf command line: manage queues, send and receive messages, show counts')
    .version(packageVersion(), '--version', 'print the version')
    .helpOption('-h, --help', 'show help for a command')
    .helpCommand('help [command]', 'show help for a command')
    // Set before the commands are added: subcommands inherit these.
    .exitOverride()
    .configureHelp({ showGlobalOptions: true })
    .showHelpAfterError('(run with --help for usage)');
  addGlobalOptions(program);
  program.addHelpText(
    'after',
    `
Global options work before or after the command, e.g. wharf stats --server nats://host:4222
${EXIT_CODES_HELP}`,
  );
  registerQueueCommands(program);
  registerMessageCommands(program);
  registerPeekCommand(program);
  registerStreamCommands(program);
  registerStatsCommand(program);
  registerClusterCommand(program);
  registerDeploymentCommand(program);
  registerStatusCommand(program);
  registerTopCommand(program);
  registerInspectCommand(program);
  registerDlqCommands(program);
  registerSecurityCommands(program);
  return program;
}

/** Runs the CLI on `argv` (the arguments after the script) and returns the exit code. */
export async function run(argv: readonly string[]): Promise<number> {
  try {
    await buildProgram().parseAsync([...argv], { from: 'user' });
    return ExitCode.Ok;
  } catch (err) {
    return reportError(err);
  }
}
