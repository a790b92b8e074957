/**
 * Drains that cannot finish (actors/manager/drain.ts): the partitions a draining node's replicas
 * have nowhere to go from, said up front, and nothing said when the drain can make progress.
 */
import test from 'ava';
import { decide } from '../../actors/manager/decide.ts';
import { drainBlockedMessage, drainBlockers } from '../../actors/manager/drain.ts';
import { World } from './manager-fakes.ts';

function cluster(nodes: string[], partitions: number, rf: number): World {
  const w = new World();
  for (const n of nodes) w.addNode(n);
  w.addQueue('q', partitions, rf);
  w.heartbeat();
  w.settle(decide);
  return w;
}

test('three nodes, replication factor 3: every partition of the node is blocked, with why', (t) => {
  const w = cluster(['a', 'b', 'c'], 2, 3);
  const blocked = drainBlockers(w.view(), 'c');
  t.deepEqual(
    blocked.map((b) => [b.queue, b.partition, b.code]),
    [
      ['q', 0, 'drain_blocked'],
      ['q', 1, 'drain_blocked'],
    ],
  );
  t.regex(blocked[0]?.reason ?? '', /q\.0 needs 3 copies and a, b already hold it/);
  const message = drainBlockedMessage('c', blocked, 1);
  t.regex(message, /^node c cannot be drained: 2 partitions cannot move: q\.0 needs 3 copies .*; and 1 more$/);
});

test('a spare node, or enough copies elsewhere, lets the drain go ahead', (t) => {
  t.deepEqual(drainBlockers(cluster(['a', 'b', 'c', 'd'], 2, 3).view(), 'c'), [], 'd can take the copies');
  t.deepEqual(drainBlockers(cluster(['a', 'b', 'c'], 2, 2).view(), 'c'), [], 'the third node can take them');
  const w = cluster(['a', 'b', 'c'], 1, 3);
  t.deepEqual(drainBlockers(w.view(), 'nowhere'), [], 'a node without replicas');
});

test('a spare node that is dead or draining itself is no way out', (t) => {
  const w = cluster(['a', 'b', 'c', 'd'], 1, 3);
  const holders = w.get('q').replicas;
  const spare = ['a', 'b', 'c', 'd'].find((n) => !holders.includes(n)) as string;
  const victim = holders[0] as string;
  w.setNodeState(spare, 'draining');
  t.is(drainBlockers(w.view(), victim).length, 1);
  w.setNodeState(spare, 'active');
  w.down.add(spare);
  w.now += 2_000;
  w.heartbeat();
  t.deepEqual(drainBlockers(w.view(), victim), [], 'only suspected (a late heartbeat): still a way out');
  w.now += 8_000;
  w.heartbeat();
  t.is(drainBlockers(w.view(), victim).length, 1);
  w.down.delete(spare);
  w.heartbeat();
  t.deepEqual(drainBlockers(w.view(), victim), []);
});

test('the blocked drain is the one that never finishes; the unblocked one does', (t) => {
  const blocked = cluster(['a', 'b', 'c'], 1, 3);
  blocked.setNodeState('c', 'draining');
  blocked.settle(decide);
  t.is(blocked.nodes.get('c')?.value.state, 'draining', 'what drainBlockers predicted');
  const free = cluster(['a', 'b', 'c', 'd'], 1, 3);
  const victim = free.get('q').replicas[0] as string;
  free.setNodeState(victim, 'draining');
  free.settle(decide);
  t.is(free.nodes.get(victim)?.value.state, 'removed');
});
