/**
 * Durability under SIGKILL: a node running as a child process is killed mid-stream (requests in
 * flight) twice, restarted on the same data dir each time, and the queue is then drained.
 *
 * The producer numbers its messages (body = the number as text) and records a send as
 * acknowledged only when the reply said so; the consumer records a delete as acknowledged only when
 * the reply said so. Requests that fail or time out have unknown outcomes. Each number is sent at
 * most once (the client makes one attempt per request), so:
 *
 *   (a) lost:        an acknowledged send that is neither acknowledged-deleted, nor a delete of
 *                    unknown outcome, nor received by the final drain;
 *   (b) resurrected: a message received by a ReceiveMessage issued after its delete was acknowledged
 *                    (this covers every receive after a restart);
 *   (c) unexpected:  a received body that is not a number some send carried.
 *
 * Duplicates (redeliveries) are allowed (at-least-once) and only counted.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import test, { type ExecutionContext } from 'ava';
import { WharfClient } from '../../src/client/client.ts';
import { ErrorCode, isWharfError, WharfError } from '../../src/errors.ts';
import type { QueueCounts, ReceivedMessage } from '../../src/protocol/messages.ts';
import { eventually } from '../helpers/eventually.ts';
import { startNats } from '../helpers/nats-server.ts';
import { startNodeProcess, type NodeProcessHandle } from '../helpers/node-process.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const QUEUE = 'durable';
const ROUNDS = 2;
/** Acknowledged sends and deletes each round needs before its kill. */
const SENDS_PER_ROUND = 2_000;
const DELETES_PER_ROUND = 100;
const BATCH_SIZE = 50;
const PRODUCERS = 4;
const CONSUMERS = 2;
const VISIBILITY_S = 2;
const REQUEST_TIMEOUT_MS = 3_000;

/** Errors after which the request is known to have had no effect. Anything else: unknown outcome. */
const DEFINITE: ReadonlySet<string> = new Set<string>([
  ErrorCode.InvalidReceiptHandle,
  ErrorCode.MessageNotInFlight,
  ErrorCode.InvalidParameter,
  ErrorCode.InvalidRequest,
  ErrorCode.QueueNotFound,
]);
const isDefinite = (err: unknown) => isWharfError(err) && DEFINITE.has(err.code);

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString('utf8');

/** What the test knows about every message, across rounds. */
class Book {
  nextNumber = 0;
  readonly attempted = new Set<number>();
  readonly ackedSends = new Set<number>();
  readonly failedSends = new Set<number>();
  /** Number → when (performance.now()) its delete was acknowledged. */
  readonly ackedDeletes = new Map<number, number>();
  readonly unknownDeletes = new Set<number>();
  /** Deliveries per number over the whole test. */
  readonly deliveries = new Map<number, number>();
  readonly unexpected: string[] = [];
  readonly resurrected: Array<{ n: number; deletedAt: number; receiveIssuedAt: number; when: string }> = [];
  readonly inFlight = { sends: 0, receives: 0, deletes: 0 };

  take(count: number): number[] {
    const out = Array.from({ length: count }, (_, i) => this.nextNumber + i);
    this.nextNumber += count;
    for (const n of out) this.attempted.add(n);
    return out;
  }

  /** Checks and records one delivery; returns its number, or undefined when the body is not one we sent. */
  received(message: ReceivedMessage, issuedAt: number, when: string): number | undefined {
    const body = text(message.body);
    const n = /^(0|[1-9]\d*)$/.test(body) ? Number(body) : NaN;
    if (!Number.isSafeInteger(n) || !this.attempted.has(n)) {
      this.unexpected.push(body.slice(0, 64));
      return undefined;
    }
    this.deliveries.set(n, (this.deliveries.get(n) ?? 0) + 1);
    const deletedAt = this.ackedDeletes.get(n);
    if (deletedAt !== undefined && deletedAt < issuedAt) {
      this.resurrected.push({ n, deletedAt, receiveIssuedAt: issuedAt, when });
    }
    return n;
  }

