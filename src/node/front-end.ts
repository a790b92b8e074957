/**
 * The front-end: every API action of the client protocol, checked and answered. The queue catalog
 * is the metadata service's (JetStream KV, cached on every node and kept fresh by watches); messages
 * are reached through each queue's QueueService, which routes to the partitions' primaries.
 */
import { randomInt, randomUUID } from 'node:crypto';
import { ErrorCode, WharfError } from '../errors.ts';
import type { Metadata } from '../meta/metadata.ts';
import type { ClusterModel, QueueMeta } from '../meta/records.ts';
import { checkModelSupports } from '../hosts/model.ts';
import { ANONYMOUS, queueName } from '../names.ts';
import { creationAttributes, sameAttributes, updatedAttributes } from '../protocol/attributes.ts';
import { LIMITS } from '../protocol/limits.ts';
import type { Action, OutgoingMessage, PrincipalAction, Reply, Request, StreamAction } from '../protocol/messages.ts';
import type { Access } from '../security/access.ts';
import type { PrincipalStore } from '../meta/principal-store.ts';
import { encodeRoute, type PartitionRoute } from '../protocol/route.ts';
import { partitionStates } from '../meta/layout.ts';
import { checkRedrivePolicy, deadLetterUnknownQueue } from './dead-letters.ts';
import type { MoveTasks } from './move-tasks.ts';
import { checkTags, taggedWith, untagged } from '../protocol/tags.ts';
import type { Clock } from '../clock.ts';
import type { QueueService } from './queue-service.ts';
import { checkStreamSend, checkWorkQueue, streamHandlers, type ReadyWatch } from './stream-front-end.ts';
import type { GroupStore } from '../meta/groups.ts';
import type { RateLimits } from './rate-limits.ts';

/** How often CreateQueue asks whether the new queue's partitions serve yet. */
const SERVING_POLL_MS = 50;

export interface FrontEndDeps {
  metadata: Metadata;
  clock: Clock;
  /** The service of a queue (created on first use, replaced when the queue is created again). */
  service(meta: QueueMeta): QueueService;
  /** How long CreateQueue waits for the new queue's partitions to have primaries. */
  createWaitMs: number;
  /** The cluster's back-end model: what it offers (src/hosts/model.ts). @default 'primary' */
  clusterModel?: ClusterModel;
  /** Message move tasks (redrives). */
  moveTasks: MoveTasks;
  /** The cluster's dead-letter queue for sends to queues that do not exist (WHARF_UNKNOWN_QUEUE_DLQ). */
  unknownQueueDlq?: string;
  /** A PeekMessages page (peek-service.ts). */
  peek(meta: QueueMeta, request: Request<'PeekMessages'>): Promise<Reply<'PeekMessages'>>;
  /** Consumer groups of streams. */
  groups: GroupStore;
  /** Ready notices of a queue, for stream reads that wait. */
  watchReady(queue: string): ReadyWatch;
  /** Who may do what (security/access.ts). */
  access: Access;
  /** Principals' policies; undefined when authorization is off. */
  principals?: PrincipalStore;
  /** Per-queue request and byte rates (rate-limits.ts); absent: none enforced. */
  limits?: RateLimits;
}

type Handlers = { [A in Action]: (request: Request<A>, principal: string) => Promise<Reply<A>> };

/** CAS retries of SetQueueAttributes against concurrent changes. */
const UPDATE_ATTEMPTS = 5;

export class FrontEnd {
  private readonly deps: FrontEndDeps;

  constructor(deps: FrontEndDeps) {
    this.deps = deps;
    this.handlers = { ...this.queueHandlers, ...principalHandlers(deps), ...streamHandlers({
      entry: (name) => this.entry(name),
      partitions: (meta) => deps.service(meta).partitions,
      groups: deps.groups,
      clock: deps.clock,
      watchReady: (queue) => deps.watchReady(queue),
    }) };
  }

