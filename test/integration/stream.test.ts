/**
 * Stream mode on a real node (nats-server, RocksDB): messages stay after they are read, retention by
 * age and by size removes the oldest, groups read independently, seeks by offset and by time,
 * committed offsets survive a restart, group rebalancing and the fence of an old generation, and
 * the typed errors of the wrong mode.
 */
import test from 'ava';
import { ErrorCode, isWharfError } from '../../src/errors.ts';
import type { WharfClient } from '../../src/client/client.ts';
import { eventually } from '../helpers/eventually.ts';
import { OffsetClock } from '../helpers/clock.ts';
import { startWharf } from '../helpers/wharf.ts';
import type { ClusterName } from '../../src/names.ts';
import { subjects } from '../../src/protocol/subjects.ts';

const text = (b: Uint8Array) => new TextDecoder().decode(b);

async function sendAll(client: WharfClient, queue: string, bodies: string[]): Promise<void> {
  for (const body of bodies) await client.sendMessage(queue, body);
}

async function readAll(client: WharfClient, queue: string, partition: number, offset: number): Promise<string[]> {
  const { messages } = await client.request('ReadStream', { queue, partition, offset, maxMessages: 1000 });
  return messages.map((m) => text(m.body));
}

const refusedWith = async (t: { true: (v: boolean, m?: string) => void }, p: Promise<unknown>, code: string) => {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  t.true(isWharfError(err) && err.code === code, `expected ${code}, got ${String(err)}`);
};

test('messages stay after they are read and committed', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('events', { mode: 'stream' });
  await sendAll(client, 'events', ['a', 'b', 'c']);
  t.deepEqual(await readAll(client, 'events', 0, 0), ['a', 'b', 'c']);
  await client.request('CommitOffsets', { queue: 'events', group: 'g', offsets: [{ partition: 0, offset: 3 }] });
  t.deepEqual(await readAll(client, 'events', 0, 0), ['a', 'b', 'c'], 'still there after the commit');
  const { partitions } = await client.request('GetOffsets', { queue: 'events', group: 'g' });
  t.like(partitions[0], { partition: 0, startOffset: 0, endOffset: 3, committed: { offset: 3, generation: 0 } });
  const attrs = await client.getQueueAttributes('events');
  t.is(attrs.attributes.mode, 'stream');
  t.is(attrs.counts.approximateNumberOfMessages, 3);
});

test('age retention removes the oldest messages', async (t) => {
  const clock = new OffsetClock();
  const { client } = await startWharf(t, { clock });
  await client.createQueue('aged', { mode: 'stream', retentionPeriod: 60 });
  await sendAll(client, 'aged', ['old1', 'old2']);
  clock.advance(40_000);
  await sendAll(client, 'aged', ['new1']);
  clock.advance(25_000);
  await eventually(async () => (await client.request('GetOffsets', { queue: 'aged' })).partitions[0]?.startOffset === 2, {
    message: 'the two oldest messages trimmed',
  });
  t.deepEqual(await readAll(client, 'aged', 0, 0), ['new1'], 'a read from a trimmed offset starts at the first stored one');
});

test('size retention keeps each partition within retentionBytes, removing the oldest', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('sized', { mode: 'stream', retentionBytes: 1000 });
  const bodies = Array.from({ length: 30 }, (_, i) => `${String(i).padStart(3, '0')}${'x'.repeat(97)}`);
  await sendAll(client, 'sized', bodies);
  const start = await eventually(async () => {
    const p = (await client.request('GetOffsets', { queue: 'sized' })).partitions[0];
    return p !== undefined && p.startOffset >= 20 ? p.startOffset : undefined;
  }, { message: 'at most 1000 bytes kept' });
  t.is(start, 20);
  t.deepEqual(await readAll(client, 'sized', 0, 0), bodies.slice(20));
});

