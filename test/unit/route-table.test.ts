/**
 * Route hints (src/protocol/route.ts) and the client's table of them (src/client/route-table.ts):
 * entries only move forward in epoch, a node that did not answer is avoided for a while, and
 * receipt batches split by the node serving each handle's partition.
 */
import test from 'ava';
import { RouteTable } from '../../src/client/route-table.ts';
import { encodeReceipt } from '../../src/protocol/receipt.ts';
import { decodeRoute, encodeRoute, partitionOfId, type RouteHint } from '../../src/protocol/route.ts';

const hint = (incarnation: number, ...partitions: Array<[string | null, number]>): string =>
  encodeRoute({ incarnation, partitions: partitions.map(([node, epoch]) => ({ node, epoch })) });
const receipt = (incarnation: number, partition: number) => encodeReceipt({ incarnation, partition, offset: 1, seq: 1 });

test('a hint round-trips, and what is not one decodes to nothing', (t) => {
  const h: RouteHint = { incarnation: 2 ** 40, partitions: [{ node: 'node-1', epoch: 3 }, { node: null, epoch: 40 }] };
  t.is(encodeRoute(h), `${(2 ** 40).toString(36)};node-1@3,@14`);
  t.deepEqual(decodeRoute(encodeRoute(h)), h);
  for (const bad of ['', 'x', '1;', '1;n1', '1;n1@', '1;n.1@2', '1;n1@2,', 'A;n1@2', '1;n1@2;n2@3']) t.is(decodeRoute(bad), undefined, bad);
});

test('a partition entry moves only forward: a higher epoch, or a primary where the same epoch had none', (t) => {
  const routes = new RouteTable();
  routes.learn('q', hint(7, [null, 2]));
  t.is(routes.nodeOfReceipt('q', receipt(7, 0)), undefined);
  routes.learn('q', hint(7, ['n1', 2]));
  t.is(routes.nodeOfReceipt('q', receipt(7, 0)), 'n1');
  routes.learn('q', hint(7, [null, 2]));
  routes.learn('q', hint(7, ['n2', 1]));
  t.is(routes.nodeOfReceipt('q', receipt(7, 0)), 'n1', 'older news is ignored');
  routes.learn('q', hint(7, [null, 3]));
  t.is(routes.nodeOfReceipt('q', receipt(7, 0)), undefined, 'fenced: no primary');
  routes.learn('q', hint(7, ['n3', 3]));
  t.is(routes.nodeOfReceipt('q', receipt(7, 0)), 'n3');
  t.is(routes.nodeOfReceipt('q', receipt(8, 0)), undefined, 'a handle of another incarnation');
  t.is(routes.nodeOfReceipt('q', 'not a handle'), undefined);
  routes.learn('q', hint(8, ['n2', 1]));
  t.is(routes.nodeOfReceipt('q', receipt(8, 0)), 'n2', 'a new incarnation replaces the queue');
});

test('a node that did not answer is avoided at its epoch until the time is up; another node or epoch is taken at once', (t) => {
  let now = 0;
  const routes = new RouteTable({ avoidMs: 1000, now: () => now });
  routes.learn('q', hint(1, ['n1', 1], ['n1', 1], ['n2', 1]));
  routes.unreachable('q', 'n1');
  t.deepEqual([0, 1, 2].map((p) => routes.nodeOfReceipt('q', receipt(1, p))), [undefined, undefined, 'n2']);
  routes.learn('q', hint(1, ['n1', 1], ['n3', 1], ['n2', 1]));
  t.deepEqual([0, 1].map((p) => routes.nodeOfReceipt('q', receipt(1, p))), [undefined, 'n3']);
  now = 1000;
  routes.learn('q', hint(1, ['n1', 1], ['n3', 1], ['n2', 1]));
  t.is(routes.nodeOfReceipt('q', receipt(1, 0)), 'n1');
});

test('sends follow their deduplication id, receives rotate over the partitions with a known primary', (t) => {
  const routes = new RouteTable();
  t.is(routes.nodeForReceive('q'), undefined);
  routes.learn('q', hint(1, ['n1', 1], [null, 1], ['n3', 1]));
  t.deepEqual([1, 2, 3, 4].map(() => routes.nodeForReceive('q')), ['n1', 'n3', 'n1', 'n3']);
  const nodes = ['n1', undefined, 'n3'];
  for (const id of ['a', 'b', 'c', 'd']) t.is(routes.nodeForSend('q', id), nodes[partitionOfId(id, 3)], id);
  t.is(routes.nodeForSend('q', undefined), undefined, 'without an id the front-end picks the partition');
});

test('a receipt batch splits by node, in entry order, unknown handles to any node', (t) => {
  const routes = new RouteTable();
  routes.learn('q', hint(1, ['n1', 1], ['n2', 1], ['n1', 1]));
  const entries = [receipt(1, 0), receipt(1, 1), 'bad', receipt(1, 2), receipt(2, 0)].map((receiptHandle, i) => ({ id: `e${i}`, receiptHandle }));
  const groups = routes.byNode('q', entries);
  t.deepEqual([...groups].map(([node, es]) => [node, es.map((e) => e.id)]), [
    ['n1', ['e0', 'e3']],
    ['n2', ['e1']],
    [undefined, ['e2', 'e4']],
  ]);
  routes.learn('one', hint(1, ['n2', 1]));
  t.deepEqual([...routes.byNode('one', entries)].map(([node, es]) => [node, es.length]), [['n2', 5]], 'one partition: all to its node, unread');
});
