/**
 * The `wharf` command line, run as a child process (`node --import tsx src/cli/main.ts ...`) against
 * a real node: every command, stdin handling, output formats and exit codes. The SDK sets up and
 * checks state, so each test spawns as few CLI processes as it can (each costs about half a second).
 * Help texts are checked in-process on the program itself.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import type { Command } from 'commander';
import type { QueueAttributes, QueueCounts, QueueDescription, ReceivedMessage } from '../../src/protocol/messages.ts';
import { buildProgram } from '../../src/cli/program.ts';
import { eventually } from '../helpers/eventually.ts';
import { startNats } from '../helpers/nats-server.ts';
import { startWharf, type WharfFixture } from '../helpers/wharf.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = 'src/cli/main.ts';
const CHILD_TIMEOUT_MS = 60_000;

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface RunOptions {
  /** Written to the child's stdin, which is then closed (it is closed empty otherwise). */
  input?: string | Uint8Array;
  /** Run through bin/wharf.js instead of `node --import tsx src/cli/main.ts`. */
  launcher?: boolean;
}

/** Runs the CLI with exactly `args`; the environment has no WHARF_* settings. */
function runCli(args: readonly string[], options: RunOptions = {}): Promise<CliResult> {
  const env = { ...process.env };
  delete env['WHARF_NATS_URL'];
  delete env['WHARF_CLUSTER'];
  const argv = options.launcher === true ? ['bin/wharf.js', ...args] : ['--import', 'tsx', MAIN, ...args];
  const child = spawn(process.execPath, argv, { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdin.on('error', () => undefined); // the CLI may exit without reading stdin
  child.stdin.end(options.input ?? '');
  const killer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Runs the CLI against the fixture's nats-server and cluster. */
function cliOf(f: WharfFixture): (args: readonly string[], options?: RunOptions) => Promise<CliResult> {
  return (args, options) => runCli([...args, '--server', f.nats.url, '--cluster', f.cluster], options);
}

const parse = <T>(text: string): T => JSON.parse(text) as T;
const lines = (text: string) => text.split('\n').filter((l) => l !== '');
const text = (bytes: Uint8Array) => Buffer.from(bytes).toString('utf8');

/** The message counts, without the age of the oldest message (it moves with time). */
type MessageCounts = Omit<QueueCounts, 'approximateAgeOfOldestMessage' | 'approximateStoredBytes'>;

function counts(visible: number, notVisible: number, delayed: number): MessageCounts {
  return {
    approximateNumberOfMessages: visible,
    approximateNumberOfMessagesNotVisible: notVisible,
    approximateNumberOfMessagesDelayed: delayed,
    approximateNumberOfMessagesDeadLettered: 0,
  };
}

async function countsOf(f: WharfFixture, queue: string): Promise<MessageCounts> {
  const { approximateAgeOfOldestMessage: _age, approximateStoredBytes: _bytes, ...rest } = (await f.client.getQueueAttributes(queue)).counts;
  return rest;
}

/** Waits until the queue's counts are `expected`. */
async function countsBecome(f: WharfFixture, queue: string, expected: MessageCounts): Promise<void> {
  const want = JSON.stringify(expected);
  await eventually(async () => JSON.stringify(await countsOf(f, queue)) === want, {
    timeoutMs: 10_000,
    message: `counts of ${queue} to be ${want}`,
  });
}

/** Receives (short polls) until `n` messages arrived in total. */
async function receiveAll(f: WharfFixture, queue: string, n: number): Promise<ReceivedMessage[]> {
  const got: ReceivedMessage[] = [];
  await eventually(
    async () => {
      got.push(...(await f.client.receive(queue, { maxMessages: 10 })));
      return got.length >= n;
    },
    { timeoutMs: 10_000, message: `${n} messages from ${queue}` },
  );
  return got;
}

// ---- queue ---------------------------------------------------------------------------------------

// Serial: each test runs a nats-server and a node in this process, and some run the CLI in it too;
// run all at once they starve each other's event loop past the CLI's 10 s timeout.
test.serial('queue create makes a queue with the attributes given by its flags', async (t) => {
  const f = await startWharf(t);

  const r = await cliOf(f)([
    ...['queue', 'create', 'orders'],
    ...['--visibility-timeout', '45', '--retention', '120', '--partitions', '2'],
  ]);

  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, 'created queue orders\n');
  const { attributes } = await f.client.getQueueAttributes('orders');
  t.like(attributes, { visibilityTimeout: 45, retentionPeriod: 120, partitions: 2, delaySeconds: 0 });
});

test.serial('queue create of an existing queue with the same attributes succeeds and says created false', async (t) => {
  const f = await startWharf(t);
  await f.client.createQueue('orders', { visibilityTimeout: 45 });

  const r = await cliOf(f)(['queue', 'create', 'orders', '--visibility-timeout', '45', '--json']);

  t.is(r.code, 0, r.stderr);
  t.deepEqual(parse(r.stdout), { queue: 'orders', created: false });
});

test.serial('queue list prints every queue, one per line, following nextToken across pages', async (t) => {
  const f = await startWharf(t);
  for (const name of ['e', 'c', 'a', 'd', 'b']) await f.client.createQueue(name);

  const r = await cliOf(f)(['queue', 'list', '--page-size', '2']);

  t.is(r.code, 0, r.stderr);
  t.deepEqual(lines(r.stdout), ['a', 'b', 'c', 'd', 'e']);
});

test.serial('queue list --prefix filters and --limit caps the listing (--json)', async (t) => {
  const f = await startWharf(t);
  for (const name of ['app-1', 'app-2', 'app-3', 'other']) await f.client.createQueue(name);

  const r = await cliOf(f)(['queue', 'list', '--prefix', 'app-', '--limit', '2', '--page-size', '1', '--json']);

  t.is(r.code, 0, r.stderr);
  t.deepEqual(parse(r.stdout), { queues: ['app-1', 'app-2'] });
});

test.serial('queue attrs prints attributes, counts and times', async (t) => {
  const f = await startWharf(t);
  await f.client.createQueue('orders', { maximumMessageSize: 2048 });
  await f.client.sendMessage('orders', 'one');
  await f.client.sendMessage('orders', 'two');

  const r = await cliOf(f)(['queue', 'attrs', 'orders']);

  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^queue\s+orders$/m);
  t.regex(r.stdout, /^visibility-timeout\s+30 \(30s\)$/m);
  t.regex(r.stdout, /^retention\s+345600 \(4d\)$/m);
  t.regex(r.stdout, /^max-message-size\s+2048 \(2 KiB\)$/m);
  t.regex(r.stdout, /^partitions\s+1$/m);
  t.regex(r.stdout, /^messages\s+2$/m);
  t.regex(r.stdout, /^messages-in-flight\s+0$/m);
  t.regex(r.stdout, /^created\s+\d{4}-\d\d-\d\dT/m);
});

test.serial('queue attrs --json prints the queue description', async (t) => {
  const f = await startWharf(t);
  await f.client.createQueue('orders');
  await f.client.sendMessage('orders', 'one');

  const r = await cliOf(f)(['--json', 'queue', 'attrs', 'orders']);

  t.is(r.code, 0, r.stderr);
  // The oldest message's age moves on between the two reads: compared apart.
  const printed = parse<QueueDescription>(r.stdout);
  const now = await f.client.getQueueAttributes('orders');
  const aged = (d: QueueDescription) => ({ ...d, counts: { ...d.counts, approximateAgeOfOldestMessage: 0 } });
  t.deepEqual(aged(printed), aged(now));
  t.true(printed.counts.approximateAgeOfOldestMessage <= now.counts.approximateAgeOfOldestMessage);
});

test.serial('queue set changes only the attributes given and prints them all', async (t) => {
  const f = await startWharf(t);
  await f.client.createQueue('orders', { retentionPeriod: 600 });

  const r = await cliOf(f)(['queue', 'set', 'orders', '--visibility-timeout', '90', '--receive-wait', '3', '--json']);

  t.is(r.code, 0, r.stderr);
  const { attributes } = await f.client.getQueueAttributes('orders');
  t.like(attributes, { visibilityTimeout: 90, receiveWaitTime: 3, retentionPeriod: 600 });
  t.deepEqual(parse<{ queue: string; attributes: QueueAttributes }>(r.stdout), { queue: 'orders', attributes });
});

test.serial('queue set without any attribute flag is a usage error', async (t) => {
  const f = await startWharf(t);
  await f.client.createQueue('orders');

  const r = await cliOf(f)(['queue', 'set', 'orders']);

  t.is(r.code, 1);
  t.regex(r.stderr, /at least one attribute/);
});

test.serial('queue delete deletes the queue', async (t) => {
  const f = await startWharf(t);
  await f.client.createQueue('orders');
  await f.client.createQueue('keep');

  const r = await cliOf(f)(['queue', 'delete', 'orders']);

  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, 'deleted queue orders\n');
  t.deepEqual((await f.client.listQueues()).queues, ['keep']);
});

