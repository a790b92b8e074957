/**
 * Lease release (src/replication/releases.ts) between three real nodes, with the assignments
 * written by the test: after a planned change of primary, the old primary alive and stepped down,
 * the new one serves without waiting out the old lease; a node releases only an epoch it served and
 * has left for good.
 *
 * The nodes that become primary here run with a lease of ten minutes, so within the test's bounds
 * only a release lets them serve.
 */
import test from 'ava';
import type { WharfNode } from '../../src/node/node.ts';
import type { ReleaseFrame } from '../../src/protocol/internal.ts';
import { eventually } from '../helpers/eventually.ts';
import { createReplicatedQueue, elect, report, startCluster, replicaQuestions } from '../helpers/replicated-cluster.ts';

const LONG_LEASE_MS = 600_000;
const text = (b: Uint8Array) => new TextDecoder().decode(b);

test('a new primary serves at once when its predecessor released the lease; only a served and abandoned epoch is released', async (t) => {
  t.timeout(120_000);
  const c = await startCluster(t);
  const meta = await createReplicatedQueue(c, 'orders');
  const node = (id: string) => c.nodes.get(id) as WharfNode;
  await eventually(() => report(node('n1'), 'orders')?.role === 'primary', { message: 'n1 serves' });
  await c.client.sendMessage('orders', 'before');

  // n2 and n3 come back with a long lease: as primaries they could not serve by waiting it out.
  for (const id of ['n2', 'n3']) {
    await node(id).stop();
    await c.start(id, { leaseMs: LONG_LEASE_MS, failureTimeoutMs: 2 * LONG_LEASE_MS });
  }
  await eventually(() => ['n2', 'n3'].every((id) => report(node(id), 'orders')?.logEnd === report(node('n1'), 'orders')?.logEnd), {
    message: 'n2 and n3 caught up',
  });

  const ask = await replicaQuestions(t, c);
  const released = async (id: string, epoch: number) => {
    const frame: ReleaseFrame = { queue: 'orders', partition: 0, incarnation: meta.incarnation, released: epoch };
    return (await ask<{ released: boolean }>(id, frame)).released;
  };
  t.false(await released('n1', 1), 'n1 still serves epoch 1: nothing to release');
  t.false(await released('n2', 1), 'n2 never served epoch 1');

  // A planned move: n1 is alive, steps down at the fence and releases epoch 1 when n2 asks.
  t.is(await elect(c, 'orders', ['n2', 'n3', 'n1']), 'n2');
  await eventually(() => report(node('n2'), 'orders')?.role === 'primary', { message: 'n2 serves without waiting out a lease', timeoutMs: 30_000 });
  t.true(await released('n1', 1), 'n1 served epoch 1 and left it');
  t.false(await released('n1', 2), 'n1 never served epoch 2');
  t.false(await released('n2', 2), 'n2 serves epoch 2');
  await c.client.sendMessage('orders', 'after the first move');

  // Again from n2 (which served after a release) to n3.
  t.is(await elect(c, 'orders', ['n3', 'n1', 'n2']), 'n3');
  await eventually(() => report(node('n3'), 'orders')?.role === 'primary', { message: 'n3 serves without waiting out a lease', timeoutMs: 30_000 });
  t.true(await released('n2', 2), 'n2 served epoch 2 and left it');
  await c.client.sendMessage('orders', 'after the second move');

  // A release names the queue's incarnation: a re-created queue of the same name gets no answer meant for the old one.
  const other: ReleaseFrame = { queue: 'orders', partition: 0, incarnation: meta.incarnation + 1, released: 2 };
  t.false((await ask<{ released: boolean }>('n2', other)).released);

  const bodies = new Set<string>();
  await eventually(
    async () => {
      for (const m of await c.client.receive('orders', { maxMessages: 10 })) {
        bodies.add(text(m.body));
        await c.client.deleteMessage('orders', m.receiptHandle);
      }
      return bodies.size === 3;
    },
    { message: 'every acknowledged message is there' },
  );
  t.deepEqual([...bodies].sort(), ['after the first move', 'after the second move', 'before']);
});
