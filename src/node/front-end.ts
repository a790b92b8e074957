/**
 * The front-end: every API action of the client protocol, checked and answered. It owns the queue
 * catalog in memory (persisted through the catalog store before any answer) and reaches messages
 * through each queue's QueueService.
 */
import { randomInt } from 'node:crypto';
import type { CatalogEntry } from '../../actors/node/node.machine.ts';
import type { CatalogStore } from '../effects/catalog-store.ts';
import { ErrorCode, WharfError } from '../errors.ts';
import { queueName } from '../names.ts';
import { creationAttributes, sameAttributes, updatedAttributes } from '../protocol/attributes.ts';
import { LIMITS } from '../protocol/limits.ts';
import type { Action, Reply, Request } from '../protocol/messages.ts';
import type { Clock } from '../clock.ts';
import type { QueueService } from './queue-service.ts';

export interface FrontEndDeps {
  catalog: CatalogStore;
  clock: Clock;
  /** Starts serving a queue (spawns its actors) and returns its service. */
  open(entry: CatalogEntry): QueueService;
  /** Applies changed attributes to a served queue. */
  update(entry: CatalogEntry): void;
  /** Stops serving a queue and deletes its data; resolves when the data is gone. */
  close(entry: CatalogEntry): Promise<void>;
}

type Handlers = { [A in Action]: (request: Request<A>) => Promise<Reply<A>> };

export class FrontEnd {
  private readonly entries = new Map<string, CatalogEntry>();
  private readonly servicesByName = new Map<string, QueueService>();
  /** Queues whose data is being deleted: their names cannot be reused until it is gone. */
  private readonly deleting = new Set<string>();
  private readonly deps: FrontEndDeps;

  constructor(deps: FrontEndDeps, loaded: readonly CatalogEntry[]) {
    this.deps = deps;
    for (const entry of loaded) {
      this.entries.set(entry.name, entry);
      this.servicesByName.set(entry.name, deps.open(entry));
    }
  }

  handle<A extends Action>(action: A, request: Request<A>): Promise<Reply<A>> {
    return (this.handlers[action] as (r: Request<A>) => Promise<Reply<A>>)(request);
  }

  queueNames(): string[] {
    return [...this.entries.keys()];
  }

  /** The services of every queue served now. */
  services(): IterableIterator<QueueService> {
    return this.servicesByName.values();
  }

  service(name: string): QueueService {
    const s = this.servicesByName.get(name);
    if (!s) throw new WharfError(ErrorCode.QueueNotFound, `queue ${JSON.stringify(name).slice(0, 100)} does not exist`);
    return s;
  }

  private entry(name: string): CatalogEntry {
    const e = this.entries.get(name);
    if (!e) throw new WharfError(ErrorCode.QueueNotFound, `queue ${JSON.stringify(name).slice(0, 100)} does not exist`);
    return e;
  }

  close(): void {
    for (const s of this.servicesByName.values()) s.close();
  }

  private readonly handlers: Handlers = {
    CreateQueue: async ({ queue, attributes }) => {
      const name = queueName(queue);
      const wanted = creationAttributes(attributes);
      const existing = this.entries.get(name);
      if (existing) {
        if (!sameAttributes(existing.attributes, wanted)) {
          throw new WharfError(ErrorCode.QueueAlreadyExists, `queue ${name} exists with different attributes`);
        }
        return { queue: name, created: false };
      }
      if (this.deleting.has(name)) {
        throw new WharfError(ErrorCode.Unavailable, `queue ${name} is still being deleted; retry shortly`);
      }
      // Two concurrent creations of one name: the first one here wins, the second sees it.
      const now = this.deps.clock.now();
      const entry: CatalogEntry = { name, attributes: wanted, createdAt: now, modifiedAt: now, incarnation: randomInt(2 ** 40) };
      this.entries.set(name, entry);
      try {
        await this.deps.catalog.put(entry);
      } catch (err) {
        this.entries.delete(name);
        throw err;
      }
      this.servicesByName.set(name, this.deps.open(entry));
      return { queue: name, created: true };
    },

    ListQueues: async ({ prefix, limit, nextToken }) => {
      const max = limit ?? LIMITS.maxListQueues;
      const names = [...this.entries.keys()]
        .filter((n) => (prefix === undefined || n.startsWith(prefix)) && (nextToken === undefined || n > nextToken))
        .sort();
      const page = names.slice(0, max);
      const last = page[page.length - 1];
      return names.length > max && last !== undefined ? { queues: page, nextToken: last } : { queues: page };
    },

    GetQueueAttributes: async ({ queue }) => {
      const entry = this.entry(queue);
      return {
        queue: entry.name,
        attributes: entry.attributes,
        counts: this.service(queue).counts(),
        createdAt: entry.createdAt,
        modifiedAt: entry.modifiedAt,
      };
    },

    SetQueueAttributes: async ({ queue, attributes }) => {
      const entry = this.entry(queue);
      const next: CatalogEntry = {
        ...entry,
        attributes: updatedAttributes(entry.attributes, attributes),
        modifiedAt: this.deps.clock.now(),
      };
      await this.deps.catalog.put(next);
      this.entries.set(entry.name, next);
      this.service(queue).configure(next.attributes);
      this.deps.update(next);
      return { attributes: next.attributes };
    },

    DeleteQueue: async ({ queue }) => {
      const entry = this.entry(queue);
      await this.deps.catalog.markDeleted(entry);
      this.entries.delete(entry.name);
      this.servicesByName.get(entry.name)?.close();
      this.servicesByName.delete(entry.name);
      this.deleting.add(entry.name);
      void this.deps.close(entry).finally(() => this.deleting.delete(entry.name));
      return {};
    },

    PurgeQueue: async ({ queue }) => ({ purged: await this.service(queue).purge() }),

    SendMessage: async ({ queue, ...message }) => this.service(queue).send(message),

    SendMessageBatch: async ({ queue, entries }) => this.service(queue).sendBatch(entries),

    ReceiveMessage: async (request) => ({ messages: await this.service(request.queue).receive(request) }),

    DeleteMessage: async ({ queue, receiptHandle }) => {
      await this.service(queue).deleteMessage(receiptHandle);
      return {};
    },

    DeleteMessageBatch: async ({ queue, entries }) =>
      this.service(queue).deleteBatch(entries),

    ChangeMessageVisibility: async ({ queue, receiptHandle, visibilityTimeout }) => {
      await this.service(queue).changeVisibility(receiptHandle, visibilityTimeout);
      return {};
    },

    ChangeMessageVisibilityBatch: async ({ queue, entries }) =>
      this.service(queue).changeVisibilityBatch(entries),
  };
}
