/**
 * The inspector's message search shows a dead letter's history: where it came from, why, and each
 * delivery attempt (consumer, how it ended); and the attempts recorded so far of a redelivered one.
 */
import test from 'ava';
import { connect } from '@nats-io/transport-node';
import { decodeJson, encodeJson, messageReplySchema, type InspectRequest } from '../../src/inspect/protocol.ts';
import { clusterName } from '../../src/names.ts';
import { subjects } from '../../src/protocol/subjects.ts';
import { eventually } from '../helpers/eventually.ts';
import { startWharf } from '../helpers/wharf.ts';
import { receiveSome } from '../helpers/queue-assertions.ts';

test("the message search shows a redelivered message's attempts and a dead letter's source, reason and attempts", async (t) => {
  const { client, nats, cluster } = await startWharf(t);
  await client.createQueue('dlq');
  await client.createQueue('source', { redrivePolicy: { deadLetterQueue: 'dlq', maxReceiveCount: 2 } });
  const nc = await connect({ servers: nats.url });
  t.teardown(() => nc.close());
  const where = async (query: Omit<Extract<InspectRequest, { op: 'message' }>, 'op'>) => {
    const msg = await nc.request(subjects(clusterName(cluster)).inspectRequest('n1'), encodeJson({ op: 'message', ...query }), { timeout: 5000 });
    return decodeJson(messageReplySchema, msg.data);
  };

  const { messageId } = await client.sendMessage('source', 'twice');
  await client.receive('source', { visibilityTimeout: 0, consumer: 'first-worker' });
  const [again] = await receiveSome(client, 'source', 1, 'the redelivery');
  const redelivered = await where({ queue: 'source', id: messageId });
  t.like(redelivered, { found: true, state: 'inflight', receiveCount: 2 });
  if (!redelivered.found) return;
  t.deepEqual(redelivered.attempts?.map((a) => [a.n, a.consumer, a.ended]), [[1, 'first-worker', 'lease-expired']]);

  await client.changeMessageVisibility('source', again?.receiptHandle ?? '', 0);
  await eventually(async () => {
    await client.receive('source');
    const found = await where({ queue: 'dlq', id: messageId });
    return found.found && found;
  }, { message: 'the dead letter in the DLQ' }).then((dead) => {
    t.like(dead.deadLetter, { sourceQueue: 'source', reason: 'max-receives', receiveCount: 2, totalAttempts: 2 });
    t.deepEqual(dead.attempts?.map((a) => [a.n, a.consumer, a.ended]), [
      [1, 'first-worker', 'lease-expired'],
      [2, client.consumer, 'released'],
    ]);
  });
});
