/**
 * A stream on three node processes: committed offsets and every readable message survive a kill -9
 * of the partition's primary (they were replicated with the partition's writes), and the group goes
 * on from its committed offset under the new primary.
 */
import test from 'ava';
import { eventually } from '../helpers/eventually.ts';
import { startWharfCluster } from '../helpers/cluster.ts';

const FAST_FAILOVER = { WHARF_HEARTBEAT_MS: '200', WHARF_FAILURE_TIMEOUT_MS: '1500', WHARF_LEASE_MS: '1000' };
const text = (b: Uint8Array) => new TextDecoder().decode(b);

test('committed offsets and messages survive a kill -9 of the partition primary', async (t) => {
  const cluster = await startWharfCluster(t, { nodes: 3, env: FAST_FAILOVER });
  const client = await cluster.connect({ timeoutMs: 20_000, maxAttempts: 20 });
  await client.createQueue('ledger', { mode: 'stream', replicationFactor: 3 });
  const bodies = Array.from({ length: 20 }, (_, i) => `e${i}`);
  await client.sendMessageBatch('ledger', bodies.map((b, i) => ({ id: `b${i}`, body: new TextEncoder().encode(b) })));

  // A member of the group reads and commits part of the way; it leaves so the operator view is simple.
  const seen: string[] = [];
  const consumer = client.streamConsumer('ledger', (m) => {
    if (seen.length < 12) seen.push(text(m.body));
    else throw new Error('stop here');
  }, { group: 'g', onError: () => undefined });
  t.teardown(() => consumer.stop());
  await eventually(async () => (await client.request('GetOffsets', { queue: 'ledger', group: 'g' })).partitions[0]?.committed?.offset === 12, {
    message: 'the group committed offset 12',
    timeoutMs: 20_000,
  });
  await consumer.stop();
  const before = (await client.request('GetOffsets', { queue: 'ledger', group: 'g' })).partitions[0];
  t.like(before, { endOffset: 20, committed: { offset: 12 } });
  await cluster.waitForReplicasInSync('ledger');

  const primary = await cluster.waitForPrimary('ledger', 0);
  await cluster.node(primary).kill();
  const next = await cluster.waitForPrimary('ledger', 0, { not: primary, timeoutMs: 30_000 });
  t.not(next, primary);

  const after = await eventually(async () => (await client.request('GetOffsets', { queue: 'ledger', group: 'g' })).partitions[0], {
    message: 'the new primary answers',
    timeoutMs: 30_000,
  });
  t.like(after, { startOffset: 0, endOffset: 20, committed: { offset: 12, generation: before?.committed?.generation ?? -1 } });
  const { messages } = await client.request('ReadStream', { queue: 'ledger', partition: 0, offset: 0, maxMessages: 100 });
  t.deepEqual(messages.map((m) => text(m.body)), bodies);

  // The group resumes from its committed offset under the new primary.
  const resumed: string[] = [];
  const again = client.streamConsumer('ledger', (m) => void resumed.push(text(m.body)), { group: 'g' });
  t.teardown(() => again.stop());
  await eventually(() => resumed.length === 8, { message: 'the rest read', timeoutMs: 20_000 });
  t.deepEqual(resumed, bodies.slice(12));
  await again.stop();
});
