/**
 * Client-side batching of sends, like a Kafka producer: messages for one queue gather until
 * `maxMessages` or `maxBytes` is reached or `lingerMs` has passed, then go as one SendMessageBatch.
 * At most `maxInflight` batches per queue are unanswered at once; beyond that, sends wait
 * (back-pressure), so memory stays bounded however fast the caller loops. Messages of a FIFO message
 * group keep their order: a batch holding a group's message ships only once no earlier batch holding
 * that group is unanswered (two batches in flight could be written in either order).
 */
import { ErrorCode, WharfError } from '../errors.ts';
import type { OutgoingMessage, Reply, Request } from '../protocol/messages.ts';

export interface BatchingOptions {
  /** Longest a message waits for companions, ms. @default 1 */
  lingerMs?: number;
  /** Messages per batch. @default 500 */
  maxMessages?: number;
  /** Bytes of bodies per batch. @default 1 MiB */
  maxBytes?: number;
  /** Unanswered batches per queue. @default 8 */
  maxInflight?: number;
}

type Send = (request: Request<'SendMessageBatch'>) => Promise<Reply<'SendMessageBatch'>>;

interface Item {
  message: OutgoingMessage;
  resolve: (value: { messageId: string }) => void;
  reject: (err: unknown) => void;
}

export class QueueBatcher {
  private items: Item[] = [];
  private bytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private inflight = 0;
  private readonly unblocked: Array<() => void> = [];
  private readonly done = new Set<Promise<void>>();
  /** Message groups of the batches unanswered, with how many batches hold each. */
  private readonly groupsInFlight = new Map<string, number>();
  /** The gathered batch waits for an unanswered one holding the same group. */
  private groupHeld = false;
  private readonly opts: Required<BatchingOptions>;
  private readonly queue: string;
  private readonly sendBatch: Send;

  constructor(queue: string, sendBatch: Send, options: BatchingOptions = {}) {
    this.queue = queue;
    this.sendBatch = sendBatch;
    this.opts = {
      lingerMs: options.lingerMs ?? 1,
      maxMessages: Math.min(options.maxMessages ?? 500, 1000),
      maxBytes: options.maxBytes ?? 1024 * 1024,
      maxInflight: options.maxInflight ?? 8,
    };
  }

  async add(message: OutgoingMessage): Promise<{ messageId: string }> {
    // Back-pressure: wait while this batch is full and cannot ship (too many unanswered, or its group's).
    while ((this.inflight >= this.opts.maxInflight || this.groupHeld) && (this.items.length >= this.opts.maxMessages || this.bytes >= this.opts.maxBytes)) {
      await new Promise<void>((resolve) => this.unblocked.push(resolve));
    }
    return new Promise((resolve, reject) => {
      this.items.push({ message, resolve, reject });
      this.bytes += message.body.byteLength;
      if (this.items.length >= this.opts.maxMessages || this.bytes >= this.opts.maxBytes) this.ship();
      else this.timer ??= setTimeout(() => this.ship(), this.opts.lingerMs);
    });
  }

  /** Sends what is gathered now and waits for every batch under way. */
  async flush(): Promise<void> {
    this.ship();
    while (this.done.size > 0) await Promise.all([...this.done]);
  }

  private ship(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.items.length === 0) return;
    if (this.inflight >= this.opts.maxInflight) {
      // Shipped again when a batch is answered.
      return;
    }
    const groups = new Set(this.items.flatMap((i) => (i.message.messageGroupId === undefined ? [] : [i.message.messageGroupId])));
    // Shipped again when the batch holding the group is answered.
    this.groupHeld = [...groups].some((g) => this.groupsInFlight.has(g));
    if (this.groupHeld) return;
    const items = this.items;
    this.items = [];
    this.bytes = 0;
    this.inflight++;
    for (const g of groups) this.groupsInFlight.set(g, (this.groupsInFlight.get(g) ?? 0) + 1);
    const entries = items.map((item, i) => ({ id: String(i), ...item.message }));
    const p: Promise<void> = this.sendBatch({ queue: this.queue, entries })
      .then(
        (reply) => {
          for (const ok of reply.successful) items[Number(ok.id)]?.resolve({ messageId: ok.messageId });
          for (const bad of reply.failed) {
            items[Number(bad.id)]?.reject(WharfError.fromWire({ code: bad.code, message: bad.message }));
          }
        },
        (err: unknown) => {
          for (const item of items) item.reject(err);
        },
      )
      .finally(() => {
        this.inflight--;
        for (const g of groups) {
          const n = (this.groupsInFlight.get(g) ?? 1) - 1;
          if (n > 0) this.groupsInFlight.set(g, n);
          else this.groupsInFlight.delete(g);
        }
        this.done.delete(p);
        this.unblocked.splice(0).forEach((f) => f());
        if (this.items.length >= this.opts.maxMessages || this.bytes >= this.opts.maxBytes) this.ship();
        else if (this.items.length > 0) this.timer ??= setTimeout(() => this.ship(), this.opts.lingerMs);
      });
    this.done.add(p);
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    for (const item of this.items.splice(0)) {
      item.reject(new WharfError(ErrorCode.Unavailable, 'the client was closed'));
    }
  }
}