  deleteAcked(n: number): void {
    if (!this.ackedDeletes.has(n)) this.ackedDeletes.set(n, performance.now());
    this.unknownDeletes.delete(n);
  }

  deleteFailed(n: number, err: unknown): void {
    if (!isDefinite(err) && !this.ackedDeletes.has(n)) this.unknownDeletes.add(n);
  }

  get pending(): number {
    return this.inFlight.sends + this.inFlight.receives + this.inFlight.deletes;
  }
}

interface Traffic {
  /** Stops issuing requests and waits for the ones under way to settle. */
  stop(): Promise<void>;
}

/** Producers and consumers, until stopped. Errors are expected (the node gets killed under them). */
function startTraffic(client: WharfClient, book: Book, round: number): Traffic {
  let stopped = false;
  const pause = (ms: number) => (stopped ? Promise.resolve() : delay(ms));

  const sendBatch = async () => {
    const numbers = book.take(BATCH_SIZE);
    book.inFlight.sends++;
    try {
      const reply = await client.sendMessageBatch(
        QUEUE,
        numbers.map((n) => ({ id: `m${n}`, body: Buffer.from(String(n)) })),
      );
      for (const { id } of reply.successful) book.ackedSends.add(Number(id.slice(1)));
      for (const { id } of reply.failed) book.failedSends.add(Number(id.slice(1)));
    } catch {
      for (const n of numbers) book.failedSends.add(n);
      await pause(20);
    } finally {
      book.inFlight.sends--;
    }
  };

  const sendOne = async (n: number) => {
    book.inFlight.sends++;
    try {
      await client.sendMessage(QUEUE, String(n));
      book.ackedSends.add(n);
    } catch {
      book.failedSends.add(n);
      await pause(20);
    } finally {
      book.inFlight.sends--;
    }
  };

  const producer = async (worker: number) => {
    for (let i = 0; !stopped; i++) {
      if ((i + worker) % 3 !== 0) await sendBatch();
      else await Promise.all(book.take(5).map((n) => sendOne(n)));
    }
  };

  const deleteSome = async (messages: Array<{ n: number; m: ReceivedMessage }>, batch: boolean) => {
    book.inFlight.deletes++;
    try {
      if (batch) {
        try {
          const reply = await client.deleteMessageBatch(
            QUEUE,
            messages.map(({ n, m }) => ({ id: `d${n}`, receiptHandle: m.receiptHandle })),
          );
          for (const { id } of reply.successful) book.deleteAcked(Number(id.slice(1)));
          for (const f of reply.failed) {
            book.deleteFailed(Number(f.id.slice(1)), new WharfError(f.code as ErrorCode, f.message));
          }
        } catch (err) {
          for (const { n } of messages) book.deleteFailed(n, err);
        }
      } else {
        await Promise.all(
          messages.map(async ({ n, m }) => {
            try {
              await client.deleteMessage(QUEUE, m.receiptHandle);
              book.deleteAcked(n);
            } catch (err) {
              book.deleteFailed(n, err);
            }
          }),
        );
      }
    } finally {
      book.inFlight.deletes--;
    }
  };

  const consumer = async () => {
    for (let i = 0; !stopped; i++) {
      const issuedAt = performance.now();
      let messages: ReceivedMessage[];
      book.inFlight.receives++;
      try {
        messages = await client.receive(QUEUE, { maxMessages: 25, visibilityTimeout: VISIBILITY_S, waitTimeSeconds: 0 });
      } catch {
        await pause(20);
        continue;
      } finally {
        book.inFlight.receives--;
      }
      if (messages.length === 0) {
        await pause(10);
        continue;
      }
      const known: Array<{ n: number; m: ReceivedMessage }> = [];
      for (const m of messages) {
        const n = book.received(m, issuedAt, `round ${round} traffic`);
        if (n !== undefined) known.push({ n, m });
      }
      // Delete about 60%; the rest stay in flight and come back after their visibility timeout.
      const chosen = known.filter(() => Math.random() < 0.6);
      if (chosen.length > 0) await deleteSome(chosen, i % 2 === 0);
    }
  };

  const workers = [
    ...Array.from({ length: PRODUCERS }, (_, w) => producer(w)),
    ...Array.from({ length: CONSUMERS }, () => consumer()),
  ];
  return {
    async stop() {
      stopped = true;
      await Promise.all(workers);
    },
  };
}

