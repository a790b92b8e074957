/**
 * Inspection on the bus against a real node: live frames while watched, the node's answers for its
 * actors and machines, and the whereabouts of a message by id and by receipt handle.
 */
import test from 'ava';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import * as v from 'valibot';
import {
  actorsReplySchema,
  decodeJson,
  encodeJson,
  machineReplySchema,
  messageReplySchema,
  type InspectRequest,
} from '../../src/inspect/protocol.ts';
import { clusterName } from '../../src/names.ts';
import { subjects } from '../../src/protocol/subjects.ts';
import { eventually } from '../helpers/eventually.ts';
import { watchEvents } from '../helpers/inspect-frames.ts';
import { startWharf } from '../helpers/wharf.ts';

async function inspectorConnection(t: { teardown(fn: () => Promise<void>): void }, url: string): Promise<NatsConnection> {
  const nc = await connect({ servers: url });
  t.teardown(() => nc.close());
  return nc;
}

async function ask<T>(nc: NatsConnection, cluster: string, node: string, schema: v.GenericSchema<unknown, T>, request: InspectRequest): Promise<T> {
  const msg = await nc.request(subjects(clusterName(cluster)).inspectRequest(node), encodeJson(request), { timeout: 5000 });
  return decodeJson(schema, msg.data);
}

test('a watched node streams its actors and their states; the node answers for actors and machines', async (t) => {
  const { client, nats, cluster } = await startWharf(t);
  await client.createQueue('watched');
  const nc = await inspectorConnection(t, nats.url);
  const events = watchEvents(nc, cluster);

  await eventually(() => events.some((e) => e.kind === 'state' && e.actor === 'node:n1'), { message: 'the node actor state' });
  t.true(events.some((e) => e.kind === 'actor' && e.machine === 'replica' && e.status === 'started'));
  t.true(events.some((e) => e.kind === 'actor' && e.actor === 'manager:n1'));

  events.length = 0;
  await client.sendMessage('watched', 'hello');
  const partitionEvent = await eventually(() => events.find((e) => e.kind === 'event' && e.type === 'requests'));
  t.truthy(partitionEvent);
  const partitionState = await eventually(() => events.find((e) => e.kind === 'state' && e.machine === 'partition'));
  t.false(JSON.stringify(partitionState).includes('hello'), 'no message body in a summary');

  const { actors } = await ask(nc, cluster, 'n1', actorsReplySchema, { op: 'actors' });
  const machines = new Set(actors.map((a) => a.machine));
  for (const m of ['node', 'queue', 'replica', 'partition', 'manager']) t.true(machines.has(m), m);
  const partition = actors.find((a) => a.machine === 'partition');
  t.true((partition?.events ?? []).some((e) => e.type === 'requests'), 'recent events of the partition');

  const { definition } = await ask(nc, cluster, 'n1', machineReplySchema, { op: 'machine', machine: 'replica' });
  t.is(definition.id, 'replica');
  t.true(Object.keys(definition.states).length > 1);
  t.true(definition.transitions.length + Object.values(definition.states).reduce((n, s) => n + s.transitions.length, 0) > 0);
});

test('the node says where a message is: ready, in flight with its lease and owner, delayed, or not found', async (t) => {
  const { client, nats, cluster } = await startWharf(t);
  await client.createQueue('found', { partitions: 2 });
  const nc = await inspectorConnection(t, nats.url);
  const where = (query: Omit<Extract<InspectRequest, { op: 'message' }>, 'op'>) =>
    ask(nc, cluster, 'n1', messageReplySchema, { op: 'message', ...query });

  const { messageId } = await client.sendMessage('found', 'one');
  const ready = await where({ queue: 'found', id: messageId });
  t.like(ready, { found: true, state: 'ready', receiveCount: 0, messageId });

  const [received] = await client.receive('found', { visibilityTimeout: 60, consumer: 'worker-7' });
  if (!received) return t.fail('nothing received');
  const byHandle = await where({ queue: 'found', receiptHandle: received.receiptHandle });
  t.like(byHandle, { found: true, state: 'inflight', receiveCount: 1, messageId, searched: 1, leaseOwner: 'worker-7' });
  if (!byHandle.found) return;
  t.true((byHandle.leaseUntil ?? 0) > Date.now() + 30_000);
  t.like(await where({ queue: 'found', id: messageId }), { found: true, state: 'inflight' });

  const delayed = await client.sendMessage('found', 'later', { delaySeconds: 600 });
  const late = await where({ queue: 'found', id: delayed.messageId });
  t.like(late, { found: true, state: 'delayed', receiveCount: 0 });
  if (late.found) t.true((late.delayedUntil ?? 0) > Date.now() + 500_000);

  await client.deleteMessage('found', received.receiptHandle);
  const gone = await where({ queue: 'found', id: messageId });
  t.like(gone, { found: false });
  t.true(gone.searched >= 1, 'says how many messages it looked at');
});
