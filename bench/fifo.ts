/**
 * FIFO throughput with 1, 10 and 1,000 message groups, on a Wharf node of its own (one copy): per
 * group count, produce N 1 KiB messages spread round robin over the groups (SDK `send()` batching,
 * which keeps each group's order across batches), then receive+delete them with concurrent receive
 * loops. A group is held while its messages are in flight, so with one group a single receive at a
 * time gets messages: the figures show what ordering costs against parallelism. Every group's
 * messages are checked to arrive in send order.
 */
import { join } from 'node:path';
import { WharfClient } from '../src/client/client.ts';
import type { ReceivedMessage } from '../src/protocol/messages.ts';
import { fmt, renderTable, throughput, type Throughput } from './stats.ts';
import { cpuMeter, MESSAGE_BYTES, observed, pollUntil, type CpuUse } from './util.ts';
import { phaseTimeoutMs } from './pace.ts';
import { guardFor, produceMessages, startWharfNode } from './wharf.ts';

const CLUSTER = 'bench-fifo';

export interface FifoOptions {
  natsUrl: string;
  natsPid: number;
  dataDir: string;
  logDir: string;
  messages: number;
  groups: readonly number[];
  receiveLoops: number;
  receiveBatch: number;
  partitions: number;
  log: (line: string) => void;
}

export interface FifoRun {
  groups: number;
  produce: Throughput & { cpu: CpuUse };
  receive: Throughput & { cpu: CpuUse; receives: number };
}

/** A 1 KiB body that starts with `<group>:<n>|`. */
function bodyOf(group: number, n: number): Uint8Array {
  const body = new Uint8Array(MESSAGE_BYTES);
  body.set(new TextEncoder().encode(`${group}:${n}|`));
  return body;
}

function parse(m: ReceivedMessage): [group: number, n: number] {
  const head = new TextDecoder().decode(m.body.subarray(0, 32)).split('|')[0] ?? '';
  const [g, n] = head.split(':').map(Number);
  return [g ?? -1, n ?? -1];
}

/** Message i goes to group i mod groups, as that group's (i div groups)th. */
function produce(client: WharfClient, queue: string, n: number, groups: number): Promise<Throughput> {
  return produceMessages(client, queue, n, (i) => client.send(queue, bodyOf(i % groups, Math.floor(i / groups)), { messageGroupId: `g${i % groups}` }));
}

/** Receive loops that delete each batch before their next receive (a held group frees on delete). */
async function receiveInOrder(client: WharfClient, queue: string, n: number, groups: number, options: FifoOptions): Promise<Throughput & { receives: number }> {
  const expected = new Array<number>(groups).fill(0);
  let received = 0;
  let receives = 0;
  const t0 = performance.now();
  const loop = async () => {
    while (received < n) {
      const messages = await client.receive(queue, { maxMessages: options.receiveBatch, waitTimeSeconds: 1 });
      if (messages.length === 0) continue;
      receives++;
      for (const m of messages) {
        const [g, k] = parse(m);
        if (expected[g] !== k) throw new Error(`fifo: group ${g} delivered ${k} where ${String(expected[g])} was next`);
        expected[g] = k + 1;
      }
      received += messages.length;
      const reply = await client.deleteMessageBatch(queue, messages.map((m, i) => ({ id: String(i), receiptHandle: m.receiptHandle })));
      if (reply.failed.length > 0) throw new Error(`fifo: ${reply.failed.length} deletes failed, first: ${reply.failed[0]?.code}`);
    }
  };
  const loops = observed(Promise.all(Array.from({ length: options.receiveLoops }, loop)));
  await Promise.race([pollUntil(async () => (received >= n ? true : undefined), phaseTimeoutMs(n), `fifo: ${n} messages received`, 1), loops]);
  const elapsed = performance.now() - t0;
  await loops;
  if (received !== n) throw new Error(`fifo: received ${received} messages, expected ${n}`);
  return { ...throughput(n, elapsed), receives };
}

export async function runFifo(options: FifoOptions): Promise<FifoRun[]> {
  const node = await startWharfNode({
    natsUrl: options.natsUrl,
    cluster: CLUSTER,
    nodeId: 'fifo-1',
    dataDir: join(options.dataDir, 'fifo'),
    logFile: join(options.logDir, 'wharf-fifo.log'),
  });
  const guard = guardFor([node]);
  const pids = { node: node.pid, nats: options.natsPid };
  const client = await WharfClient.connect({ servers: options.natsUrl, cluster: CLUSTER });
  const runs: FifoRun[] = [];
  try {
    for (const groups of options.groups) {
      const queue = `fifo-${groups}`;
      const log = (line: string) => options.log(`fifo ${groups} group${groups === 1 ? '' : 's'}: ${line}`);
      await client.createQueue(queue, {
        fifo: true,
        replicationFactor: 1,
        partitions: options.partitions,
        ...(options.partitions > 1 ? { deduplicationScope: 'messageGroup' as const } : {}),
      });
      const n = options.messages;
      let meter = await cpuMeter(pids);
      const produced = { ...(await guard(produce(client, queue, n, groups), phaseTimeoutMs(n), `fifo produce`)), cpu: await meter() };
      log(`produce ${produced.perSecond.toLocaleString('en-US')} msgs/s`);
      meter = await cpuMeter(pids);
      const receivedIn = await guard(receiveInOrder(client, queue, n, groups, options), phaseTimeoutMs(n), `fifo receive+delete`);
      const receive = { ...receivedIn, cpu: await meter() };
      log(`receive+delete ${receive.perSecond.toLocaleString('en-US')} msgs/s (${receive.receives} receives), every group in order`);
      runs.push({ groups, produce: produced, receive });
      await client.deleteQueue(queue);
    }
  } finally {
    await client.close();
    await node.stop();
  }
  return runs;
}

export function reportFifo(runs: readonly FifoRun[], options: Pick<FifoOptions, 'messages' | 'receiveLoops' | 'receiveBatch' | 'partitions'>): string[] {
  return [
    '',
    `Wharf FIFO queues, one node, ${MESSAGE_BYTES}-byte messages, ${options.messages.toLocaleString('en-US')} per run, ` +
      `${options.partitions} partition${options.partitions === 1 ? '' : 's'}, ${options.receiveLoops} receive loops × ${options.receiveBatch}, ` +
      'each deleting its batch before its next receive; every group checked to arrive in order:',
    '',
    renderTable(
      ['groups', 'produce msgs/s', 'receive+delete msgs/s', 'messages per receive'],
      runs.map((r) => [
        r.groups.toLocaleString('en-US'),
        fmt(r.produce.perSecond, 'count'),
        fmt(r.receive.perSecond, 'count'),
        fmt(r.receive.receives > 0 ? r.receive.messages / r.receive.receives : undefined, 'ms'),
      ]),
    ),
    '',
  ];
}