/** Waits (bounded) until the book satisfies `done`, failing with the figures when it does not. */
async function waitFor(book: Book, done: () => boolean, message: string, timeoutMs = 25_000): Promise<void> {
  await eventually(() => done(), {
    timeoutMs,
    intervalMs: 5,
    message: `${message} (acked sends ${book.ackedSends.size}, acked deletes ${book.ackedDeletes.size})`,
  });
}

/** Retries a request while the restarted node is not reachable yet. */
function whenServing<T>(f: () => Promise<T>, message: string): Promise<T> {
  return eventually(f, { timeoutMs: 15_000, intervalMs: 50, message });
}

const isEmpty = (c: QueueCounts) =>
  c.approximateNumberOfMessages === 0 &&
  c.approximateNumberOfMessagesNotVisible === 0 &&
  c.approximateNumberOfMessagesDelayed === 0;

/** Receives (and deletes) until the queue is empty and nothing came for a while; returns deliveries per number. */
async function drain(t: ExecutionContext, client: WharfClient, book: Book): Promise<Map<number, number>> {
  const drained = new Map<number, number>();
  const deadline = performance.now() + 25_000;
  let lastDelivery = performance.now();
  let deleteFailures = 0;
  for (;;) {
    if (performance.now() > deadline) {
      const counts = await client.getQueueAttributes(QUEUE).then((d) => JSON.stringify(d.counts), String);
      throw new Error(`drain did not finish within 25 s: counts ${counts}, drained ${drained.size}`);
    }
    const issuedAt = performance.now();
    let messages: ReceivedMessage[];
    try {
      messages = await client.receive(QUEUE, { maxMessages: 200, visibilityTimeout: 5, waitTimeSeconds: 1 });
    } catch (err) {
      if (isWharfError(err) && err.retryable) continue;
      throw err;
    }
    if (messages.length > 0) {
      lastDelivery = performance.now();
      const entries: Array<{ id: string; receiptHandle: string }> = [];
      messages.forEach((m, i) => {
        const n = book.received(m, issuedAt, 'drain');
        if (n !== undefined) drained.set(n, (drained.get(n) ?? 0) + 1);
        entries.push({ id: `e${i}`, receiptHandle: m.receiptHandle });
      });
      const reply = await client.deleteMessageBatch(QUEUE, entries).catch(() => undefined);
      deleteFailures += reply === undefined ? entries.length : reply.failed.length;
      continue;
    }
    const { counts } = await client.getQueueAttributes(QUEUE);
    if (isEmpty(counts) && performance.now() - lastDelivery >= 1_500) break;
  }
  if (deleteFailures > 0) t.log(`drain: ${deleteFailures} deletes failed (their messages came back)`);
  return drained;
}

async function killMidStream(t: ExecutionContext, node: NodeProcessHandle, book: Book, round: number): Promise<void> {
  // Kill while requests are under way: preferably sends and deletes at once, else at least sends.
  const both = () => book.inFlight.sends > 0 && book.inFlight.deletes > 0;
  await eventually(both, { timeoutMs: 2_000, intervalMs: 1 }).catch(() =>
    eventually(() => book.inFlight.sends > 0 && book.pending >= 2, { timeoutMs: 5_000, intervalMs: 1, message: 'requests in flight' }),
  );
  const pendingAtKill = { ...book.inFlight };
  const acked = book.ackedSends.size;
  node.kill('SIGKILL');
  const exit = await node.exited;
  t.is(exit.signal, 'SIGKILL', `round ${round}: the node died of the SIGKILL`);
  t.log(
    `round ${round}: SIGKILL with ${pendingAtKill.sends} sends, ${pendingAtKill.receives} receives and ` +
      `${pendingAtKill.deletes} deletes in flight; ${acked} acked sends, ${book.ackedDeletes.size} acked deletes so far`,
  );
}

