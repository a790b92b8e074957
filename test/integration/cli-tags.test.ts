/**
 * `wharf queue tag|untag|tags`, `queue create --tag` and the oldest message's age in `wharf queue
 * get`, as child processes against a real node.
 */
import test from 'ava';
import { cliOf as cli } from '../helpers/cli.ts';
import { startWharf } from '../helpers/wharf.ts';

test('wharf queue create --tag, queue tag, queue untag and queue tags', async (t) => {
  const f = await startWharf(t);
  t.is((await cli(f, ['queue', 'create', 'orders', '--tag', 'team=payments', '--tag', 'env=dev'])).code, 0);
  t.is((await cli(f, ['queue', 'tag', 'orders', 'env=prod', 'note='])).code, 0);
  t.deepEqual(await f.client.listQueueTags('orders'), { team: 'payments', env: 'prod', note: '' });

  t.is((await cli(f, ['queue', 'untag', 'orders', 'team'])).code, 0);
  const listed = await cli(f, ['queue', 'tags', 'orders']);
  t.is(listed.code, 0);
  t.is(listed.stdout, 'env=prod\nnote=\n');
  const json = await cli(f, ['queue', 'tags', 'orders', '--json']);
  t.deepEqual(JSON.parse(json.stdout), { queue: 'orders', tags: { env: 'prod', note: '' } });
});

test('wharf queue tag: a malformed pair is a usage error (1), a refused tag a server error (2)', async (t) => {
  const f = await startWharf(t);
  await f.client.createQueue('orders');
  const usage = await cli(f, ['queue', 'tag', 'orders', 'no-equals-sign']);
  t.is(usage.code, 1);
  t.regex(usage.stderr, /key=value/);
  const refused = await cli(f, ['queue', 'tag', 'orders', 'aws:team=x']);
  t.is(refused.code, 2);
  t.regex(refused.stderr, /invalid_tag/);
});

test('wharf queue get shows the age of the oldest message', async (t) => {
  const f = await startWharf(t);
  await f.client.createQueue('orders');
  await f.client.sendMessage('orders', 'x');
  const r = await cli(f, ['queue', 'get', 'orders']);
  t.is(r.code, 0);
  t.regex(r.stdout, /oldest-message-age\s+\d+/);
  const json = JSON.parse((await cli(f, ['queue', 'get', 'orders', '--json'])).stdout) as { counts: Record<string, number> };
  t.is(typeof json.counts['approximateAgeOfOldestMessage'], 'number');
});
