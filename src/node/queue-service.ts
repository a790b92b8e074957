/**
 * One queue's message operations on this node: sends spread over its partitions, receives with
 * long polling across all of them, and receipt handles routed back to the partition that issued
 * them. Queue-level state lives here only for long polling (the waiting receivers).
 */
import { createHash } from 'node:crypto';
import type { Delivery, HandleResult, NewMessage, SendLimits } from '../../actors/partition/ledger.ts';
import type { PartitionOp, PartitionResult } from '../../actors/partition/partition.events.ts';
import type { MessageRecord } from '../../actors/partition/records.ts';
import { recordSize } from '../../actors/partition/records.ts';
import { partitionLength } from '../../actors/partition/dead-letter.ts';
import type { Clock } from '../clock.ts';
import { ANONYMOUS } from '../names.ts';
import { ErrorCode, WharfError, type WireError } from '../errors.ts';
import { LIMITS } from '../protocol/limits.ts';
import { checkMessageAttributes } from '../protocol/message-attributes.ts';
import type { BatchEntryFailure, OutgoingMessage, QueueAttributes, QueueCounts, ReceivedMessage, Request } from '../protocol/messages.ts';
import { decodeReceipt, receiptsOf } from '../protocol/receipt.ts';
import { partitionOfId } from '../protocol/route.ts';
import type { QueueMeta } from '../meta/records.ts';
import { partitionStates } from '../meta/layout.ts';
import type { PartitionRouter } from './partition-router.ts';
import type { PartitionCounts } from './partition-client.ts';
import { queueCounts } from './queue-counts.ts';
import { timeWindowRelease } from './time-window.ts';

const ATTEMPT_TTL_MS = 5 * 60_000;
const MAX_ATTEMPTS = 10_000;

interface Waiter {
  request: ReceiveParams;
  resolve: (messages: ReceivedMessage[]) => void;
  timer: unknown;
}

interface ReceiveParams {
  max: number;
  visibilityMs: number;
  attemptId: string | undefined;
  consumer: string | undefined;
  /** Whose lease heartbeats keep the leases (with `heartbeat`). */
  principal: string;
  /** The redrive policy's maxReceiveCount when the queue has one. */
  maxReceives: number | undefined;
  heartbeat: boolean;
}

export interface QueueServiceOptions {
  name: string;
  incarnation: number;
  attributes: QueueAttributes;
  /** The queue's record as the metadata cache has it now: its partitions and their states (layout.ts). */
  layout: () => Pick<QueueMeta, 'attributes' | 'layout'>;
  /** The router of one partition id, made once per id. */
  router: (partition: number) => PartitionRouter;
  /** Calls the listener when a partition of the queue may have new receivable messages. */
  onReady: (listener: () => void) => () => void;
  clock: Clock;
  maxWaiters: number;
  newId: () => string;
}

/** The partitions by state, for one layout record. */
interface Routing {
  layout: unknown;
  /** Take sends. */
  active: PartitionRouter[];
  /** Hold messages: active and draining. */
  served: PartitionRouter[];
  /**
   * The active partitions before the last change of the active set (layout.ts): a send with a
   * deduplication id tries the partition its id named then, while that one drains.
   */
  before: PartitionRouter[] | undefined;
}

export class QueueService {
  readonly name: string;
  readonly incarnation: number;
  private attributes: QueueAttributes;
  private readonly layout: () => Pick<QueueMeta, 'attributes' | 'layout'>;
  private readonly newRouter: (partition: number) => PartitionRouter;
  /** Every partition id given so far, retired ones too (their receipt handles answer stale). */
  private readonly routers: PartitionRouter[] = [];
  private routing: Routing | undefined;
  private readonly clock: Clock;
  private readonly maxWaiters: number;
  private readonly newId: () => string;
  private nextPartition = 0;
  /** Which partition served a receive attempt (the partition keeps the attempt's deliveries). */
  private readonly attempts = new Map<string, { partition: number; expires: number }>();
  private readonly waiters: Waiter[] = [];
  private draining = false;
  private wakeAgain = false;
  private readonly unsubscribe: Array<() => void>;