  /**
   * Answers one request on behalf of `principal`, after checking it may (security/access.ts) and
   * that its queue is within its rate limits: the single entry of every caller, over NATS or in process.
   */
  async handle<A extends Action>(action: A, request: Request<A>, principal: string = ANONYMOUS): Promise<Reply<A>> {
    const { access } = this.deps;
    // A move task is authorized by its source queue, which only the tasks bucket knows.
    const context = action === 'CancelMessageMoveTask' && access.enabled
      ? { taskSource: await this.deps.moveTasks.sourceOf((request as Request<'CancelMessageMoveTask'>).taskId) }
      : undefined;
    access.authorize(principal, action, request, context);
    this.admit(action, request);
    const reply = await (this.handlers[action] as (r: Request<A>, p: string) => Promise<Reply<A>>)(request, principal);
    access.done(principal, action, request);
    return reply;
  }

  /**
   * Whether a request may wait for messages (a long poll): it holds a waiter slot of its principal's
   * while it runs (principal-bounds.ts). A receive without `waitTimeSeconds` waits the queue's
   * receiveWaitTime.
   */
  waits<A extends Action>(action: A, request: Request<A>): boolean {
    if (action === 'ReadStream') return ((request as Request<'ReadStream'>).waitTimeSeconds ?? 0) > 0;
    if (action !== 'ReceiveMessage') return false;
    const { queue, waitTimeSeconds } = request as Request<'ReceiveMessage'>;
    return (waitTimeSeconds ?? this.deps.metadata.queue(queue)?.value.attributes.receiveWaitTime ?? 0) > 0;
  }

  /** Whether ListQueues shows `queue` to `principal` (for in-process callers that list by themselves). */
  sees(principal: string, queue: string): boolean {
    return this.deps.access.sees(principal, queue);
  }

  /** Refuses a request over its queue's rate limits (`throttled`) before any work is done for it. */
  private admit<A extends Action>(action: A, request: Request<A>): void {
    const queue = (request as { queue?: unknown }).queue;
    if (this.deps.limits === undefined || typeof queue !== 'string') return;
    const meta = this.deps.metadata.queue(queue)?.value;
    if (meta !== undefined) this.deps.limits.admit(action, meta, request);
  }

  queueNames(): string[] {
    return this.deps.metadata.queues().map((q) => q.value.name);
  }

  service(name: string): QueueService {
    return this.deps.service(this.entry(name));
  }

  /** The service of a work queue: wrong_queue_mode for a stream. */
  private workQueue(name: string): QueueService {
    const meta = this.entry(name);
    checkWorkQueue(meta);
    return this.deps.service(meta);
  }

  /** Where the queue's partitions are served, as this node's cache sees it (route.ts); undefined for an unknown queue. */
  routeOf(name: string): string | undefined {
    const { metadata } = this.deps;
    const meta = metadata.queue(name)?.value;
    if (!meta) return undefined;
    const partitions = partitionStates(meta).map((state, p): PartitionRoute => {
      const a = metadata.assignment(meta.name, p)?.value;
      const route = a !== undefined && a.incarnation === meta.incarnation ? { node: a.primary, epoch: a.epoch } : { node: null, epoch: 0 };
      return state === 'active' ? route : { ...route, state };
    });
    return encodeRoute({ incarnation: meta.incarnation, partitions });
  }

  private entry(name: string): QueueMeta {
    const e = this.deps.metadata.queue(name)?.value;
    if (!e) throw new WharfError(ErrorCode.QueueNotFound, `queue ${JSON.stringify(name).slice(0, 100)} does not exist`);
    return e;
  }

  /**
   * Resolves once every partition of the queue has a primary that serves it (it answers its counts),
   * or after `createWaitMs` anyway: a queue is usable when CreateQueue answers, instead of answering
   * `unavailable` while its partitions load on a busy node.
   */
  private async waitForPrimaries(meta: QueueMeta): Promise<void> {
    const { metadata } = this.deps;
    const deadline = Date.now() + this.deps.createWaitMs;
    const placed = () =>
      Array.from({ length: meta.attributes.partitions }, (_, p) => metadata.assignment(meta.name, p)?.value).every(
        (a) => a !== undefined && a.incarnation === meta.incarnation && a.primary !== null,
      );
    await metadata.waitFor(placed, this.deps.createWaitMs).catch(() => undefined);
    while (Date.now() < deadline) {
      try {
        await this.deps.service(meta).counts();
        return;
      } catch {
        await new Promise((r) => setTimeout(r, SERVING_POLL_MS));
      }
    }
  }