test('two groups read the same messages independently', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('shared', { mode: 'stream', partitions: 2 });
  await sendAll(client, 'shared', ['m1', 'm2', 'm3', 'm4', 'm5', 'm6']);
  const consume = async (group: string) => {
    const seen: string[] = [];
    const consumer = client.streamConsumer('shared', (m) => void seen.push(text(m.body)), { group, sessionTimeoutMs: 5000 });
    t.teardown(() => consumer.stop());
    await eventually(() => seen.length === 6, { message: `${group} read everything` });
    await consumer.stop();
    return seen.sort();
  };
  t.deepEqual(await consume('billing'), ['m1', 'm2', 'm3', 'm4', 'm5', 'm6']);
  t.deepEqual(await consume('audit'), ['m1', 'm2', 'm3', 'm4', 'm5', 'm6'], 'the first group took nothing away');
  const billing = (await client.request('GetOffsets', { queue: 'shared', group: 'billing' })).partitions;
  t.is(billing.reduce((n, p) => n + (p.committed?.offset ?? 0), 0), 6, 'billing committed the end of both partitions');
});

test('seek by offset and by timestamp', async (t) => {
  const clock = new OffsetClock();
  const { client } = await startWharf(t, { clock });
  await client.createQueue('timeline', { mode: 'stream' });
  await sendAll(client, 'timeline', ['t0', 't1']);
  clock.advance(10_000);
  const middle = clock.now();
  clock.advance(10);
  await sendAll(client, 'timeline', ['t2', 't3', 't4']);
  t.is((await client.request('FindOffset', { queue: 'timeline', partition: 0, timestamp: middle })).offset, 2);
  t.is((await client.request('FindOffset', { queue: 'timeline', partition: 0, timestamp: 0 })).offset, 0);
  t.is((await client.request('FindOffset', { queue: 'timeline', partition: 0, timestamp: clock.now() + 60_000 })).offset, 5, 'after the last: the end');
  t.deepEqual(await readAll(client, 'timeline', 0, 3), ['t3', 't4'], 'a read from an offset');

  const seen: string[] = [];
  const consumer = client.streamConsumer('timeline', (m) => void seen.push(text(m.body)), { group: 'g', startFrom: 'latest', autoCommit: false });
  t.teardown(() => consumer.stop());
  await eventually(() => (consumer.assignment?.partitions.length ?? 0) === 1, { message: 'assigned' });
  await consumer.seekToTime(middle);
  await eventually(() => seen.length === 3, { message: 'read from the seek' });
  t.deepEqual(seen, ['t2', 't3', 't4']);
  consumer.seek(0, 1);
  await eventually(() => seen.length === 7, { message: 'read again from offset 1' });
  t.deepEqual(seen.slice(3), ['t1', 't2', 't3', 't4']);
  await consumer.commit();
  await consumer.stop();
  t.is((await client.request('GetOffsets', { queue: 'timeline', group: 'g' })).partitions[0]?.committed?.offset, 5);
});

test('committed offsets survive a restart', async (t) => {
  const fixture = await startWharf(t);
  await fixture.client.createQueue('durable', { mode: 'stream', partitions: 2 });
  // Deduplication ids pick the partitions: two messages go to each by explicit batches instead.
  await fixture.client.sendMessageBatch('durable', [{ id: 'a', body: new TextEncoder().encode('a') }, { id: 'b', body: new TextEncoder().encode('b') }]);
  await fixture.client.sendMessageBatch('durable', [{ id: 'c', body: new TextEncoder().encode('c') }, { id: 'd', body: new TextEncoder().encode('d') }]);
  await fixture.client.request('CommitOffsets', { queue: 'durable', group: 'g', offsets: [{ partition: 0, offset: 2, metadata: 'ckpt' }, { partition: 1, offset: 1 }] });
  await fixture.restart();
  const offsets = await eventually(async () => (await fixture.client.request('GetOffsets', { queue: 'durable', group: 'g' })).partitions, { timeoutMs: 20_000 });
  t.like(offsets[0], { committed: { offset: 2, metadata: 'ckpt' } });
  t.like(offsets[1], { committed: { offset: 1 } });
  t.is((offsets[0]?.endOffset ?? 0) + (offsets[1]?.endOffset ?? 0), 4, 'and every message');
});

