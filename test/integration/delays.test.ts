/**
 * Delays up to 7 days and time-window ordering (docs/api.md, "Delays", "Ordering") against a real
 * node. Wall-clock waits are driven by an OffsetClock (the node's clock jumps ahead), never waited out.
 */
import test from 'ava';
import { ErrorCode } from '../../src/errors.ts';
import { OffsetClock } from '../helpers/clock.ts';
import { eventually } from '../helpers/eventually.ts';
import { bodies, failsWith, receiveSome } from '../helpers/queue-assertions.ts';
import { startWharf } from '../helpers/wharf.ts';

const DAY_S = 86_400;

test('a delay of up to 7 days is accepted on the queue and per message; longer, or not below retention, is refused', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('week', { retentionPeriod: 14 * DAY_S, delaySeconds: 7 * DAY_S });
  t.is((await client.getQueueAttributes('week')).attributes.delaySeconds, 7 * DAY_S);
  await client.sendMessage('week', 'next week');
  const [peeked] = (await client.peek('week')).messages;
  t.is(peeked?.state, 'delayed');
  // Due 7 days after the partition took it (sentAt is the front-end's time of the send, a moment before).
  const ahead = (peeked?.delayedUntil ?? 0) - (peeked?.sentAt ?? 0);
  t.true(ahead >= 7 * DAY_S * 1000 && ahead < 7 * DAY_S * 1000 + 60_000, `due ${ahead} ms after the send`);

  await failsWith(t, client.sendMessage('week', 'x', { delaySeconds: 7 * DAY_S + 1 }), ErrorCode.InvalidParameter);
  await failsWith(t, client.createQueue('short', { delaySeconds: 7 * DAY_S }), ErrorCode.InvalidAttribute, 'default retention is 4 days');
  await client.createQueue('short', { retentionPeriod: 3600 });
  await failsWith(t, client.sendMessage('short', 'x', { delaySeconds: 3600 }), ErrorCode.InvalidParameter, 'it would expire before it is due');
  await failsWith(t, client.setQueueAttributes('short', { delaySeconds: 7200 }), ErrorCode.InvalidAttribute);
});

test('a delayed message is not receivable before its time and is after', async (t) => {
  const clock = new OffsetClock();
  const { client } = await startWharf(t, { clock });
  await client.createQueue('q', { retentionPeriod: 14 * DAY_S });
  await client.sendMessage('q', 'in six days', { delaySeconds: 6 * DAY_S });
  t.deepEqual(await client.receive('q'), []);
  clock.advance(6 * DAY_S * 1000 - 60_000);
  t.deepEqual(await client.receive('q'), [], 'a minute early: still delayed');
  t.is((await client.getQueueAttributes('q')).counts.approximateNumberOfMessagesDelayed, 1);
  clock.advance(61_000);
  t.deepEqual(bodies(await receiveSome(client, 'q', 1, 'the delayed message once due')), ['in six days']);
});

test('time-window ordering holds messages for the window and releases them in producer-timestamp order', async (t) => {
  const clock = new OffsetClock();
  const { client } = await startWharf(t, { clock });
  await client.createQueue('tw', { ordering: 'timeWindow', orderingWindowMs: 60_000 });
  t.like((await client.getQueueAttributes('tw')).attributes, { ordering: 'timeWindow', orderingWindowMs: 60_000 });
  const now = clock.now();
  // Arrival order differs from production order (slow network paths, several producers).
  await client.sendMessage('tw', 'second', { producedAt: now - 2000 });
  await client.sendMessage('tw', 'first', { producedAt: now - 3000 });
  // A producer whose clock runs ahead is capped at its arrival: it cannot jump the queue's order later.
  await client.sendMessage('tw', 'ahead', { producedAt: now + 3_600_000 });
  await client.sendMessage('tw', 'third', { producedAt: now - 1000 });
  t.deepEqual(await client.receive('tw'), [], 'held for the window');
  t.is((await client.getQueueAttributes('tw')).counts.approximateNumberOfMessagesDelayed, 4);

  clock.advance(61_000);
  await eventually(async () => (await client.peek('tw', { states: ['ready'] })).messages.length === 4, { message: 'all four released' });
  const got = await client.receive('tw', { maxMessages: 4 });
  t.deepEqual(bodies(got), ['first', 'second', 'third', 'ahead']);
});

test('an arrival-ordered queue ignores producer timestamps', async (t) => {
  const { client } = await startWharf(t);
  await client.createQueue('fifoish');
  await client.sendMessage('fifoish', 'a', { producedAt: Date.now() });
  await client.sendMessage('fifoish', 'b', { producedAt: Date.now() - 60_000 });
  t.deepEqual(bodies(await client.receive('fifoish', { maxMessages: 2 })), ['a', 'b']);
  await failsWith(t, client.createQueue('bad', { ordering: 'byMood' as 'arrival' }), ErrorCode.InvalidAttribute);
  await failsWith(t, client.createQueue('bad', { orderingWindowMs: 300_001 }), ErrorCode.InvalidAttribute);
});

test('time-window ordering is refused on FIFO queues and streams, at creation and by an update', async (t) => {
  const { client } = await startWharf(t);
  await failsWith(t, client.createQueue('bad', { fifo: true, ordering: 'timeWindow' }), ErrorCode.InvalidAttribute);
  await failsWith(t, client.createQueue('bad', { mode: 'stream', ordering: 'timeWindow' }), ErrorCode.InvalidAttribute);
  await client.createQueue('ordered', { fifo: true });
  await client.createQueue('log', { mode: 'stream' });
  await failsWith(t, client.setQueueAttributes('ordered', { ordering: 'timeWindow' }), ErrorCode.InvalidAttribute);
  await failsWith(t, client.setQueueAttributes('log', { ordering: 'timeWindow' }), ErrorCode.InvalidAttribute);
  t.like((await client.getQueueAttributes('ordered')).attributes, { ordering: 'arrival' });
  t.like((await client.getQueueAttributes('log')).attributes, { ordering: 'arrival' });
});
