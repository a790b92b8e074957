/**
 * A FIFO queue grows under load and shrinks back when idle, on three real node processes, while
 * many message groups are sent in order and read by two consumers: every acknowledged message is
 * delivered, and each group's messages are delivered in the order they were sent, across the
 * growth (partition 0 replaced by two) and the shrink (those two replaced by one). Groups move to
 * their new partition only once their old one holds none of them (actors/partition/draining.ts).
 */
import { setTimeout as delay } from 'node:timers/promises';
import test from 'ava';
import type { WharfClient } from '../../src/client/client.ts';
import { partitionStates } from '../../src/meta/layout.ts';
import { decodeReceipt } from '../../src/protocol/receipt.ts';
import { startWharfCluster } from '../helpers/cluster.ts';
import { eventually } from '../helpers/eventually.ts';
import { consumeFifo } from '../helpers/fifo-consumer.ts';
import { watchManager } from '../helpers/manager-watch.ts';

const QUEUE = 'elastic-fifo';
const GROUPS = 24;

interface Delivery {
  seq: number;
  partition: number;
}

test('a FIFO queue grows and shrinks under load: nothing lost, every group delivered in send order', async (t) => {
  t.timeout(300_000);
  const cluster = await startWharfCluster(t, { nodes: 3 });
  const watch = await watchManager(t, cluster.nats.url, cluster.cluster);
  const admin = await cluster.connect({ timeoutMs: 3_000 });
  await eventually(
    () =>
      admin.createQueue(QUEUE, {
        fifo: true,
        deduplicationScope: 'messageGroup',
        partitions: 1,
        visibilityTimeout: 30,
        replicationFactor: 2,
        autoScaling: { maxPartitions: 2, budgetSendsPerSecond: 20, scaleUpCooldownSeconds: 2, scaleDownPercent: 50, scaleDownAfterSeconds: 3 },
      }),
    { timeoutMs: 30_000, intervalMs: 200, message: `queue ${QUEUE} created` },
  );
  const states = () => partitionStates(watch.metadata.queue(QUEUE)?.value ?? { attributes: { partitions: 1 } as never });

  // Producers: one loop per group, each message sent after the previous one was acknowledged and
  // retried with its deduplication id until it is, so a group's acknowledged messages are 0, 1, 2, …
  const acked = new Map<string, number>();
  let pauseMs = 20;
  let producing = true;
  const producer = await cluster.connect({ timeoutMs: 3_000 });
  const produce = async (group: string) => {
    for (let seq = 0; producing; seq++) {
      for (;;) {
        const sent = await producer
          .sendMessage(QUEUE, `${group}:${seq}`, { messageGroupId: group, deduplicationId: `${group}-${seq}` })
          .then(() => true, () => false);
        if (sent) break;
        if (!producing) return;
        await delay(50);
      }
      acked.set(group, seq + 1);
      await delay(pauseMs);
    }
  };
  const groups = Array.from({ length: GROUPS }, (_, i) => `g${i}`);
  const producers = groups.map(produce);

  // Consumers: record each delivery before deleting it, so a group's next message (delivered only
  // after this one is deleted) is always recorded after it; as a FIFO consumer must, they leave a
  // group's later messages of a receive alone after a failed delete (test/helpers/fifo-consumer.ts).
  const delivered = new Map<string, Delivery[]>();
  let consuming = true;
  const consume = (client: WharfClient) =>
    consumeFifo(client, QUEUE, () => consuming, {
      delivered: (m) => {
        const [group, seq] = new TextDecoder().decode(m.body).split(':') as [string, string];
        const list = delivered.get(group) ?? [];
        list.push({ seq: Number(seq), partition: decodeReceipt(m.receiptHandle).partition });
        delivered.set(group, list);
      },
    });
  const consumers = [consume(await cluster.connect({ timeoutMs: 3_000 })), consume(await cluster.connect({ timeoutMs: 3_000 }))];
  t.teardown(() => {
    producing = false;
    consuming = false;
  });

  await eventually(() => states().length >= 3, { timeoutMs: 120_000, intervalMs: 200, message: 'partition 0 replaced by two' });
  // Slower producers: a group leaves its draining partition only once that one holds none of it,
  // so each group must go quiet between its sends now and then (docs/autoscaling.md).
  pauseMs = 300;
  await eventually(() => states()[0] === 'retired', { timeoutMs: 120_000, intervalMs: 200, message: 'partition 0 retired' });
  // Slower still: the queue is idle enough to shrink, while every group is still sent.
  pauseMs = 8_000;
  await eventually(() => states().join(',') === 'retired,retired,retired,active', { timeoutMs: 180_000, intervalMs: 500, message: 'partitions 1 and 2 replaced by one, all three retired' });
  // Every group sends on, now to partition 3.
  pauseMs = 100;
  const shrunk = new Map(acked);
  await eventually(() => groups.every((g) => (acked.get(g) ?? 0) >= (shrunk.get(g) ?? 0) + 3), { timeoutMs: 60_000, message: 'three more messages of every group' });
  producing = false;
  await Promise.all(producers);
  const total = [...acked.values()].reduce((a, b) => a + b, 0);
  await eventually(() => groups.every((g) => new Set((delivered.get(g) ?? []).map((d) => d.seq)).size >= (acked.get(g) ?? 0)), {
    timeoutMs: 60_000,
    message: `all ${total} acknowledged messages delivered`,
  });
  consuming = false;
  await Promise.all(consumers);

  const partitionsSeen = new Set<number>();
  let moved = 0;
  for (const group of groups) {
    const list = delivered.get(group) ?? [];
    // In send order: each delivery is the next message of the group, or one delivered before again
    // (a redelivery after a delete that did not arrive, or of a lease that ran out).
    let next = 0;
    for (const { seq } of list) {
      if (seq === next) next++;
      else t.true(seq < next, `group ${group}: message ${seq} delivered when ${next} was due (${list.map((d) => d.seq).join(' ')})`);
    }
    t.true(next >= (acked.get(group) ?? 0), `group ${group}: ${acked.get(group)} acknowledged, ${next} delivered in order`);
    const partitions = new Set(list.map((d) => d.partition));
    for (const p of partitions) partitionsSeen.add(p);
    if (partitions.size > 1) moved++;
  }
  t.log(`${total} messages in ${GROUPS} groups; ${moved} groups moved between partitions; layout ${states().join(',')}`);
  // Partitions 0–3 all delivered; the last burst of sends may grow the queue again (4 and 5).
  t.deepEqual([0, 1, 2, 3].filter((p) => !partitionsSeen.has(p)), [], `every partition delivered (seen: ${[...partitionsSeen].sort().join(',')})`);
  t.true(moved > 0, 'groups moved between partitions');
});
