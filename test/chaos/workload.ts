/**
 * The chaos workload: producers and consumers on the real SDK, every operation recorded in a
 * History. Producers send unique values `<producer>-<counter>` at a bounded total rate (a 2-core
 * machine also runs the nodes and nats-server), a few outstanding each, mostly through the SDK's
 * batching `send()` and sometimes one `sendMessage()` each. Consumers receive with a visibility
 * timeout, take a random processing time, and then delete the message, or deliberately leave it to
 * come back (a consumer that crashed), or release it at once with a visibility change to 0.
 *
 * After the faults heal, `drain` reads until every acknowledged value has been consumed or read by
 * the drain itself (Jepsen's final generator), bounded by a deadline.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { WharfClient } from '../../src/client/client.ts';

/** What the workload uses of a client: a WharfClient, or a DeploymentClient routing over clusters. */
export type QueueClient = Pick<WharfClient, 'send' | 'sendMessage' | 'receive' | 'deleteMessageBatch' | 'changeMessageVisibility'>;
import { WharfError } from '../../src/errors.ts';
import type { ReceivedMessage } from '../../src/protocol/messages.ts';
import type { Delivery, History } from './history.ts';

export interface WorkloadOptions {
  queue: string;
  history: History;
  /** A client per worker, each on its own connection. */
  connect: () => Promise<QueueClient>;
  /** @default 3 */
  producers?: number;
  /** @default 3 */
  consumers?: number;
  /** Sends per second, all producers together. @default 150 */
  ratePerSecond?: number;
  /** Unanswered sends per producer. @default 4 */
  window?: number;
  /** Lease of each receive, seconds. @default 5 */
  visibilityTimeout?: number;
  /** @default 10 */
  maxMessages?: number;
  /** Long-poll wait, seconds. @default 1 */
  waitTimeSeconds?: number;
  /** Fraction of deliveries left undeleted, to come back after their lease. @default 0.05 */
  skipDeleteFraction?: number;
  /** Fraction of deliveries released at once (visibility 0). @default 0.02 */
  releaseFraction?: number;
  /** Longest simulated processing of one message, ms. @default 100 */
  maxProcessingMs?: number;
  /** Random numbers in [0, 1): seed it to replay a schedule. @default Math.random */
  random?: () => number;
}

export interface Workload {
  /** Deliveries so far (every ok receive's messages). */
  readonly delivered: number;
  /** Stops issuing operations and waits for the ones under way to complete. */
  stop(): Promise<void>;
}

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString('utf8');
export const toDelivery = (m: ReceivedMessage): Delivery => ({
  value: text(m.body),
  messageId: m.messageId,
  receipt: m.receiptHandle,
  receiveCount: m.receiveCount,
});

/** mulberry32: a small seeded generator, so a failing schedule can be run again. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

export async function startWorkload(options: WorkloadOptions): Promise<Workload> {
  const { queue, history } = options;
  const producers = options.producers ?? 3;
  const consumers = options.consumers ?? 3;
  const interval = (1000 * producers) / (options.ratePerSecond ?? 150);
  const window = options.window ?? 4;
  const vt = options.visibilityTimeout ?? 5;
  const random = options.random ?? Math.random;
  const stopping = new AbortController();
  let delivered = 0;

  /** A pause that ends early when the workload stops. */
  const pause = (ms: number) => delay(ms, undefined, { signal: stopping.signal }).catch(() => undefined);

  const produce = async (name: string, client: QueueClient) => {
    const outstanding = new Set<Promise<void>>();
    let next = history.now();
    for (let counter = 0; !stopping.signal.aborted; ) {
      if (outstanding.size >= window) {
        await Promise.race(outstanding);
        continue;
      }
      await pause(next - history.now());
      if (stopping.signal.aborted) break;
      // After a stall, carry on at the rate rather than catch up in a burst.
      next = Math.max(next, history.now()) + interval;
      const value = `${name}-${counter++}`;
      const pending = history.invoke(name, { f: 'send', value });
      const sent = random() < 0.2 ? client.sendMessage(queue, value) : client.send(queue, value);
      const done: Promise<void> = sent
        .then(
          (r) => pending.ok({ messageId: r.messageId }),
          (err: unknown) => pending.error(err),
        )
        .finally(() => outstanding.delete(done));
      outstanding.add(done);
    }
    await Promise.all(outstanding);
  };

  const consume = async (name: string, client: QueueClient) => {
    while (!stopping.signal.aborted) {
      const pending = history.invoke(name, { f: 'receive', value: null, visibilityTimeout: vt });
      let messages: ReceivedMessage[];
      try {
        messages = await client.receive(queue, {
          maxMessages: options.maxMessages ?? 10,
          waitTimeSeconds: options.waitTimeSeconds ?? 1,
          visibilityTimeout: vt,
        });
      } catch (err) {
        pending.error(err);
        await pause(100); // back off while the cluster is down
        continue;
      }
      pending.ok({ value: messages.map(toDelivery) });
      delivered += messages.length;
      const toDelete: ReceivedMessage[] = [];
      await Promise.all(
        messages.map(async (m) => {
          await delay(random() * (options.maxProcessingMs ?? 100));
          const roll = random();
          if (roll < (options.skipDeleteFraction ?? 0.05)) return;
          if (roll < (options.skipDeleteFraction ?? 0.05) + (options.releaseFraction ?? 0.02)) await release(history, client, name, queue, m);
          else toDelete.push(m);
        }),
      );
      await deleteBatch(history, client, name, queue, toDelete);
    }
  };

  const clients = await Promise.all(Array.from({ length: producers + consumers }, () => options.connect()));
  const workers = clients.map((client, i) => (i < producers ? produce(`p${i}`, client) : consume(`c${i - producers}`, client)));
  return {
    get delivered() {
      return delivered;
    },
    async stop() {
      stopping.abort();
      await Promise.all(workers);
    },
  };
}

