/**
 * `wharf stream …` and `wharf queue create --mode stream` as a user runs them (a child process)
 * against a real node: read from an offset and a time, offsets of a group, an operator's seek and
 * commit, the groups of a stream.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { startWharf, type WharfFixture } from '../helpers/wharf.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const exec = promisify(execFile);

async function wharf(f: WharfFixture, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const argv = ['--import', 'tsx', 'src/cli/main.ts', ...args, '--server', f.nats.url, '--cluster', f.cluster];
  try {
    const { stdout, stderr } = await exec(process.execPath, argv, { cwd: ROOT, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

test('stream commands: create, read, offsets, seek, commit, groups', async (t) => {
  const f = await startWharf(t);
  t.is((await wharf(f, 'queue', 'create', 'clicks', '--mode', 'stream', '--retention-bytes', '1000000')).code, 0);
  const attrs = await wharf(f, 'queue', 'attrs', 'clicks');
  t.regex(attrs.stdout, /^mode\s+stream$/m);
  t.regex(attrs.stdout, /^retention-bytes\s+1000000/m);
  for (const body of ['c0', 'c1', 'c2']) await f.client.sendMessage('clicks', body);

  const read = await wharf(f, 'stream', 'read', 'clicks', '--offset', '1');
  t.is(read.code, 0, read.stderr);
  t.deepEqual(read.stdout.trim().split('\n').map((l) => l.split('\t')[3]), ['c1', 'c2']);
  const byTime = await wharf(f, '--json', 'stream', 'read', 'clicks', '--time', new Date(Date.now() + 60_000).toISOString());
  t.deepEqual((JSON.parse(byTime.stdout) as { messages: unknown[] }).messages, [], 'nothing sent after a future time');

  t.is((await wharf(f, 'stream', 'seek', 'clicks', '--group', 'ops', '--offset', '2')).code, 0);
  const offsets = JSON.parse((await wharf(f, '--json', 'stream', 'offsets', 'clicks', '--group', 'ops')).stdout) as {
    partitions: Array<{ committed?: { offset: number }; endOffset: number }>;
  };
  t.is(offsets.partitions[0]?.committed?.offset, 2);
  t.is(offsets.partitions[0]?.endOffset, 3);
  const fromGroup = await wharf(f, 'stream', 'read', 'clicks', '--group', 'ops', '--commit');
  t.deepEqual(fromGroup.stdout.trim().split('\n').map((l) => l.split('\t')[3]), ['c2']);
  t.regex((await wharf(f, 'stream', 'offsets', 'clicks', '--group', 'ops')).stdout, /^0\s+0\s+3\s+3\s+0\s+0$/m);
  t.is((await wharf(f, 'stream', 'commit', 'clicks', '--group', 'ops', '--partition', '0', '--offset', '0')).code, 0);
  t.is((await wharf(f, 'stream', 'seek', 'clicks', '--group', 'ops', '--latest')).code, 0);
  t.regex((await wharf(f, 'stream', 'groups', 'clicks')).stdout, /^ops\s+0\s+0$/m);

  const wrong = await wharf(f, 'receive', 'clicks');
  t.is(wrong.code, 2);
  t.regex(wrong.stderr, /wrong_queue_mode/);
  const noGroup = await wharf(f, 'stream', 'seek', 'clicks', '--group', 'ops');
  t.is(noGroup.code, 1);
});