  constructor(options: QueueServiceOptions) {
    this.name = options.name;
    this.incarnation = options.incarnation;
    this.attributes = options.attributes;
    this.layout = options.layout;
    this.newRouter = options.router;
    this.clock = options.clock;
    this.maxWaiters = options.maxWaiters;
    this.newId = options.newId;
    this.unsubscribe = [options.onReady(() => this.serveWaiters())];
  }

  configure(attributes: QueueAttributes): void {
    this.attributes = attributes;
  }

  /** The queue's partitions by id, retired ones included. */
  get partitions(): readonly PartitionRouter[] {
    this.currentRouting();
    return this.routers;
  }

  /**
   * The partitions by state for the layout the cache has now: worked out again only when the
   * record changed (records are immutable), so a send costs a lookup, not a pass over the layout.
   */
  private currentRouting(): Routing {
    const meta = this.layout();
    const key = meta.layout ?? meta.attributes.partitions;
    if (this.routing?.layout === key) return this.routing;
    const states = partitionStates(meta);
    while (this.routers.length < states.length) this.routers.push(this.newRouter(this.routers.length));
    const routers = this.routers;
    const previous = meta.layout?.previous?.map((id) => routers[id]);
    const before = previous?.every((p) => p !== undefined) ? (previous as PartitionRouter[]) : undefined;
    this.routing = {
      layout: key,
      active: routers.filter((_, id) => states[id] === 'active'),
      served: routers.filter((_, id) => states[id] !== undefined && states[id] !== 'retired'),
      before,
    };
    return this.routing;
  }

  close(): void {
    for (const u of this.unsubscribe) u();
    for (const w of this.waiters.splice(0)) {
      this.clock.clearTimeout(w.timer);
      w.resolve([]);
    }
  }

  // ---- sends -------------------------------------------------------------------------------------

  /**
   * Among the active partitions: on a FIFO queue the message group's partition (the group's order
   * lives in one partition); otherwise round robin, except for a send with a deduplication id: its
   * partition follows from the id, so a retry reaches the partition that remembers it. (A FIFO
   * queue's retry names the same group, and scope `queue` has one partition: attributes.ts.) A
   * change of the active set (auto-scaling) moves ids and groups to other partitions, so while the
   * partition a key named before the change drains, it is asked first: it answers a retry it
   * remembers as the duplicate it is, takes a group it still holds, and refuses anything else
   * (actors/partition/draining.ts, docs/autoscaling.md).
   * `refused` are partitions that answered partition_draining before this node's cache saw it.
   */
  private pickPartition(message: NewMessage | undefined, refused?: ReadonlySet<PartitionRouter>): PartitionRouter {
    const { active, served, before } = this.currentRouting();
    const key = message?.record.group ?? message?.dedupId;
    if (key !== undefined && before !== undefined && before.length > 0) {
      const earlier = before[partitionOfId(key, before.length)] as PartitionRouter;
      if (!active.includes(earlier) && served.includes(earlier) && !refused?.has(earlier)) return earlier;
    }
    if (this.attributes.fifo && refused !== undefined && active.some((p) => refused.has(p))) {
      // The group's partition in this node's layout is no longer active: a newer layout moved the
      // group, and another partition of this one could take it before its earlier messages.
      throw new WharfError(ErrorCode.Unavailable, `queue ${this.name} changed its partitions; retry shortly`);
    }
    const candidates = refused === undefined || refused.size === 0 ? active : active.filter((p) => !refused.has(p));
    const n = candidates.length;
    const p = n === 0 ? undefined : candidates[key === undefined ? this.nextPartition++ % n : partitionOfId(key, n)];
    if (!p) throw new WharfError(ErrorCode.Unavailable, `queue ${this.name} has no active partition here yet; retry shortly`);
    return p;
  }