test.serial('queue purge deletes every message and prints how many', async (t) => {
  const f = await startWharf(t);
  await f.client.createQueue('orders');
  for (const body of ['a', 'b', 'c']) await f.client.sendMessage('orders', body);

  const r = await cliOf(f)(['queue', 'purge', 'orders']);

  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, 'purged 3 messages from orders\n');
  await countsBecome(f, 'orders', counts(0, 0, 0));
});

// ---- send ----------------------------------------------------------------------------------------

test.serial('send joins the body arguments into one message and prints its id', async (t) => {
  const f = await startWharf(t);
  await f.client.createQueue('orders');

  const r = await cliOf(f)(['send', 'orders', 'hello', 'big', 'world']);

  t.is(r.code, 0, r.stderr);
  const [message] = await receiveAll(f, 'orders', 1);
  t.is(r.stdout, `${message?.messageId}\n`);
  t.is(text(message?.body ?? new Uint8Array()), 'hello big world');
});

test.serial('FIFO: queue create --fifo with deduplication flags; send --group --dedup-id stores a repeat once; receive prints the group', async (t) => {
  const f = await startWharf(t);
  const cli = cliOf(f);

  const created = await cli([
    ...['queue', 'create', 'payments', '--fifo'],
    ...['--deduplication-window', '600', '--content-based-deduplication', 'on'],
  ]);
  t.is(created.code, 0, created.stderr);
  t.like((await f.client.getQueueAttributes('payments')).attributes, {
    fifo: true,
    deduplicationWindow: 600,
    deduplicationScope: 'queue',
    contentBasedDeduplication: true,
  });

  const first = await cli(['send', 'payments', '--group', 'customer-42', '--dedup-id', 'order-1', 'five']);
  const again = await cli(['send', 'payments', '--group', 'customer-42', '--dedup-id', 'order-1', 'five']);
  t.is(first.code, 0, first.stderr);
  t.is(again.stdout, first.stdout, 'the repeat answers the first message id');
  const lines = await cli(['send', 'payments', '--group', 'customer-42', '--dedup-id', 'order-2']);
  t.is(lines.code, 1, 'a deduplication id names one message, not each line of stdin');
  const noGroup = await cli(['send', 'payments', 'six']);
  t.is(noGroup.code, 2, 'a FIFO queue refuses a message without a group');

  const r = await cli(['receive', 'payments', '--max', '10', '--wait', '5']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^message-group\s+customer-42$/m);
  t.is([...r.stdout.matchAll(/^body\s+five$/gm)].length, 1);
  const attrs = await cli(['queue', 'attrs', 'payments']);
  t.regex(attrs.stdout, /^fifo\s+yes$/m);
  t.regex(attrs.stdout, /^deduplication-window\s+600 /m);
});