  /**
   * Changes a queue's record by compare-and-swap, retried against concurrent changes; `change`
   * may throw (bad input) before anything is written. Returns the record written.
   */
  private async updateMeta(queue: string, change: (current: QueueMeta) => QueueMeta): Promise<QueueMeta> {
    for (let attempt = 0; attempt < UPDATE_ATTEMPTS; attempt++) {
      const current = this.deps.metadata.queue(queue);
      if (!current) this.entry(queue);
      const { value, revision } = current as NonNullable<typeof current>;
      const next = change(value);
      if ((await this.deps.metadata.updateQueue(next, revision)) !== undefined) return next;
    }
    throw new WharfError(ErrorCode.Unavailable, `queue ${queue} is being changed concurrently; retry`);
  }

  private readonly handlers: Handlers;

  private readonly queueHandlers: Omit<Handlers, StreamAction | PrincipalAction> = {
    CreateQueue: async ({ queue, attributes, tags }) => {
      const name = queueName(queue);
      const wanted = creationAttributes(attributes);
      checkModelSupports(this.deps.clusterModel ?? 'primary', wanted);
      checkRedrivePolicy(this.deps.metadata, name, wanted);
      const now = this.deps.clock.now();
      const meta: QueueMeta = { name, attributes: wanted, createdAt: now, modifiedAt: now, incarnation: randomInt(2 ** 40) };
      // As in SQS, the tags of an existing queue are left as they are (they are not attributes).
      if (tags !== undefined && Object.keys(tags).length > 0) meta.tags = checkTags(tags);
      // Two concurrent creations of one name: the KV create lets exactly one win; the other sees it.
      const { created, entry } = await this.deps.metadata.createQueue(meta);
      if (!created && !sameAttributes(entry.value.attributes, wanted)) {
        throw new WharfError(ErrorCode.QueueAlreadyExists, `queue ${name} exists with different attributes`);
      }
      await this.waitForPrimaries(entry.value);
      return { queue: name, created };
    },

    ListQueues: async ({ prefix, limit, nextToken }, principal) => {
      const max = limit ?? LIMITS.maxListQueues;
      const { access } = this.deps;
      const names = this.queueNames()
        .filter((n) => (prefix === undefined || n.startsWith(prefix)) && (nextToken === undefined || n > nextToken))
        .filter((n) => access.sees(principal, n))
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
        counts: await this.deps.service(entry).counts(),
        createdAt: entry.createdAt,
        modifiedAt: entry.modifiedAt,
      };
    },

    SetQueueAttributes: async ({ queue, attributes }) => {
      // modifiedAt is the attributes' last change, as SQS's LastModifiedTimestamp: tags leave it alone.
      const next = await this.updateMeta(queue, (entry) => {
        const changed = { ...entry, attributes: updatedAttributes(entry.attributes, attributes), modifiedAt: this.deps.clock.now() };
        checkModelSupports(this.deps.clusterModel ?? 'primary', changed.attributes);
        // A changed redrive policy is checked against its DLQ's allow policy (dead-letters.ts).
        if (JSON.stringify(changed.attributes.redrivePolicy) !== JSON.stringify(entry.attributes.redrivePolicy)) {
          checkRedrivePolicy(this.deps.metadata, entry.name, changed.attributes);
        }
        return changed;
      });
      this.deps.service(next).configure(next.attributes);
      return { attributes: next.attributes };
    },

    TagQueue: async ({ queue, tags }) => {
      await this.updateMeta(queue, (entry) => withTags(entry, taggedWith(entry.tags ?? {}, tags)));
      return {};
    },

    UntagQueue: async ({ queue, tagKeys }) => {
      await this.updateMeta(queue, (entry) => withTags(entry, untagged(entry.tags ?? {}, tagKeys)));
      return {};
    },

    ListQueueTags: async ({ queue }) => ({ tags: { ...(this.entry(queue).tags ?? {}) } }),