  /**
   * Sends to the partition pickPartition chooses; one that answers partition_draining (this node's
   * cache had not seen it drain) is left out and the messages go to another. Nothing was stored by
   * a refused send, so going elsewhere neither loses nor duplicates.
   */
  private async sendPicked(
    pick: (refused: ReadonlySet<PartitionRouter>) => PartitionRouter,
    op: (p: PartitionRouter) => PartitionOp,
  ): Promise<PartitionResult> {
    const refused = new Set<PartitionRouter>();
    for (;;) {
      const p = pick(refused);
      const result = await p.request(op(p));
      if (result.type !== 'failed' || result.code !== ErrorCode.PartitionDraining) return result;
      refused.add(p);
    }
  }

  /** Checks one message against the queue's limits and kind (FIFO or standard); returns its record. */
  private toRecord(message: OutgoingMessage): NewMessage {
    checkMessageAttributes(message.attributes);
    const { fifo } = this.attributes;
    if (fifo && message.messageGroupId === undefined) {
      throw new WharfError(ErrorCode.InvalidParameter, `queue ${this.name} is a FIFO queue: every message needs a messageGroupId`);
    }
    if (!fifo && message.messageGroupId !== undefined) {
      throw new WharfError(ErrorCode.InvalidParameter, `queue ${this.name} is not a FIFO queue: messageGroupId applies to FIFO queues only`);
    }
    const record: MessageRecord = { id: this.newId(), body: message.body, sentAt: this.clock.now() };
    if (message.attributes && Object.keys(message.attributes).length > 0) record.attributes = message.attributes;
    if (message.ttlSeconds !== undefined) record.expiresAt = record.sentAt + message.ttlSeconds * 1000;
    if (message.messageGroupId !== undefined) record.group = message.messageGroupId;
    const size = recordSize(record);
    if (size > this.attributes.maximumMessageSize) {
      throw new WharfError(
        ErrorCode.MessageTooLarge,
        `message of ${size} bytes exceeds the queue's maximumMessageSize of ${this.attributes.maximumMessageSize}`,
      );
    }
    const delayMs = (message.delaySeconds ?? this.attributes.delaySeconds) * 1000;
    if (delayMs >= this.attributes.retentionPeriod * 1000) {
      throw new WharfError(
        ErrorCode.InvalidParameter,
        `a delay of ${delayMs / 1000} s is not below the queue's retentionPeriod of ${this.attributes.retentionPeriod} s: the message would expire before it is due`,
      );
    }
    const notBefore = timeWindowRelease(this.attributes, message.producedAt, record.sentAt);
    const dedupId = this.dedupKey(message);
    return {
      record,
      delayMs,
      ...(dedupId === undefined ? {} : { dedupId }),
      ...(notBefore === undefined ? {} : { notBefore }),
    };
  }

  /**
   * The id a partition remembers the message by: the given deduplication id, else the body's
   * SHA-256 with contentBasedDeduplication; within its group with scope `messageGroup` (a group id
   * holds no line feed, so the pair cannot collide with another).
   */
  private dedupKey(message: OutgoingMessage): string | undefined {
    const id =
      message.deduplicationId ??
      (this.attributes.contentBasedDeduplication ? createHash('sha256').update(message.body).digest('hex') : undefined);
    if (id === undefined || this.attributes.deduplicationScope !== 'messageGroup') return id;
    return `${message.messageGroupId ?? ''}\n${id}`;
  }

  /**
   * The queue's maxLength (with its overflow policy, dead-letter.ts) and maxStoredBytes as one
   * partition enforces them: each active partition its share.
   */
  private sendLimits(): SendLimits {
    const { maxLength, overflowPolicy, maxStoredBytes = 0 } = this.attributes;
    const partitions = Math.max(1, this.currentRouting().active.length);
    return {
      ...(maxLength === undefined ? {} : { limit: { maxLength: partitionLength(maxLength, partitions), overflow: overflowPolicy ?? 'reject' } }),
      ...(maxStoredBytes === 0 ? {} : { maxStoredBytes: partitionBytes(maxStoredBytes, partitions) }),
    };
  }

