/**
 * The lease heartbeat (docs/api.md, "Lease heartbeat") against a real node: the seed's question
 * (a consumer still busy when its visibility timeout expires), with and without the heartbeat, and
 * how fast a heartbeat lease ends when its consumer disappears or says goodbye.
 *
 * The node's heartbeat timeout is 1.5 s here and the clients beat every 200 ms. Nothing sleeps: the
 * "still busy" consumer simply does not delete while another consumer long-polls a bounded number of
 * times; a release is awaited by polling (bounded) on a queue whose visibility timeout (2 minutes)
 * is far beyond every bound.
 */
import test from 'ava';
import { connect } from '@nats-io/transport-node';
import { WharfClient } from '../../src/client/client.ts';
import { ErrorCode } from '../../src/errors.ts';
import { eventually } from '../helpers/eventually.ts';
import { failsWith, receiveSome, text } from '../helpers/queue-assertions.ts';
import { startWharf } from '../helpers/wharf.ts';

const NODE = { leaseHeartbeatTimeoutMs: 1500 };
const BEAT = { heartbeatIntervalMs: 200 };

test('without the heartbeat, a consumer still busy when its visibility timeout expires sees its message delivered to another consumer', async (t) => {
  const { client, newClient } = await startWharf(t, NODE);
  await client.createQueue('work', { visibilityTimeout: 1 });
  const { messageId } = await client.sendMessage('work', 'job');
  const busy = await newClient({ consumer: 'busy-worker' });
  const other = await newClient({ consumer: 'other-worker' });

  const [held] = await busy.receive('work');
  t.is(held?.messageId, messageId);
  // The busy worker is still at it (it does not delete); the lease runs out after 1 s.
  const [again] = await receiveSome(other, 'work', 1, 'the redelivery to the other worker');
  t.is(again?.messageId, messageId, 'the other worker got the same message');
  t.is(again?.receiveCount, 2);
  // When the busy worker finishes, its receipt handle is stale: its work is done twice.
  await failsWith(t, busy.deleteMessage('work', held?.receiptHandle ?? ''), ErrorCode.InvalidReceiptHandle);
});

test('with the heartbeat, a consumer still busy past its visibility timeout keeps its message', async (t) => {
  const { client, newClient } = await startWharf(t, NODE);
  await client.createQueue('work', { visibilityTimeout: 1 });
  const { messageId } = await client.sendMessage('work', 'job');
  const busy = await newClient({ consumer: 'busy-worker', ...BEAT });
  const other = await newClient({ consumer: 'other-worker' });

  const [held] = await busy.receive('work', { heartbeat: true });
  t.is(held?.messageId, messageId);
  // Five long polls of 1 s each: five visibility timeouts, several heartbeat extensions.
  for (let i = 0; i < 5; i++) {
    const got = await other.receive('work', { waitTimeSeconds: 1 });
    t.deepEqual(got, [], `poll ${i + 1}: the message stays with the busy worker`);
  }
  const peeked = await client.peek('work', { states: ['inflight'] });
  t.is(peeked.messages[0]?.leaseOwner, 'busy-worker', 'the lease owner is the busy worker');
  // Its receipt handle is still the current one: the message was never delivered again.
  await busy.deleteMessage('work', held?.receiptHandle ?? '');
  t.is((await client.getQueueAttributes('work')).counts.approximateNumberOfMessagesNotVisible, 0);
});

test('a heartbeat lease ends within the heartbeat timeout when its consumer disappears', async (t) => {
  const { client, nats, cluster } = await startWharf(t, NODE);
  await client.createQueue('work', { visibilityTimeout: 120 });
  const { messageId } = await client.sendMessage('work', 'job');
  const nc = await connect({ servers: nats.url });
  const doomed = await WharfClient.connect({ connection: nc, cluster, consumer: 'doomed', ...BEAT });
  const [held] = await doomed.receive('work', { heartbeat: true });
  t.is(held?.messageId, messageId);
  // The consumer's connection dies without a goodbye (as in a crash): the beats stop.
  await nc.close();

  // Far sooner than the 120 s visibility timeout: within the 1.5 s heartbeat timeout and a tick.
  const [again] = await eventually(
    async () => {
      const got = await client.receive('work');
      return got.length > 0 && got;
    },
    { timeoutMs: 15_000, message: 'the release of the dead consumer\'s lease' },
  );
  t.is(again?.messageId, messageId);
  t.is(again?.receiveCount, 2);
  t.is(text(again?.body ?? new Uint8Array()), 'job');
});

test('closing a heartbeating client says goodbye: its leases end at once', async (t) => {
  const { client, newClient } = await startWharf(t, NODE);
  await client.createQueue('work', { visibilityTimeout: 120 });
  await client.sendMessage('work', 'a');
  await client.sendMessage('work', 'b');
  const leaving = await newClient({ consumer: 'leaving', ...BEAT });
  const held = await leaving.receive('work', { heartbeat: true, maxMessages: 2 });
  t.is(held.length, 2);
  await leaving.close();

  const back = await eventually(
    async () => {
      const got = await client.receive('work', { maxMessages: 2 });
      return got.length === 2 && got;
    },
    { timeoutMs: 15_000, message: 'both messages back after the goodbye' },
  );
  t.deepEqual(back.map((m) => text(m.body)).sort(), ['a', 'b']);
});

test('a heartbeat receive without a consumer name is refused', async (t) => {
  const { client } = await startWharf(t, NODE);
  await client.createQueue('work');
  await failsWith(t, client.request('ReceiveMessage', { queue: 'work', heartbeat: true }), ErrorCode.InvalidParameter);
  await failsWith(t, client.receive('work', { heartbeat: true, consumer: 'someone-else' }), ErrorCode.InvalidParameter);
});
