/**
 * A consumer: receives in a loop (long polling), runs the handler on each message with bounded
 * concurrency, and deletes every message whose handler succeeded, in batches. A message whose
 * handler threw is left alone and comes back after its visibility timeout. Messages of one FIFO
 * message group are handled one after another, in order; once one fails, the group's later
 * messages of that receive are left alone too (they come back after it).
 */
import type { ReceivedMessage } from '../protocol/messages.ts';
import type { WharfClient } from './client.ts';

export type Handler = (message: ReceivedMessage) => Promise<void> | void;

export interface ConsumerOptions {
  /** Messages handled at once. @default 10 */
  concurrency?: number;
  /** Long-poll wait of each receive, seconds. @default 20 */
  waitTimeSeconds?: number;
  /** Visibility timeout of received messages, seconds. @default the queue's */
  visibilityTimeout?: number;
  /** Keep the leases of messages being handled while this client lives (the lease heartbeat). @default false */
  heartbeat?: boolean;
  /** Called when a handler throws or a receive fails. */
  onError?: (err: unknown, message?: ReceivedMessage) => void;
}

export class Consumer {
  private running = true;
  private readonly loop: Promise<void>;
  private readonly client: WharfClient;
  private readonly queue: string;
  private readonly handler: Handler;
  private readonly options: ConsumerOptions;

  constructor(client: WharfClient, queue: string, handler: Handler, options: ConsumerOptions) {
    this.client = client;
    this.queue = queue;
    this.handler = handler;
    this.options = options;
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    const concurrency = this.options.concurrency ?? 10;
    while (this.running) {
      let messages: ReceivedMessage[];
      try {
        messages = await this.client.receive(this.queue, {
          maxMessages: concurrency,
          waitTimeSeconds: this.options.waitTimeSeconds ?? 20,
          ...(this.options.visibilityTimeout === undefined ? {} : { visibilityTimeout: this.options.visibilityTimeout }),
          ...(this.options.heartbeat === true ? { heartbeat: true } : {}),
        });
      } catch (err) {
        this.options.onError?.(err);
        if (!this.running) break;
        await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      const done: Array<{ id: string; receiptHandle: string }> = [];
      await Promise.all(
        chains(messages).map(async (chain) => {
          for (const [i, m] of chain) {
            try {
              await this.handler(m);
              done.push({ id: String(i), receiptHandle: m.receiptHandle });
            } catch (err) {
              this.options.onError?.(err, m);
              return;
            }
          }
        }),
      );
      if (done.length > 0) {
        await this.client.deleteMessageBatch(this.queue, done).catch((err: unknown) => this.options.onError?.(err));
      }
    }
  }

  /** Stops after the messages in hand are handled (a pending long poll may take its wait time). */
  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}

/** The messages of a receive as chains handled in order: one per message group, one per message without a group. */
function chains(messages: readonly ReceivedMessage[]): Array<Array<[number, ReceivedMessage]>> {
  const out: Array<Array<[number, ReceivedMessage]>> = [];
  const byGroup = new Map<string, Array<[number, ReceivedMessage]>>();
  messages.forEach((m, i) => {
    if (m.messageGroupId === undefined) {
      out.push([[i, m]]);
      return;
    }
    let chain = byGroup.get(m.messageGroupId);
    if (chain === undefined) {
      chain = [];
      byGroup.set(m.messageGroupId, chain);
      out.push(chain);
    }
    chain.push([i, m]);
  });
  return out;
}