  /** A send refused by a partition at its share of maxStoredBytes: nothing of it was stored. */
  private storedBytesFull(): WharfError {
    const { maxStoredBytes = 0 } = this.attributes;
    const partitions = Math.max(1, this.currentRouting().active.length);
    return new WharfError(
      ErrorCode.QueueFull,
      `queue ${this.name} holds its maxStoredBytes of ${maxStoredBytes} bytes (${partitionBytes(maxStoredBytes, partitions)} per partition): delete messages to make room`,
    );
  }

  async send(message: OutgoingMessage): Promise<{ messageId: string }> {
    const entry = this.toRecord(message);
    const result = await this.sendPicked((refused) => this.pickPartition(entry, refused), () => ({ type: 'send', messages: [entry], ...this.sendLimits() }));
    expectOk(result);
    if (result.type === 'sent' && (result.rejected?.length ?? 0) > 0) throw queueFull(this.name);
    if (result.type === 'sent' && (result.overStoredBytes?.length ?? 0) > 0) throw this.storedBytesFull();
    return { messageId: result.type === 'sent' ? (result.ids[0] ?? entry.record.id) : entry.record.id };
  }

  async sendBatch(entries: Request<'SendMessageBatch'>['entries']) {
    checkBatch(entries);
    const accepted: Array<NewMessage & { id: string }> = [];
    const failed: BatchEntryFailure[] = [];
    let bytes = 0;
    for (const entry of entries) {
      try {
        const r = this.toRecord(entry);
        bytes += recordSize(r.record);
        accepted.push({ id: entry.id, ...r });
      } catch (err) {
        failed.push(entryFailure(entry.id, err));
      }
    }
    if (bytes > LIMITS.maxBatchBytes) {
      throw new WharfError(ErrorCode.BatchTooLarge, `batch of ${bytes} bytes exceeds ${LIMITS.maxBatchBytes}`);
    }
    if (accepted.length === 0) return { successful: [], failed };
    // A standard queue's batch goes to one partition: one atomic write, in order. A FIFO queue's
    // goes to its groups' partitions, one atomic write each, every group's entries in batch order;
    // to a draining partition one write per group, since it takes or refuses each group on its own
    // (draining.ts).
    const parts = new Map<PartitionRouter | string, { chosen: PartitionRouter; entries: Array<NewMessage & { id: string }> }>();
    const first = this.attributes.fifo ? undefined : this.pickPartition(accepted[0]);
    const { active } = this.currentRouting();
    for (const entry of accepted) {
      const p = first ?? this.pickPartition(entry);
      const key = first === undefined && !active.includes(p) ? `${p.index}\n${entry.record.group ?? ''}` : p;
      const part = parts.get(key);
      if (part === undefined) parts.set(key, { chosen: p, entries: [entry] });
      else part.entries.push(entry);
    }
    const successful: Array<{ id: string; messageId: string }> = [];
    await Promise.all(
      [...parts.values()].map(async ({ chosen, entries }) => {
        // A refused part goes elsewhere whole: a standard queue's batch stays one write.
        const result = await this.sendPicked(
          (refused) => (refused.size === 0 ? chosen : this.pickPartition(entries[0], refused)),
          () => ({ type: 'send', messages: entries.map(({ id: _entry, ...message }) => message), ...this.sendLimits() }),
        ).catch((err: unknown) => {
          failed.push(...entries.map((a) => entryFailure(a.id, err)));
          return undefined;
        });
        if (result === undefined) return;
        if (result.type === 'failed') {
          failed.push(...entries.map((a) => ({ id: a.id, code: result.code, message: result.message, senderFault: false })));
          return;
        }
        const ids = result.type === 'sent' ? result.ids : [];
        const rejected = new Set(result.type === 'sent' ? (result.rejected ?? []) : []);
        const overBytes = new Set(result.type === 'sent' ? (result.overStoredBytes ?? []) : []);
        entries.forEach((a, i) => {
          if (rejected.has(i)) failed.push(entryFailure(a.id, queueFull(this.name)));
          else if (overBytes.has(i)) failed.push(entryFailure(a.id, this.storedBytesFull()));
          else successful.push({ id: a.id, messageId: ids[i] || a.record.id });
        });
      }),
    );
    // Answers in the batch's order, whatever order the partitions answered in.
    const order = new Map(entries.map((e, i) => [e.id, i]));
    const byEntry = (a: { id: string }, b: { id: string }) => (order.get(a.id) ?? 0) - (order.get(b.id) ?? 0);
    return { successful: successful.sort(byEntry), failed: failed.sort(byEntry) };
  }