test('acknowledged sends survive SIGKILL of the node, acknowledged deletes stay deleted', async (t) => {
  t.timeout(90_000);
  const started = performance.now();
  const nats = await startNats(t);
  const dataDir = await tempDir(t, 'wharf-data-');
  const cluster = `k${randomBytes(4).toString('hex')}`;
  const node = await startNodeProcess(t, { cluster, natsUrl: nats.url, dataDir });
  const client = await WharfClient.connect({ servers: nats.url, cluster, maxAttempts: 1, timeoutMs: REQUEST_TIMEOUT_MS });
  t.teardown(() => client.close());
  await client.createQueue(QUEUE, { partitions: 2 });

  const book = new Book();
  for (let round = 1; round <= ROUNDS; round++) {
    const sendsBefore = book.ackedSends.size;
    const deletesBefore = book.ackedDeletes.size;
    const traffic = startTraffic(client, book, round);
    try {
      await waitFor(
        book,
        () =>
          book.ackedSends.size - sendsBefore >= SENDS_PER_ROUND && book.ackedDeletes.size - deletesBefore >= DELETES_PER_ROUND,
        `round ${round}: ${SENDS_PER_ROUND} acked sends and ${DELETES_PER_ROUND} acked deletes`,
      );
      await killMidStream(t, node, book, round);
    } finally {
      await traffic.stop();
    }
    await node.restart();
    t.log(`round ${round}: restarted (pid ${node.pid}) after ${Math.round(performance.now() - started)} ms`);
  }

  await whenServing(() => client.getQueueAttributes(QUEUE), 'the restarted node serves the queue');
  const drained = await drain(t, client, book);

  const lost = [...book.ackedSends].filter((n) => !book.ackedDeletes.has(n) && !book.unknownDeletes.has(n) && !drained.has(n));
  const neverAckedButSeen = [...book.deliveries.keys()].filter((n) => !book.ackedSends.has(n)).length;
  const unknownDeletesBack = [...book.unknownDeletes].filter((n) => drained.has(n)).length;
  const drainDuplicates = [...drained.values()].filter((c) => c > 1).length;
  const redelivered = [...book.deliveries.values()].filter((c) => c > 1).length;
  const ackedDeletedSent = [...book.ackedDeletes.keys()].filter((n) => !book.ackedSends.has(n)).length;

  t.log(
    [
      `attempted sends ${book.attempted.size}`,
      `acked sends ${book.ackedSends.size}`,
      `sends of unknown outcome ${book.failedSends.size} (of which ${neverAckedButSeen} were delivered anyway)`,
      `acked deletes ${book.ackedDeletes.size} (${ackedDeletedSent} of messages whose send was not acked)`,
      `deletes of unknown outcome ${book.unknownDeletes.size} (${unknownDeletesBack} came back)`,
      `received after the last restart ${drained.size} distinct`,
      `lost ${lost.length}`,
      `resurrected ${book.resurrected.length}`,
      `unexpected ${book.unexpected.length}`,
      `duplicates in the drain ${drainDuplicates}`,
      `messages delivered more than once overall ${redelivered}`,
      `total ${Math.round(performance.now() - started)} ms`,
    ].join('; '),
  );

  t.true(book.ackedSends.size >= ROUNDS * SENDS_PER_ROUND, 'enough acknowledged sends');
  t.deepEqual(lost.slice(0, 20), [], `(a) ${lost.length} acknowledged sends were lost`);
  t.deepEqual(book.resurrected.slice(0, 20), [], `(b) ${book.resurrected.length} acknowledged deletes were resurrected`);
  t.deepEqual(book.unexpected.slice(0, 20), [], `(c) ${book.unexpected.length} unexpected messages were received`);
  const remaining = await client.getQueueAttributes(QUEUE);
  t.true(isEmpty(remaining.counts), 'the queue is empty after the drain');
});
