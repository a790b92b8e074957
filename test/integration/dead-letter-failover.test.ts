/**
 * A dead letter's attempt history across a failover, with three real node processes: the time of
 * every delivery is in the replicated delivery record, so the attempt whose lease ran out under the
 * new primary still says when it was delivered.
 */
import test from 'ava';
import type { ReceivedMessage } from '../../src/protocol/messages.ts';
import { startWharfCluster } from '../helpers/cluster.ts';
import { eventually } from '../helpers/eventually.ts';

test('three nodes: a message dead-lettered after its primary was killed lists every attempt with its delivery time', async (t) => {
  t.timeout(120_000);
  const cluster = await startWharfCluster(t, { nodes: 3 });
  const client = await cluster.connect();
  await eventually(() => client.createQueue('dlq').then(() => true), { timeoutMs: 30_000, message: 'the DLQ is created' });
  await client.createQueue('jobs', { redrivePolicy: { deadLetterQueue: 'dlq', maxReceiveCount: 2 } });
  await client.sendMessage('jobs', 'poison');
  const before = Date.now();
  await client.receive('jobs', { visibilityTimeout: 0 });
  // The second delivery is in flight when its primary dies; its lease ends under the next one.
  await eventually(async () => (await client.receive('jobs', { visibilityTimeout: 3 })).length === 1, { message: 'the second delivery' });
  const secondAt = Date.now();
  await cluster.waitForReplicasInSync('jobs');
  const victim = (await cluster.primaryOf('jobs', 0)) as string;
  await cluster.node(victim).kill();
  await cluster.waitForPrimary('jobs', 0, { not: victim, timeoutMs: 60_000 });

  const [dead] = await eventually(async () => {
    await client.receive('jobs');
    const got: ReceivedMessage[] = await client.receive('dlq', { visibilityTimeout: 600 });
    return got.length > 0 ? got : undefined;
  }, { timeoutMs: 60_000, message: 'the dead letter' });
  const attempts = dead?.deadLetter?.attempts ?? [];
  t.deepEqual(attempts.map((a) => a.n), [1, 2]);
  for (const a of attempts) t.true(a.at !== undefined && a.at >= before - 1000 && a.at <= a.endedAt, `attempt ${a.n} has its delivery time`);
  t.true((attempts[1]?.at ?? 0) <= secondAt, 'the second attempt was delivered before the failover');
});