  // ---- receives ----------------------------------------------------------------------------------

  async receive(request: Request<'ReceiveMessage'>, principal: string = ANONYMOUS): Promise<ReceivedMessage[]> {
    const params: ReceiveParams = {
      max: request.maxMessages ?? 1,
      visibilityMs: (request.visibilityTimeout ?? this.attributes.visibilityTimeout) * 1000,
      attemptId: request.receiveRequestAttemptId,
      consumer: request.consumer,
      principal,
      maxReceives: this.attributes.redrivePolicy?.maxReceiveCount,
      heartbeat: request.heartbeat === true,
    };
    if (params.heartbeat && params.consumer === undefined) {
      throw new WharfError(ErrorCode.InvalidParameter, 'ReceiveMessage: heartbeat needs a consumer: the heartbeats name it');
    }
    const waitMs = (request.waitTimeSeconds ?? this.attributes.receiveWaitTime) * 1000;
    const now = await this.tryReceive(params);
    if (now.length > 0 || waitMs === 0) return now;
    if (this.waiters.length >= this.maxWaiters) {
      throw new WharfError(ErrorCode.OverLimit, `too many receivers are waiting on queue ${this.name}`);
    }
    return new Promise((resolve) => {
      const waiter: Waiter = {
        request: params,
        resolve,
        timer: this.clock.setTimeout(() => {
          const i = this.waiters.indexOf(waiter);
          if (i >= 0) this.waiters.splice(i, 1);
          resolve([]);
        }, waitMs),
      };
      this.waiters.push(waiter);
      // A message may have become visible while the first attempt was under way.
      this.serveWaiters();
    });
  }

  /**
   * One pass over the partitions, skipping those with nothing receivable: the ones served here
   * first (no forwarding), each group from a rotating start. A retried receive attempt starts at the
   * partition that served it, which remembers it.
   */
  private async tryReceive(params: ReceiveParams): Promise<ReceivedMessage[]> {
    const remembered = params.attemptId === undefined ? undefined : this.attempts.get(params.attemptId);
    const retry = remembered !== undefined && remembered.expires > this.clock.now() ? remembered.partition : undefined;
    for (const p of this.receiveOrder(retry)) {
      // A partition served here with nothing receivable is skipped without a request, except the
      // one that served this attempt before: it answers a retry from memory.
      if (p.index !== retry && p.localCounts()?.visible === 0) continue;
      const result = await p.request({
        type: 'receive',
        max: params.max,
        maxBytes: LIMITS.maxReceiveBytes,
        visibilityMs: params.visibilityMs,
        ...(params.attemptId === undefined ? {} : { attemptId: params.attemptId }),
        ...(params.consumer === undefined ? {} : { consumer: params.consumer }),
        ...(params.maxReceives === undefined ? {} : { maxReceives: params.maxReceives }),
        ...(params.heartbeat ? { heartbeat: true, principal: params.principal } : {}),
      });
      if (result.type === 'failed') throw new WharfError(result.code as ErrorCode, result.message);
      if (result.type === 'received' && result.deliveries.length > 0) {
        if (params.attemptId !== undefined) this.rememberAttempt(params.attemptId, p.index);
        const receipt = receiptsOf(this.incarnation, p.index);
        return result.deliveries.map((d) => this.toReceived(receipt, d));
      }
    }
    return [];
  }

