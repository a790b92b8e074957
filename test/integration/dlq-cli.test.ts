/**
 * The dead-letter commands of `wharf`, run as child processes against a real node: a queue created
 * with a DLQ, its attributes and counts, `dlq redrive`, `dlq tasks` and `dlq cancel`. The SDK sets
 * up and checks state.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import type { MessageMoveTask, QueueDescription } from '../../src/protocol/messages.ts';
import { eventually } from '../helpers/eventually.ts';
import { startWharf, type WharfFixture } from '../helpers/wharf.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function cli(f: WharfFixture, args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = { ...process.env };
  delete env['WHARF_NATS_URL'];
  delete env['WHARF_CLUSTER'];
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args, '--server', f.nats.url, '--cluster', f.cluster], { cwd: ROOT, env });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  child.stdin.end();
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('queue create --dlq --max-receives, dlq redrive --rate, dlq tasks and dlq cancel', async (t) => {
  const f = await startWharf(t);
  t.is((await cli(f, ['queue', 'create', 'q-dlq', '--allow-sources', 'q'])).code, 0);
  const created = await cli(f, ['queue', 'create', 'q', '--dlq', 'q-dlq', '--max-receives', '1', '--max-length', '100', '--overflow', 'dead-letter']);
  t.is(created.code, 0, created.stderr);
  const refused = await cli(f, ['queue', 'create', 'other', '--dlq', 'q-dlq']);
  t.is(refused.code, 2, 'the allow policy refuses: a server error');
  t.regex(refused.stderr, /redrive_not_allowed/);

  await f.client.sendMessage('q', 'poison');
  await f.client.receive('q', { visibilityTimeout: 0 });
  await eventually(async () => {
    await f.client.receive('q');
    return (await f.client.getQueueAttributes('q-dlq')).counts.approximateNumberOfMessages === 1;
  }, { message: 'the dead letter' });

  const attrs = await cli(f, ['queue', 'attrs', 'q', '--json']);
  const description = JSON.parse(attrs.stdout) as QueueDescription;
  t.deepEqual(description.attributes.redrivePolicy, { deadLetterQueue: 'q-dlq', maxReceiveCount: 1 });
  t.is(description.counts.approximateNumberOfMessagesDeadLettered, 1);
  t.regex((await cli(f, ['queue', 'attrs', 'q'])).stdout, /dead-letter-queue\s+q-dlq after 1 receives/);

  const started = await cli(f, ['dlq', 'redrive', 'q-dlq', '--rate', '10', '--json']);
  t.is(started.code, 0, started.stderr);
  const { taskId } = JSON.parse(started.stdout) as { taskId: string };
  await eventually(async () => {
    const listed = await cli(f, ['dlq', 'tasks', '--json']);
    const { tasks } = JSON.parse(listed.stdout) as { tasks: MessageMoveTask[] };
    return tasks.find((x) => x.taskId === taskId)?.status === 'completed';
  }, { message: 'the redrive completed' });
  const [back] = await f.client.receive('q');
  t.is(back === undefined ? '' : Buffer.from(back.body).toString(), 'poison');

  const cancelled = await cli(f, ['dlq', 'cancel', 'no-such-task']);
  t.is(cancelled.code, 2);
  t.regex(cancelled.stderr, /task_not_found/);
});
