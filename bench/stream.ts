/**
 * "stream mode produce and group consume": one Wharf node (its own cluster on the benchmark's
 * nats-server), a stream of 1 KiB messages over several partitions (sync writes, one copy):
 *   - produce: the SDK's batching send, as the queue phases;
 *   - group consume: two StreamConsumers of one group share the partitions, auto-committing after
 *     each read, until every message was handled;
 *   - second group: one StreamConsumer of another group reads the same messages again (they stay).
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { WharfClient } from '../src/client/client.ts';
import type { StreamConsumer } from '../src/client/stream-consumer.ts';
import { fmt, renderTable, throughput, type Throughput } from './stats.ts';
import { pollUntil, withTimeout } from './util.ts';
import { produceMessages, startWharfNode } from './wharf.ts';

const CLUSTER = 'bench-stream';
const QUEUE = 'stream-tp';
const READ_BATCH = 1000;

export interface StreamBenchOptions {
  natsUrl: string;
  dataDir: string;
  logDir: string;
  messages: number;
  partitions: number;
  log: (line: string) => void;
}

export interface StreamResults {
  partitions: number;
  messages: number;
  produce: Throughput;
  /** Two members of one group. */
  groupConsume: Throughput;
  /** One member of a second group, reading the same messages. */
  secondGroup: Throughput;
}

export async function runStream(options: StreamBenchOptions): Promise<StreamResults> {
  const node = await startWharfNode({
    natsUrl: options.natsUrl,
    cluster: CLUSTER,
    nodeId: 'stream-1',
    dataDir: join(options.dataDir, 'stream'),
    logFile: join(options.logDir, 'wharf-stream.log'),
  });
  options.log(`stream: node ready (pid ${node.pid})`);
  const client = await WharfClient.connect({ servers: options.natsUrl, cluster: CLUSTER });
  try {
    await client.createQueue(QUEUE, { mode: 'stream', partitions: options.partitions, replicationFactor: 1 });
    const produce = await withTimeout(produceMessages(client, QUEUE, options.messages), 600_000, 'stream produce');
    options.log(`stream: produced ${options.messages} in ${produce.seconds} s`);
    const groupConsume = await consume(client, 'bench-a', 2, options.messages);
    options.log(`stream: group of 2 read ${options.messages} in ${groupConsume.seconds} s`);
    const secondGroup = await consume(client, 'bench-b', 1, options.messages);
    options.log(`stream: second group read ${options.messages} in ${secondGroup.seconds} s`);
    return { partitions: options.partitions, messages: options.messages, produce, groupConsume, secondGroup };
  } finally {
    await client.close();
    await node.stop();
  }
}

/** `members` consumers of `group` until they handled `total` messages; the clock starts before they join. */
async function consume(client: WharfClient, group: string, members: number, total: number): Promise<Throughput> {
  let handled = 0;
  const t0 = performance.now();
  const consumers: StreamConsumer[] = Array.from({ length: members }, () =>
    client.streamConsumer(QUEUE, () => void handled++, { group, maxMessages: READ_BATCH, sessionTimeoutMs: 10_000 }),
  );
  try {
    await pollUntil(async () => (handled >= total ? true : undefined), 600_000, `group ${group} read ${total}`, 20);
    return throughput(handled, performance.now() - t0);
  } finally {
    await Promise.all(consumers.map((c) => c.stop()));
  }
}

export function reportStream(r: StreamResults): string[] {
  return [
    '',
    `Stream mode produce and group consume (1 node, ${r.partitions} partitions, ${fmt(r.messages, 'count')} messages of 1 KiB, sync writes)`,
    renderTable(
      ['phase', 'msg/s', 'seconds'],
      [
        ['produce (batching send)', fmt(r.produce.perSecond, 'count'), String(r.produce.seconds)],
        ['group consume (2 members, auto-commit)', fmt(r.groupConsume.perSecond, 'count'), String(r.groupConsume.seconds)],
        ['second group (1 member, same messages)', fmt(r.secondGroup.perSecond, 'count'), String(r.secondGroup.seconds)],
      ],
    ),
  ];
}