    DeleteQueue: async ({ queue }) => {
      const current = this.deps.metadata.queue(queue);
      if (!current) this.entry(queue);
      // The cluster manager removes its partitions; each node drops its replicas' data.
      await this.deps.metadata.deleteQueue(queue);
      return {};
    },

    PurgeQueue: async ({ queue }) => ({ purged: await this.service(queue).purge() }),

    SendMessage: async ({ queue, ...message }) => {
      const service = await this.sendingTo(queue, [message]);
      checkStreamSend(this.entry(queue), [message]);
      return service.send(message);
    },

    SendMessageBatch: async ({ queue, entries }) => {
      const service = await this.sendingTo(queue, entries);
      checkStreamSend(this.entry(queue), entries);
      return service.sendBatch(entries);
    },

    ReceiveMessage: async (request, principal) => ({ messages: await this.workQueue(request.queue).receive(request, principal) }),

    DeleteMessage: async ({ queue, receiptHandle }) => {
      await this.workQueue(queue).deleteMessage(receiptHandle);
      return {};
    },

    DeleteMessageBatch: async ({ queue, entries }) =>
      this.workQueue(queue).deleteBatch(entries),

    ChangeMessageVisibility: async ({ queue, receiptHandle, visibilityTimeout }) => {
      await this.workQueue(queue).changeVisibility(receiptHandle, visibilityTimeout);
      return {};
    },

    ChangeMessageVisibilityBatch: async ({ queue, entries }) =>
      this.workQueue(queue).changeVisibilityBatch(entries),

    StartMessageMoveTask: (request) => this.deps.moveTasks.start(request),

    CancelMessageMoveTask: (request) => this.deps.moveTasks.cancel(request),

    ListMessageMoveTasks: async (request, principal) => {
      const { tasks } = await this.deps.moveTasks.list(request);
      // Without a source, only the tasks whose source the principal administers.
      const { access } = this.deps;
      return { tasks: request.sourceQueue !== undefined ? tasks : tasks.filter((task) => access.may(principal, { permission: 'admin', queue: task.sourceQueue })) };
    },
    PeekMessages: async (request) => this.deps.peek(this.entry(request.queue), request),
  };

  /**
   * The service of a queue being sent to. A queue that does not exist is `queue_not_found`; with the
   * cluster's dead-letter queue configured, the messages are kept there first (dead-letters.ts).
   */
  private async sendingTo(queue: string, messages: readonly OutgoingMessage[]): Promise<QueueService> {
    const meta = this.deps.metadata.queue(queue)?.value;
    if (meta) return this.deps.service(meta);
    const dlq = this.deps.unknownQueueDlq === undefined ? undefined : this.deps.metadata.queue(this.deps.unknownQueueDlq)?.value;
    if (dlq === undefined || messages.length === 0) this.entry(queue);
    return deadLetterUnknownQueue(this.deps.service(dlq as QueueMeta), queue, messages, randomUUID, this.deps.clock.now());
  }
}

/** The record with these tags; without the field when there are none, as records before tags. */
function withTags(entry: QueueMeta, tags: Record<string, string>): QueueMeta {
  const { tags: _old, ...rest } = entry;
  return Object.keys(tags).length === 0 ? rest : { ...rest, tags };
}

/** Managing principals (the access check has let only admins through) and WhoAmI. */
function principalHandlers(deps: FrontEndDeps): Pick<Handlers, PrincipalAction> {
  const store = (): PrincipalStore => {
    if (deps.principals === undefined) throw new WharfError(ErrorCode.InvalidRequest, 'authorization is off on this cluster (WHARF_AUTH): there are no principals to manage');
    return deps.principals;
  };
  return {
    PutPrincipal: async ({ policy }) => {
      await store().put(policy);
      return {};
    },
    DeletePrincipal: async ({ name }) => {
      await store().delete(name);
      return {};
    },
    ListPrincipals: async () => ({ principals: store().list() }),
    WhoAmI: async (_, principal) => {
      const policy = deps.access.policy(principal);
      return {
        principal,
        authorization: deps.access.enabled,
        admin: !deps.access.enabled || policy?.admin === true,
        ...(policy === undefined ? {} : { policy }),
      };
    },
  };
}