async function release(history: History, client: QueueClient, process: string, queue: string, m: ReceivedMessage): Promise<void> {
  const value = text(m.body);
  const pending = history.invoke(process, { f: 'visibility', value, receipt: m.receiptHandle, visibilityTimeout: 0 });
  await client.changeMessageVisibility(queue, m.receiptHandle, 0).then(
    () => pending.ok(),
    (err: unknown) => pending.error(err),
  );
}

/** One DeleteMessageBatch, recorded as one delete per message. */
export async function deleteBatch(history: History, client: QueueClient, process: string, queue: string, messages: readonly ReceivedMessage[]): Promise<void> {
  if (messages.length === 0) return;
  const pending = messages.map((m) => history.invoke(process, { f: 'delete', value: text(m.body), receipt: m.receiptHandle }));
  try {
    const reply = await client.deleteMessageBatch(queue, messages.map((m, i) => ({ id: String(i), receiptHandle: m.receiptHandle })));
    for (const ok of reply.successful) pending[Number(ok.id)]?.ok();
    for (const bad of reply.failed) pending[Number(bad.id)]?.error(WharfError.fromWire({ code: bad.code, message: bad.message }));
  } catch (err) {
    for (const p of pending) p.error(err);
  }
}

export interface DrainOptions {
  queue: string;
  history: History;
  client: QueueClient;
  /** Give up after this long, ms. @default 60000 */
  timeoutMs?: number;
  /** Lease of the drain's receives, seconds: long enough to delete what it got. @default 10 */
  visibilityTimeout?: number;
}

export interface DrainResult {
  /** Every acknowledged value was consumed or read by the drain, and a last receive found nothing. */
  complete: boolean;
  /** Acknowledged values neither consumed nor read by the drain when it stopped. */
  missing: string[];
  read: number;
}

/** Reads (process `drain`) and deletes until every acknowledged value is accounted for, bounded. */
export async function drain(options: DrainOptions): Promise<DrainResult> {
  const { history, client, queue } = options;
  const vt = options.visibilityTimeout ?? 10;
  const deadline = history.now() + (options.timeoutMs ?? 60_000);
  const read = new Set<string>();
  const missing = () => [...history.acked].filter((v) => !history.consumed.has(v) && !read.has(v));
  while (history.now() < deadline) {
    const pending = history.invoke('drain', { f: 'receive', value: null, visibilityTimeout: vt });
    let messages: ReceivedMessage[];
    try {
      messages = await client.receive(queue, { maxMessages: 100, waitTimeSeconds: 1, visibilityTimeout: vt });
    } catch (err) {
      pending.error(err);
      await delay(100); // the cluster may still be settling
      continue;
    }
    pending.ok({ value: messages.map(toDelivery) });
    for (const m of messages) read.add(text(m.body));
    await deleteBatch(history, client, 'drain', queue, messages);
    if (messages.length === 0 && missing().length === 0) return { complete: true, missing: [], read: read.size };
  }
  return { complete: false, missing: missing(), read: read.size };
}