  /** The partitions in the order a receive asks them: `first`, then those served here, then the others. */
  private receiveOrder(first: number | undefined): PartitionRouter[] {
    // Draining partitions too: what they hold is received from them until they are empty.
    const { served } = this.currentRouting();
    const n = served.length;
    if (n === 1 && first === undefined) return served.slice();
    const start = this.nextPartition++;
    const here: PartitionRouter[] = [];
    const elsewhere: PartitionRouter[] = [];
    for (let i = 0; i < n; i++) {
      const p = served[(start + i) % n] as PartitionRouter;
      if (p.index === first) continue;
      (p.servingHere ? here : elsewhere).push(p);
    }
    // A retired partition holds nothing to answer a retry from.
    const remembered = first === undefined ? undefined : served.find((p) => p.index === first);
    const head = remembered === undefined ? [] : [remembered];
    return [...head, ...here, ...elsewhere];
  }

  private rememberAttempt(attemptId: string, partition: number): void {
    this.attempts.delete(attemptId);
    if (this.attempts.size >= MAX_ATTEMPTS) {
      const oldest = this.attempts.keys().next().value;
      if (oldest !== undefined) this.attempts.delete(oldest);
    }
    this.attempts.set(attemptId, { partition, expires: this.clock.now() + ATTEMPT_TTL_MS });
  }

  /**
   * Hands receivable messages to waiting receivers: every waiter asks at once (their receives share
   * one partition write), and a wake-up that comes while they ask makes them ask again.
   */
  private serveWaiters(): void {
    if (this.waiters.length === 0) return;
    if (this.draining) {
      this.wakeAgain = true;
      return;
    }
    this.draining = true;
    void (async () => {
      try {
        let served = true;
        while (this.waiters.length > 0 && (served || this.wakeAgain)) {
          this.wakeAgain = false;
          served = false;
          const asking = this.waiters.slice();
          const results = await Promise.all(asking.map((w) => this.tryReceive(w.request).catch(() => [])));
          asking.forEach((waiter, k) => {
            const messages = results[k] ?? [];
            const i = this.waiters.indexOf(waiter);
            if (messages.length === 0) return;
            if (i < 0) {
              // The waiter timed out meanwhile: its messages become visible again at once rather
              // than after their visibility timeout (which would also hold their FIFO groups).
              this.release(messages);
              return;
            }
            this.waiters.splice(i, 1);
            this.clock.clearTimeout(waiter.timer);
            waiter.resolve(messages);
            served = true;
          });
        }
      } finally {
        this.draining = false;
      }
    })();
  }

  /** Ends the leases of deliveries nobody took (visibility 0); a failure leaves them to their timeout. */
  private release(messages: readonly ReceivedMessage[]): void {
    const entries = messages.map((m, i) => ({ id: String(i), receiptHandle: m.receiptHandle, visibilityTimeout: 0 }));
    this.changeVisibilityBatch(entries).catch(() => undefined);
  }

  private toReceived(receipt: (offset: number, seq: number) => string, d: Delivery & { record: MessageRecord }): ReceivedMessage {
    return {
      messageId: d.record.id,
      receiptHandle: receipt(d.offset, d.delivery.seq),
      body: d.record.body,
      attributes: d.record.attributes ?? {},
      sentAt: d.record.sentAt,
      receiveCount: d.delivery.count,
      firstReceivedAt: d.delivery.first,
      ...(d.record.deadLetter === undefined ? {} : { deadLetter: d.record.deadLetter }),
      ...(d.record.group === undefined ? {} : { messageGroupId: d.record.group }),
    };
  }

  // ---- receipt handles ---------------------------------------------------------------------------

  private route(receiptHandle: string): { partition: PartitionRouter; offset: number; seq: number } {
    const r = decodeReceipt(receiptHandle);
    const partition = this.partitions[r.partition];
    if (r.incarnation !== this.incarnation || !partition) {
      throw new WharfError(ErrorCode.InvalidReceiptHandle, `the receipt handle does not belong to queue ${this.name}`);
    }
    // A partition is retired only once nothing in it is in flight: no handle of it is current.
    if (!this.currentRouting().served.includes(partition)) {
      throw new WharfError(ErrorCode.InvalidReceiptHandle, `the receipt handle is stale: partition ${r.partition} of queue ${this.name} was retired`);
    }
    return { partition, offset: r.offset, seq: r.seq };
  }