test('members joining and leaving rebalance; no partition has two owners in a generation; a fenced member cannot commit', async (t) => {
  const clock = new OffsetClock();
  // Sessions long next to a loaded machine's stalls: only the clock's jumps below end one.
  const SESSION_MS = 30_000;
  const { client } = await startWharf(t, { clock });
  await client.createQueue('shares', { mode: 'stream', partitions: 4 });
  const q = { queue: 'shares', group: 'workers' };
  const a = await client.request('JoinGroup', { ...q, sessionTimeoutMs: SESSION_MS });
  t.deepEqual(a.partitions, [0, 1, 2, 3]);
  const b = await client.request('JoinGroup', { ...q, sessionTimeoutMs: SESSION_MS });
  t.true(b.generation > a.generation);
  const aNow = await client.request('GroupHeartbeat', { ...q, memberId: a.memberId, generation: a.generation });
  t.is(aNow.generation, b.generation);
  const owners = [...aNow.partitions, ...b.partitions].sort();
  t.deepEqual(owners, [0, 1, 2, 3], 'every partition owned exactly once');

  // The old generation's commit is refused: a zombie cannot move the new owner's offsets.
  await refusedWith(t, client.request('CommitOffsets', { ...q, memberId: a.memberId, generation: a.generation, offsets: [{ partition: b.partitions[0] ?? 0, offset: 0 }] }), ErrorCode.StaleGeneration);
  await refusedWith(t, client.request('CommitOffsets', { ...q, memberId: a.memberId, generation: aNow.generation, offsets: [{ partition: b.partitions[0] ?? 0, offset: 0 }] }), ErrorCode.StaleGeneration);
  await client.request('CommitOffsets', { ...q, memberId: a.memberId, generation: aNow.generation, offsets: [{ partition: aNow.partitions[0] ?? 0, offset: 0 }] });
  await refusedWith(t, client.request('CommitOffsets', { ...q, offsets: [{ partition: 0, offset: 0 }] }), ErrorCode.InvalidParameter);

  // b leaves: a gets everything in a new generation.
  await client.request('LeaveGroup', { ...q, memberId: b.memberId });
  const alone = await client.request('GroupHeartbeat', { ...q, memberId: a.memberId, generation: aNow.generation });
  t.deepEqual(alone.partitions, [0, 1, 2, 3]);
  t.true(alone.generation > aNow.generation);

  // A member that stops heartbeating is removed after its session timeout.
  const c = await client.request('JoinGroup', { ...q, sessionTimeoutMs: SESSION_MS });
  clock.advance(SESSION_MS * 0.6);
  await client.request('GroupHeartbeat', { ...q, memberId: c.memberId, generation: c.generation });
  clock.advance(SESSION_MS * 0.6);
  const survivor = await client.request('GroupHeartbeat', { ...q, memberId: c.memberId, generation: c.generation });
  t.deepEqual(survivor.partitions, [0, 1, 2, 3], 'a, silent for 1.2 session timeouts, is gone');
  await refusedWith(t, client.request('GroupHeartbeat', { ...q, memberId: a.memberId, generation: alone.generation }), ErrorCode.UnknownMember);
  const described = await client.request('DescribeGroup', q);
  t.deepEqual(described.members.map((m) => m.memberId), [c.memberId]);
  t.deepEqual((await client.request('ListGroups', { queue: 'shares' })).groups, ['workers']);
});

test('stream consumers of one group share the partitions and together read each message', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('work', { mode: 'stream', partitions: 4 });
  const seen = new Map<string, string>();
  const consumer = (name: string) => {
    const c = client.streamConsumer('work', (m) => void seen.set(text(m.body), name), { group: 'g', sessionTimeoutMs: 3000 });
    t.teardown(() => c.stop());
    return c;
  };
  const one = consumer('one');
  await eventually(() => one.assignment?.partitions.length === 4, { message: 'one owns all' });
  const two = consumer('two');
  await eventually(() => two.assignment !== undefined && two.assignment.partitions.length === 2 && one.assignment?.partitions.length === 2, {
    message: 'rebalanced to two each',
    timeoutMs: 15_000,
  });
  t.is(one.assignment?.generation, two.assignment?.generation);
  t.deepEqual([...(one.assignment?.partitions ?? []), ...(two.assignment?.partitions ?? [])].sort(), [0, 1, 2, 3]);
  const bodies = Array.from({ length: 40 }, (_, i) => `w${i}`);
  await client.sendMessageBatch('work', bodies.map((body, i) => ({ id: `e${i}`, body: new TextEncoder().encode(body) })));
  for (let i = 0; i < 4; i++) await client.sendMessage('work', `x${i}`);
  await eventually(() => seen.size === 44, { message: 'every message read', timeoutMs: 15_000 });
  t.true([...seen.values()].includes('one') || [...seen.values()].includes('two'));
  await two.stop();
  await eventually(() => one.assignment?.partitions.length === 4, { message: 'one owns all again', timeoutMs: 15_000 });
  await one.stop();
});

