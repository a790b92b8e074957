/**
 * What the inspector's queue view and actor list read from a real node: the `counters` inspection
 * request (the node's message counters), the queue figures built from them with the oldest
 * message's age, and partition actors named after their queue, partition and role.
 */
import test from 'ava';
import { connect } from '@nats-io/transport-node';
import { QueueStatsSampler } from '../../src/inspect/server/queue-stats.ts';
import { NodeRequests } from '../../src/inspect/server/node-requests.ts';
import type { ClusterMapView } from '../../src/inspect/server/cluster-map.ts';
import { clusterName } from '../../src/names.ts';
import { subjects } from '../../src/protocol/subjects.ts';
import { eventually } from '../helpers/eventually.ts';
import { watchEvents } from '../helpers/inspect-frames.ts';
import { startWharf } from '../helpers/wharf.ts';

test('a node answers its message counters per queue and boot', async (t) => {
  const { client, node, cluster } = await startWharf(t);
  await client.createQueue('orders');
  for (let i = 0; i < 3; i++) await client.sendMessage('orders', `m${i}`);
  const got = await eventually(async () => {
    const m = await client.receive('orders', { maxMessages: 3 });
    return m.length > 0 && m;
  });
  await client.deleteMessage('orders', got[0]?.receiptHandle ?? '');

  const requests = new NodeRequests(node.nc, subjects(clusterName(cluster)));
  const reply = await requests.counters('n1');
  t.is(reply.node, 'n1');
  t.is(typeof reply.boot, 'string');
  t.deepEqual(reply.queues['orders'], { sent: 3, received: got.length, deleted: 1 });
});

test('queue figures carry running totals from the counters and the oldest message age from the counts', async (t) => {
  const { client, node, cluster } = await startWharf(t);
  await client.createQueue('orders', { partitions: 2 });
  const map: ClusterMapView = {
    cluster,
    model: 'primary',
    manager: null,
    nodes: [{ id: 'n1', state: 'active', liveness: 'alive', boot: null, replicas: 2, primaries: 2, manager: true }],
    queues: [{ name: 'orders', incarnation: 0, attributes: {} as ClusterMapView['queues'][number]['attributes'], createdAt: 0, partitions: [] }],
  };
  const sampler = new QueueStatsSampler(client, new NodeRequests(node.nc, subjects(clusterName(cluster))));
  const [first] = await sampler.sample(map);
  t.deepEqual(first?.messages, { sent: 0, received: 0, deleted: 0 });
  t.is(first?.counts?.approximateAgeOfOldestMessage, 0);

  for (let i = 0; i < 5; i++) await client.sendMessage('orders', `m${i}`);
  const [second] = await sampler.sample(map);
  t.deepEqual(second?.messages, { sent: 5, received: 0, deleted: 0 });
  t.is(typeof second?.counts?.approximateAgeOfOldestMessage, 'number');
});

test("a partition actor is listed as partition:<queue>/<partition>:primary, its replica's child", async (t) => {
  const { client, node, cluster } = await startWharf(t);
  await client.createQueue('orders', { partitions: 2 });
  await client.sendMessage('orders', 'x');
  const requests = new NodeRequests(node.nc, subjects(clusterName(cluster)));
  const actors = await eventually(async () => {
    const reply = await requests.actors('n1');
    const partitions = reply.actors.filter((a) => a.machine === 'partition');
    return partitions.length === 2 && partitions;
  });
  t.deepEqual(actors.map((a) => a.actor).sort(), ['partition:orders/0:primary', 'partition:orders/1:primary']);
  for (const a of actors) t.regex(a.parent ?? '', /^replica:orders:\d+:[01]$/);
});

test('actors started while watched are named by their system ids, not their session ids', async (t) => {
  const { client, nats, cluster } = await startWharf(t);
  const nc = await connect({ servers: nats.url });
  t.teardown(() => nc.close());
  const events = watchEvents(nc, cluster);
  await eventually(() => events.some((e) => e.kind === 'state' && e.actor === 'node:n1'), { message: 'the watch to begin' });

  await client.createQueue('late');
  await client.sendMessage('late', 'x');
  const started = (machine: string) =>
    eventually(() => events.find((e) => e.kind === 'actor' && e.status === 'started' && e.machine === machine), { message: `a ${machine} started` });
  t.regex((await started('queue')).actor, /^queue:late:\d+$/);
  t.regex((await started('replica')).actor, /^replica:late:\d+:0$/);
  t.is((await started('partition')).actor, 'partition:late/0:primary');
});