test.serial('send without body arguments sends each line of stdin as one message', async (t) => {
  const f = await startWharf(t);
  await f.client.createQueue('orders');

  const r = await cliOf(f)(['send', 'orders'], { input: 'one\ntwo\r\n\nthree' });

  t.is(r.code, 0, r.stderr);
  const received = await receiveAll(f, 'orders', 3);
  t.deepEqual(received.map((m) => text(m.body)).sort(), ['one', 'three', 'two']);
  t.deepEqual(lines(r.stdout).sort(), received.map((m) => m.messageId).sort());
});

test.serial('send --whole sends all of stdin as one message and --count prints the count', async (t) => {
  const f = await startWharf(t);
  await f.client.createQueue('orders');
  const input = 'line 1\nline 2\n';

  const r = await cliOf(f)(['send', 'orders', '--whole', '--count'], { input });

  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, 'sent 1 message\n');
  const [message] = await receiveAll(f, 'orders', 1);
  t.is(text(message?.body ?? new Uint8Array()), input);
});

test.serial('send --attr sets string message attributes', async (t) => {
  const f = await startWharf(t);
  await f.client.createQueue('orders');

  const r = await cliOf(f)(['send', 'orders', 'body', '--attr', 'kind=order', '--attr', 'expr=a=b']);

  t.is(r.code, 0, r.stderr);
  const [message] = await receiveAll(f, 'orders', 1);
  t.deepEqual(message?.attributes, {
    kind: { type: 'string', value: 'order' },
    expr: { type: 'string', value: 'a=b' },
  });
});