test('the wrong mode answers a typed error; streams refuse delays', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('s', { mode: 'stream' });
  await client.createQueue('q');
  await client.sendMessage('s', 'x');
  await refusedWith(t, client.receive('s'), ErrorCode.WrongQueueMode);
  await refusedWith(t, client.deleteMessage('s', 'r1.abc.0.1.2'), ErrorCode.WrongQueueMode);
  await refusedWith(t, client.changeMessageVisibility('s', 'r1.abc.0.1.2', 3), ErrorCode.WrongQueueMode);
  await refusedWith(t, client.request('ReadStream', { queue: 'q', partition: 0, offset: 0 }), ErrorCode.WrongQueueMode);
  await refusedWith(t, client.request('JoinGroup', { queue: 'q', group: 'g' }), ErrorCode.WrongQueueMode);
  await refusedWith(t, client.request('ReadStream', { queue: 's', partition: 1, offset: 0 }), ErrorCode.InvalidParameter);
  await refusedWith(t, client.sendMessage('s', 'x', { delaySeconds: 5 }), ErrorCode.InvalidParameter);
  await refusedWith(t, client.createQueue('s2', { mode: 'stream', delaySeconds: 5 }), ErrorCode.InvalidAttribute);
  await refusedWith(t, client.createQueue('q2', { retentionBytes: 5 }), ErrorCode.InvalidAttribute);
  await refusedWith(t, client.setQueueAttributes('s', { mode: 'queue' } as never), ErrorCode.InvalidAttribute);
  await refusedWith(t, client.request('CommitOffsets', { queue: 's', group: 'g', offsets: [{ partition: 0, offset: 9 }] }), ErrorCode.InvalidParameter);
  t.pass();
});

test('a waiting read is woken by the message stored while it waits, also after the head was trimmed', async (t) => {
  const clock = new OffsetClock();
  const { client, nats, cluster } = await startWharf(t, { clock });
  await client.createQueue('waits', { mode: 'stream', retentionPeriod: 60 });
  // Two: the ledger's window (one message on a stream) then holds none of what follows.
  await client.sendMessage('waits', 'old1');
  await client.sendMessage('waits', 'old2');
  clock.advance(61_000);
  await eventually(async () => (await client.request('GetOffsets', { queue: 'waits' })).partitions[0]?.startOffset === 2, { message: 'old trimmed' });
  const ready = subjects(cluster as ClusterName).ready('waits');
  const waiting = client.request('ReadStream', { queue: 'waits', partition: 0, offset: 2, waitTimeSeconds: 20 });
  // The read is parked once the node watches the queue's ready notices: only then is the send after it.
  await eventually(async () => (await subscriptionsTo(nats.monitoringUrl, ready)) > 0, { message: 'the read waits' });
  await client.sendMessage('waits', 'new');
  // Bounded well below the read's 20 s: only a wake by the send answers it in time.
  const { messages, nextOffset } = await eventually(() => settledValue(waiting), { timeoutMs: 10_000, message: 'the send woke the read' });
  t.deepEqual(messages.map((m) => text(m.body)), ['new']);
  t.is(nextOffset, 3);
});

/** Subscriptions the nats-server holds on exactly `subject` (its monitoring endpoint). */
async function subscriptionsTo(monitoringUrl: string, subject: string): Promise<number> {
  const reply = (await (await fetch(`${monitoringUrl}/subsz?subs=1&limit=100000`)).json()) as { subscriptions_list?: Array<{ subject: string }> };
  return (reply.subscriptions_list ?? []).filter((s) => s.subject === subject).length;
}

/** The promise's value once it has settled, undefined while it has not (a failure rethrows). */
function settledValue<T>(p: Promise<T>): Promise<T | undefined> {
  return Promise.race([p, new Promise<undefined>((resolve) => setImmediate(() => resolve(undefined)))]);
}
