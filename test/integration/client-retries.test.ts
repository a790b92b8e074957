/**
 * Which requests the SDK repeats after a `timeout` (an unknown outcome), against a stand-in node on
 * a real nats-server that answers the first attempt of each request with `timeout` and the next
 * with success. A delete or visibility change is repeated (a receipt handle names one delivery);
 * a send with a deduplication id is repeated; a receive is not (its first attempt may have leased
 * messages nobody will see).
 */
import test, { type ExecutionContext } from 'ava';
import { connect } from '@nats-io/transport-node';
import { WharfClient } from '../../src/client/client.ts';
import { ErrorCode } from '../../src/errors.ts';
import type { Action } from '../../src/protocol/messages.ts';
import { encodeError, encodeOk } from '../../src/protocol/codec.ts';
import { subjects } from '../../src/protocol/subjects.ts';
import { clusterName } from '../../src/names.ts';
import { startNats } from '../helpers/nats-server.ts';
import { failsWith } from '../helpers/queue-assertions.ts';

/** A node that times out the first attempt of every request, then answers `reply(action)`. */
async function flakyNode(t: ExecutionContext, reply: (action: Action) => unknown) {
  const nats = await startNats(t);
  const nc = await connect({ servers: nats.url });
  t.teardown(() => nc.close());
  const attempts = new Map<string, number>();
  const s = subjects(clusterName('flaky'));
  nc.subscribe(s.allApi, {
    callback: (_err, msg) => {
      const action = msg.subject.split('.').at(-1) as Action;
      const n = (attempts.get(action) ?? 0) + 1;
      attempts.set(action, n);
      msg.respond(n === 1 ? encodeError({ code: ErrorCode.Timeout, message: 'the write was not confirmed in time' }) : encodeOk(reply(action)));
    },
  });
  await nc.flush();
  const client = await WharfClient.connect({ servers: nats.url, cluster: 'flaky', timeoutMs: 5_000, routeToPrimaries: false });
  t.teardown(() => client.close());
  return { client, attempts };
}

const receipt = 'r1.0.0.1.1';

test('a delete and a visibility change that timed out are repeated: a receipt handle names one delivery', async (t) => {
  const { client, attempts } = await flakyNode(t, () => ({}));
  await client.deleteMessage('q', receipt);
  await client.changeMessageVisibility('q', receipt, 10);
  t.is(attempts.get('DeleteMessage'), 2);
  t.is(attempts.get('ChangeMessageVisibility'), 2);
});

test('a send with a deduplication id is repeated after a timeout; a receive is not', async (t) => {
  const { client, attempts } = await flakyNode(t, (action) => (action === 'SendMessage' ? { messageId: 'm1' } : { messages: [] }));
  t.is((await client.sendMessage('q', 'body', { deduplicationId: 'd1' })).messageId, 'm1');
  t.is(attempts.get('SendMessage'), 2);
  await failsWith(t, client.receive('q', { maxMessages: 1 }), ErrorCode.Timeout);
  t.is(attempts.get('ReceiveMessage'), 1);
});

test('a batch delete repeated after a timeout reports the entries it found stale as unknown (timeout), not as failed', async (t) => {
  const stale = { id: 'a', code: ErrorCode.InvalidReceiptHandle, message: 'the receipt handle is stale', senderFault: true };
  const { client, attempts } = await flakyNode(t, () => ({ successful: [{ id: 'b' }], failed: [stale] }));
  const outcome = await client.deleteMessageBatch('q', [
    { id: 'a', receiptHandle: receipt },
    { id: 'b', receiptHandle: receipt },
  ]);
  t.is(attempts.get('DeleteMessageBatch'), 2);
  t.deepEqual(outcome.successful, [{ id: 'b' }]);
  t.like(outcome.failed[0], { id: 'a', code: ErrorCode.Timeout, senderFault: false });
});
