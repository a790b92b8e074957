/**
 * Queue tags against a real node (real nats-server, real RocksDB): TagQueue, UntagQueue,
 * ListQueueTags and CreateQueue's tags, SQS's limits with their typed errors, and tags kept in the
 * queue's metadata record (JetStream KV), so a node that starts afresh reads them back.
 */
import test from 'ava';
import { connect } from '@nats-io/transport-node';
import { ErrorCode } from '../../src/errors.ts';
import { Metadata } from '../../src/meta/metadata.ts';
import { LIMITS } from '../../src/protocol/limits.ts';
import { failsWith } from '../helpers/queue-assertions.ts';
import { startWharf } from '../helpers/wharf.ts';

test('CreateQueue sets tags; TagQueue adds and replaces; UntagQueue removes; ListQueueTags lists them', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('orders', { visibilityTimeout: 45 }, { team: 'payments', env: 'dev' });
  t.deepEqual(await client.listQueueTags('orders'), { team: 'payments', env: 'dev' });

  await client.tagQueue('orders', { env: 'prod', 'cost-center': '' });
  t.deepEqual(await client.listQueueTags('orders'), { team: 'payments', env: 'prod', 'cost-center': '' });

  await client.untagQueue('orders', ['team', 'not-there']);
  t.deepEqual(await client.listQueueTags('orders'), { env: 'prod', 'cost-center': '' });

  await client.untagQueue('orders', ['env', 'cost-center']);
  t.deepEqual(await client.listQueueTags('orders'), {});
  t.is((await client.getQueueAttributes('orders')).attributes.visibilityTimeout, 45, 'tags leave the attributes alone');
});

test('tag keys are case-sensitive', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('orders');
  await client.tagQueue('orders', { Env: 'a', env: 'b' });
  await client.untagQueue('orders', ['ENV']);
  t.deepEqual(await client.listQueueTags('orders'), { Env: 'a', env: 'b' });
});

test('CreateQueue of an existing queue keeps its tags and answers created false', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('orders', undefined, { team: 'payments' });
  const again = await client.createQueue('orders', undefined, { team: 'other' });
  t.false(again.created);
  t.deepEqual(await client.listQueueTags('orders'), { team: 'payments' });
});

test('tagging does not change modifiedAt, which follows the attributes', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('orders');
  const before = await client.getQueueAttributes('orders');
  await client.tagQueue('orders', { team: 'payments' });
  t.is((await client.getQueueAttributes('orders')).modifiedAt, before.modifiedAt);
});

test('a queue has at most 50 tags: TagQueue past it is too_many_tags and changes nothing', async (t) => {
  const { client } = await startWharf(t);
  const fifty = Object.fromEntries(Array.from({ length: LIMITS.maxQueueTags }, (_, i) => [`k${i}`, `v${i}`]));
  await client.createQueue('orders', undefined, fifty);
  await failsWith(t, client.tagQueue('orders', { one: 'more' }), ErrorCode.TooManyTags);
  t.is(Object.keys(await client.listQueueTags('orders')).length, LIMITS.maxQueueTags);

  await client.tagQueue('orders', { k0: 'replaced' });
  t.is((await client.listQueueTags('orders'))['k0'], 'replaced', 'replacing a value keeps the count');
  await failsWith(t, client.createQueue('other', undefined, { ...fifty, one: 'more' }), ErrorCode.TooManyTags);
  t.deepEqual((await client.listQueues()).queues, ['orders'], 'the refused CreateQueue created nothing');
});

test('tag keys of 1-128 characters, values of 0-256, the tag alphabet and the aws: prefix are enforced with invalid_tag', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('orders');
  await client.tagQueue('orders', { ['k'.repeat(128)]: 'v'.repeat(256), 'a b_.:/=+-@é9': '' });
  const bad: Array<Record<string, string>> = [
    { '': 'v' },
    { ['k'.repeat(129)]: 'v' },
    { k: 'v'.repeat(257) },
    { 'a*b': 'v' },
    { k: 'semi;colon' },
    { 'aws:team': 'v' },
    { 'AWS:team': 'v' },
  ];
  for (const tags of bad) await failsWith(t, client.tagQueue('orders', tags), ErrorCode.InvalidTag, JSON.stringify(tags).slice(0, 40));
  await failsWith(t, client.untagQueue('orders', ['']), ErrorCode.InvalidTag);
  t.is(Object.keys(await client.listQueueTags('orders')).length, 2, 'no refused request changed anything');
});

test('tags of a missing queue are queue_not_found; malformed requests invalid_parameter', async (t) => {
  const { client } = await startWharf(t);
  await failsWith(t, client.listQueueTags('nope'), ErrorCode.QueueNotFound);
  await failsWith(t, client.tagQueue('nope', { a: 'b' }), ErrorCode.QueueNotFound);
  await failsWith(t, client.untagQueue('nope', ['a']), ErrorCode.QueueNotFound);
  await client.createQueue('orders');
  await failsWith(t, client.request('TagQueue', { queue: 'orders', tags: { a: 5 } as unknown as Record<string, string> }), ErrorCode.InvalidParameter);
});

test('tags live in the queue record in JetStream KV: a reader of the metadata and a restarted node see them', async (t) => {
  const f = await startWharf(t);
  await f.client.createQueue('orders');
  await f.client.tagQueue('orders', { team: 'payments' });

  const nc = await connect({ servers: f.nats.url });
  t.teardown(() => nc.close());
  const metadata = await Metadata.open(nc, f.cluster);
  t.teardown(() => metadata.close());
  t.deepEqual(metadata.queue('orders')?.value.tags, { team: 'payments' });

  await f.restart();
  t.deepEqual(await f.client.listQueueTags('orders'), { team: 'payments' });
});
