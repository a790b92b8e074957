/**
 * `wharf status` and `wharf top` as child processes against a real node with its cluster manager:
 * the summary's nodes, queues and partitions agree with the API, and top prints successive frames
 * when its output is not a terminal.
 */
import test from 'ava';
import type { StatusView } from '../../src/cli/status.ts';
import { cliOf as cli } from '../helpers/cli.ts';
import { eventually } from '../helpers/eventually.ts';
import { startWharf, type WharfFixture } from '../helpers/wharf.ts';

/** A node whose manager is active and has placed the queue's partitions. */
async function withQueue(t: Parameters<typeof startWharf>[0]): Promise<WharfFixture> {
  const f = await startWharf(t);
  await f.client.createQueue('shown', { partitions: 2 });
  await f.client.sendMessageBatch('shown', [1, 2, 3].map((i) => ({ id: `m${i}`, body: new TextEncoder().encode(`b${i}`) })));
  await f.client.receive('shown', { maxMessages: 1, visibilityTimeout: 60 });
  return f;
}

test('wharf status --json: nodes with liveness, queues with the API counts, partitions with primary and epoch', async (t) => {
  const f = await withQueue(t);
  const { counts } = await f.client.getQueueAttributes('shown');
  const view = await eventually(async () => {
    const r = await cli(f, ['status', '--json']);
    return r.code === 0 ? (JSON.parse(r.stdout) as StatusView) : undefined;
  });

  t.deepEqual(
    view.nodes.map((n) => [n.id, n.liveness, n.state]),
    [['n1', 'alive', 'active']],
  );
  t.is(view.manager, 'n1');
  t.is(view.queues.length, 1);
  t.like(view.queues[0], {
    name: 'shown',
    messages: counts.approximateNumberOfMessages,
    inFlight: counts.approximateNumberOfMessagesNotVisible,
    delayed: 0,
    partitions: 2,
  });
  t.is(typeof view.queues[0]?.oldestAge, 'number', 'the age of the oldest message, in seconds');
  t.deepEqual(
    view.partitions.map((p) => [p.queue, p.partition, p.primary, p.followers, p.learners, p.epoch >= 1]),
    [
      ['shown', 0, 'n1', [], [], true],
      ['shown', 1, 'n1', [], [], true],
    ],
  );
  const reports = f.node.reports();
  for (const p of view.partitions) t.is<number | undefined, number | undefined>(p.epoch, reports.find((r) => r.queue === p.queue && r.partition === p.partition)?.epoch);
});

test('wharf status prints the summary as text; wharf top prints successive frames when not on a terminal', async (t) => {
  const f = await withQueue(t);
  await eventually(async () => (await cli(f, ['status', '--json'])).code === 0);

  const status = await cli(f, ['status']);
  t.is(status.code, 0, status.stderr);
  t.regex(status.stdout, /nodes: 1 \(1 alive, 0 suspected, 0 dead\)/);
  t.regex(status.stdout, /^shown\s+2\s+1\s+0\s+\d+s\s+2\s*$/m);
  t.regex(status.stdout, /^shown\/0\s+\d+\s+n1\s/m);

  const top = await cli(f, ['top', '--frames', '2', '--interval', '100']);
  t.is(top.code, 0, top.stderr);
  t.is(top.stdout.match(/^wharf top — /gm)?.length, 2);
  t.false(top.stdout.includes('\x1b['), 'no terminal control codes in a pipe');
  t.regex(top.stdout, /Δ MESSAGES\/S/);
});

test('wharf status exits 3 when no node answers', async (t) => {
  const f = await startWharf(t, { manager: false });
  const r = await cli(f, ['status', '--timeout', '500']);
  t.is(r.code, 3);
  t.regex(r.stderr, /no cluster manager answered/);
});