test.serial('send --delay delays the message', async (t) => {
  const f = await startWharf(t);
  await f.client.createQueue('orders');

  const r = await cliOf(f)(['send', 'orders', 'later', '--delay', '900', '--json']);

  t.is(r.code, 0, r.stderr);
  t.like(parse<{ sent: number; failed: number }>(r.stdout), { sent: 1, failed: 0 });
  await countsBecome(f, 'orders', counts(0, 0, 1));
});

test.serial('send reports each message the server refuses, sends the rest and exits 2', async (t) => {
  const f = await startWharf(t);
  await f.client.createQueue('small', { maximumMessageSize: 1024 });

  const r = await cliOf(f)(['send', 'small'], { input: `first\n${'x'.repeat(2000)}\nthird\n` });

  t.is(r.code, 2);
  t.regex(r.stderr, /^error message_too_large: message 2: /m);
  t.is(lines(r.stdout).length, 2);
  const received = await receiveAll(f, 'small', 2);
  t.deepEqual(received.map((m) => text(m.body)).sort(), ['first', 'third']);
});

// ---- receive and delete --------------------------------------------------------------------------

test.serial('receive prints message id, receive count, receipt handle and body, and leaves the message in flight', async (t) => {
  const f = await startWharf(t);
  await f.client.createQueue('orders');
  const { messageId } = await f.client.sendMessage('orders', 'payload text');

  const r = await cliOf(f)(['receive', 'orders', '--wait', '5']);

  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, new RegExp(`^message-id\\s+${messageId}$`, 'm'));
  t.regex(r.stdout, /^receive-count\s+1$/m);
  t.regex(r.stdout, /^receipt-handle\s+\S+$/m);
  t.regex(r.stdout, /^body\s+payload text$/m);
  t.deepEqual(await countsOf(f, 'orders'), counts(0, 1, 0));
});

test.serial('receive --delete deletes the messages it printed', async (t) => {
  const f = await startWharf(t);
  await f.client.createQueue('orders');
  await f.client.sendMessage('orders', 'a');
  await f.client.sendMessage('orders', 'b');

  const r = await cliOf(f)(['receive', 'orders', '--max', '10', '--wait', '5', '--delete', '--json']);

  t.is(r.code, 0, r.stderr);
  const { messages } = parse<{ messages: Array<{ body: string; receiveCount: number }> }>(r.stdout);
  t.deepEqual(messages.map((m) => m.body).sort(), ['a', 'b']);
  await countsBecome(f, 'orders', counts(0, 0, 0));
});

test.serial('receive --base64 prints bodies base64-encoded', async (t) => {
  const f = await startWharf(t);
  await f.client.createQueue('bin');
  await f.client.sendMessage('bin', new Uint8Array([0, 255, 1]));

  const r = await cliOf(f)(['receive', 'bin', '--wait', '5', '--base64', '--json']);

  t.is(r.code, 0, r.stderr);
  t.like(parse<{ messages: unknown[] }>(r.stdout), { messages: [{ body: 'AP8B', bodyEncoding: 'base64' }] });
});