  async deleteMessage(receiptHandle: string): Promise<void> {
    const { partition, offset, seq } = this.route(receiptHandle);
    throwIfRefused(only(await partition.request({ type: 'delete', items: [{ offset, seq }] })));
  }

  async changeVisibility(receiptHandle: string, visibilityTimeout: number): Promise<void> {
    const { partition, offset, seq } = this.route(receiptHandle);
    const visibilityMs = visibilityTimeout * 1000;
    throwIfRefused(only(await partition.request({ type: 'changeVisibility', items: [{ offset, seq, visibilityMs }] })));
  }

  deleteBatch(entries: ReadonlyArray<{ id: string; receiptHandle: string }>) {
    return this.handleBatch(entries, (items) => ({ type: 'delete', items: items.map(({ offset, seq }) => ({ offset, seq })) }));
  }

  changeVisibilityBatch(entries: ReadonlyArray<{ id: string; receiptHandle: string; visibilityTimeout: number }>) {
    return this.handleBatch(entries, (items) => ({
      type: 'changeVisibility',
      items: items.map(({ entry, offset, seq }) => ({
        offset,
        seq,
        visibilityMs: (entries[entry]?.visibilityTimeout ?? 0) * 1000,
      })),
    }));
  }

  /**
   * A batch of receipt-handle operations: the entries of each partition go to it as one request
   * (one pass through its ledger, one write), and each entry gets its own outcome.
   */
  private async handleBatch<E extends { id: string; receiptHandle: string }>(
    entries: readonly E[],
    toOp: (items: Array<{ entry: number; offset: number; seq: number }>) => PartitionOp,
  ): Promise<{ successful: Array<{ id: string }>; failed: BatchEntryFailure[] }> {
    checkBatch(entries);
    // Outcomes in entry order, whatever order the partitions answer in.
    const outcomes: Array<{ id: string } | BatchEntryFailure> = new Array(entries.length);
    const byPartition = new Map<PartitionRouter, Array<{ entry: number; offset: number; seq: number }>>();
    entries.forEach((e, entry) => {
      try {
        const { partition, offset, seq } = this.route(e.receiptHandle);
        const items = byPartition.get(partition) ?? [];
        items.push({ entry, offset, seq });
        byPartition.set(partition, items);
      } catch (err) {
        outcomes[entry] = entryFailure(e.id, err);
      }
    });
    await Promise.all(
      [...byPartition].map(async ([partition, items]) => {
        const result = await partition.request(toOp(items));
        items.forEach((item, k) => {
          const id = (entries[item.entry] as E).id;
          try {
            expectOk(result);
            if (result.type === 'handled') throwIfRefused(result.results[k]);
            outcomes[item.entry] = { id };
          } catch (err) {
            outcomes[item.entry] = entryFailure(id, err);
          }
        });
      }),
    );
    return {
      successful: outcomes.filter((o): o is { id: string } => !('code' in o)),
      failed: outcomes.filter((o): o is BatchEntryFailure => 'code' in o),
    };
  }

  /**
   * Stores prepared records (a dead letter, a redriven message), each with its own deduplication id,
   * in the partition that id chooses: a retry after a crash reaches the partition that remembers it,
   * whatever else the retry carries. No length limit applies. Resolves once all are stored.
   */
  async storeIdempotent(entries: ReadonlyArray<{ record: MessageRecord; dedupId: string }>): Promise<void> {
    const byPartition = new Map<PartitionRouter, Array<{ record: MessageRecord; delayMs: number; dedupId: string }>>();
    for (const { record, dedupId } of entries) {
      const p = this.pickPartition({ record, delayMs: 0, dedupId });
      byPartition.set(p, [...(byPartition.get(p) ?? []), { record, delayMs: 0, dedupId }]);
    }
    await Promise.all(
      [...byPartition].map(async ([chosen, messages]) =>
        expectOk(
          await this.sendPicked(
            (refused) => (refused.size === 0 ? chosen : this.pickPartition(messages[0], refused)),
            () => ({ type: 'send', messages }),
          ),
        ),
      ),
    );
  }

  /** Removes marked messages of a partition once they are in their DLQ (dead-letters.ts). */
  async deadLettered(partition: number, offsets: number[]): Promise<void> {
    const p = this.partitions[partition];
    if (p) expectOk(await p.request({ type: 'deadLettered', offsets }));
  }

  async purge(): Promise<number> {
    const results = await Promise.all(this.currentRouting().served.map((p) => p.request({ type: 'purge' })));
    return results.reduce((sum, r) => sum + (r.type === 'purged' ? r.count : expectOk(r)), 0);
  }

  /** Counts of the partitions whose primary is this node (metrics must not wait on other nodes). */
  knownCounts(): { visible: number; inflight: number; delayed: number } | undefined {
    const total = { visible: 0, inflight: 0, delayed: 0 };
    let served = false;
    for (const p of this.currentRouting().served) {
      const c = p.localCounts();
      if (c === undefined) continue;
      served = true;
      total.visible += c.visible;
      total.inflight += c.inflight;
      total.delayed += c.delayed;
    }
    return served ? total : undefined;
  }

  /** How many partitions are served by a primary on this node. */
  servingPartitions(): number {
    return this.currentRouting().served.filter((p) => p.servingHere).length;
  }

  /** The queue's counts, asked of every partition's primary; `unavailable` while one has none. */
  async counts(): Promise<QueueCounts> {
    const all = await Promise.all(this.currentRouting().served.map((p) => p.counts()));
    if (all.some((c) => c === undefined)) {
      throw new WharfError(ErrorCode.Unavailable, `a partition of queue ${this.name} is loading or electing a primary; retry shortly`);
    }
    return queueCounts(all as PartitionCounts[]);
  }
}

function expectOk(result: PartitionResult): 0 {
  if (result.type === 'failed') throw new WharfError(result.code as ErrorCode, result.message);
  return 0;
}

/** The outcome of a request carrying one receipt-handle item. */
function only(result: PartitionResult): HandleResult | undefined {
  expectOk(result);
  return result.type === 'handled' ? result.results[0] : undefined;
}

function throwIfRefused(result: HandleResult | undefined): void {
  if (result === 'stale') {
    throw new WharfError(ErrorCode.InvalidReceiptHandle, 'the receipt handle is stale: the message was deleted or delivered again since');
  }
  if (result === 'not_in_flight') {
    throw new WharfError(ErrorCode.MessageNotInFlight, 'the message is not in flight: its visibility timeout already ended');
  }
}

/** A queue's maxStoredBytes as each of its `partitions` enforces it. */
function partitionBytes(maxStoredBytes: number, partitions: number): number {
  return Math.max(1, Math.ceil(maxStoredBytes / partitions));
}

function queueFull(queue: string): WharfError {
  return new WharfError(ErrorCode.QueueFull, `queue ${queue} holds its maxLength of messages (overflowPolicy reject)`);
}

function checkBatch(entries: ReadonlyArray<{ id: string }>): void {
  if (entries.length === 0) throw new WharfError(ErrorCode.EmptyBatch, 'the batch has no entries');
  if (new Set(entries.map((e) => e.id)).size !== entries.length) {
    throw new WharfError(ErrorCode.BatchIdsNotDistinct, 'two entries of the batch share an id');
  }
}

function entryFailure(id: string, err: unknown): BatchEntryFailure {
  const e: WireError = err instanceof WharfError ? err.toWire() : { code: ErrorCode.Internal, message: String(err) };
  const retryable = err instanceof WharfError && err.retryable;
  return { id, code: e.code, message: e.message, senderFault: !retryable && e.code !== ErrorCode.Internal };
}