test.serial('receive on an empty queue prints nothing and exits 0, or 4 with --exit-empty', async (t) => {
  const f = await startWharf(t);
  await f.client.createQueue('empty');
  const cli = cliOf(f);

  const [plain, strict] = await Promise.all([
    cli(['receive', 'empty', '--wait', '0']),
    cli(['receive', 'empty', '--wait', '0', '--exit-empty']),
  ]);

  t.deepEqual(plain, { code: 0, stdout: '', stderr: '' });
  t.deepEqual(strict, { code: 4, stdout: '', stderr: '' });
});

test.serial('delete deletes one message by its receipt handle', async (t) => {
  const f = await startWharf(t);
  await f.client.createQueue('orders');
  await f.client.sendMessage('orders', 'a');
  const [message] = await receiveAll(f, 'orders', 1);

  const r = await cliOf(f)(['delete', 'orders', message?.receiptHandle ?? '']);

  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, 'deleted\n');
  await countsBecome(f, 'orders', counts(0, 0, 0));
});

// ---- stats ---------------------------------------------------------------------------------------

test.serial('stats of a queue prints its counts and main attributes', async (t) => {
  const f = await startWharf(t);
  await f.client.createQueue('orders', { partitions: 2, visibilityTimeout: 90 });
  for (const body of ['a', 'b', 'c']) await f.client.sendMessage('orders', body);
  await f.client.sendMessage('orders', 'later', { delaySeconds: 900 });

  const r = await cliOf(f)(['stats', 'orders']);

  t.is(r.code, 0, r.stderr);
  t.deepEqual(
    lines(r.stdout).map((l) => l.split(/\s+/)),
    [
      ['QUEUE', 'MESSAGES', 'IN-FLIGHT', 'DELAYED', 'PARTITIONS', 'VISIBILITY', 'RETENTION'],
      ['orders', '3', '0', '1', '2', '1m30s', '4d'],
    ],
  );
});

test.serial('stats without a queue prints one row per queue', async (t) => {
  const f = await startWharf(t);
  await f.client.createQueue('alpha');
  await f.client.createQueue('beta');
  await f.client.sendMessage('beta', 'x');

  const r = await cliOf(f)(['stats']);

  t.is(r.code, 0, r.stderr);
  const rows = lines(r.stdout).map((l) => l.split(/\s+/).slice(0, 4));
  t.deepEqual(rows, [
    ['QUEUE', 'MESSAGES', 'IN-FLIGHT', 'DELAYED'],
    ['alpha', '0', '0', '0'],
    ['beta', '1', '0', '0'],
  ]);
});

// ---- exit codes ----------------------------------------------------------------------------------

test.serial('a bad flag or argument exits 1 with a usage message', async (t) => {
  const [notNumber, unknown, badName] = await Promise.all([
    runCli(['queue', 'create', 'orders', '--visibility-timeout', 'soon']),
    runCli(['receive', 'orders', '--bogus']),
    runCli(['queue', 'attrs', 'no.dots']),
  ]);

  t.is(notNumber.code, 1);
  t.regex(notNumber.stderr, /--visibility-timeout .*'soon' is invalid/);
  t.is(unknown.code, 1);
  t.regex(unknown.stderr, /unknown option '--bogus'/);
  t.is(badName.code, 1);
  t.regex(badName.stderr, /queue name/);
});

test.serial('an error answer from the server exits 2 and prints its code and message', async (t) => {
  const f = await startWharf(t);

  const r = await cliOf(f)(['queue', 'attrs', 'missing']);

  t.is(r.code, 2);
  t.is(r.stdout, '');
  t.regex(r.stderr, /^error queue_not_found: .*missing/);
});

test.serial('an unreachable NATS server exits 3 with error unavailable', async (t) => {
  const nats = await startNats(t);
  await nats.stop(); // nobody listens on its port now

  const r = await runCli(['stats', '--server', nats.url, '--timeout', '1000']);

  t.is(r.code, 3);
  t.regex(r.stderr, /^error unavailable: cannot connect to NATS/);
});

test.serial('a cluster no Wharf node serves exits 3 with error unavailable', async (t) => {
  const f = await startWharf(t);

  const r = await runCli(['stats', '--server', f.nats.url, '--cluster', `${f.cluster}x`, '--timeout', '1000']);

  t.is(r.code, 3);
  t.regex(r.stderr, /^error unavailable: /);
});

// ---- help ----------------------------------------------------------------------------------------

function allCommands(command: Command): Command[] {
  return [command, ...command.commands.flatMap(allCommands)];
}

test.serial('--help of every command describes the command, its arguments and its options', (t) => {
  const commands = allCommands(buildProgram());
  const names = commands.map((c) => c.name());
  for (const name of ['queue', 'create', 'list', 'attrs', 'set', 'delete', 'purge', 'send', 'receive', 'stats']) {
    t.true(names.includes(name), `command ${name}`);
  }
  for (const command of commands) {
    const help = command.helpInformation();
    t.not(command.description(), '', `${command.name()} has a description`);
    for (const option of command.options) {
      if (option.hidden) continue;
      t.true(help.includes(option.long ?? option.flags), `${command.name()} --help mentions ${option.flags}`);
      t.not(option.description, '', `${command.name()} ${option.flags} has a description`);
    }
    for (const argument of command.registeredArguments) {
      t.true(help.includes(argument.name()), `${command.name()} --help mentions <${argument.name()}>`);
    }
    if (command.parent !== null) {
      for (const global of ['--server', '--cluster', '--timeout', '--json']) {
        t.true(help.includes(global), `${command.name()} --help mentions ${global}`);
      }
    }
  }
});

test.serial('wharf --help through bin/wharf.js lists the commands and the exit codes, and exits 0', async (t) => {
  const r = await runCli(['--help'], { launcher: true });

  t.is(r.code, 0, r.stderr);
  for (const command of ['queue', 'send', 'receive', 'delete', 'stats']) {
    t.regex(r.stdout, new RegExp(`^  ${command} `, 'm'));
  }
  t.regex(r.stdout, /^Exit codes:$/m);
  for (const code of ['0', '1', '2', '3', '4']) t.regex(r.stdout, new RegExp(`^  ${code}  \\S`, 'm'));
});

test.serial('cluster shows the node alive and each partition with its epoch, primary and replica roles', async (t) => {
  const f = await startWharf(t);
  await f.client.createQueue('orders', { partitions: 2 });
  const cli = cliOf(f);

  type View = {
    model: string;
    nodes: Array<{ id: string; alive: boolean; state: string; model: string }>;
    partitions: Array<{ queue: string; partition: number; epoch: number; primary: string | null; reports: Array<{ node: string; role: string }> }>;
  };
  // The roles come from the node's heartbeats: the first one after the queue's creation may still
  // report its replicas loading.
  const view = await eventually(
    async () => {
      const json = await cli(['cluster', '--json']);
      t.is(json.code, 0, json.stderr);
      const v = JSON.parse(json.stdout) as View;
      return v.partitions.every((p) => p.reports.every((r) => r.role !== 'loading')) ? v : undefined;
    },
    { message: 'every replica reported loaded' },
  );
  t.is(view.model, 'primary');
  t.deepEqual(view.nodes, [{ id: 'n1', state: 'active', alive: true, model: 'primary' }]);
  t.deepEqual(
    view.partitions.map((p) => [p.queue, p.partition, p.primary, p.reports.map((r) => `${r.node}:${r.role}`)]),
    [
      ['orders', 0, 'n1', ['n1:primary']],
      ['orders', 1, 'n1', ['n1:primary']],
    ],
  );
  t.true(view.partitions.every((p) => p.epoch >= 1));

  const human = await cli(['cluster']);
  t.is(human.code, 0, human.stderr);
  t.regex(human.stdout, /orders\/0\s+\d+\s+n1/);
  t.regex(human.stdout, /^model: primary/m);
});
