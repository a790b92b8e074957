/**
 * The Wharf client: typed access to every API action over NATS request/reply, client-side batching
 * of sends, and retries of errors that are safe to retry.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { errors as natsErrors } from '@nats-io/nats-core';
import { ErrorCode, WharfError } from '../errors.ts';
import { natsAuthOptions, principalOfAuth, type NatsAuth } from '../security/nats-auth.ts';
import { clusterName, principalName } from '../names.ts';
import { decodeReply, encodeRequest } from '../protocol/codec.ts';
import type {
  QueueTags,
  Action,
  BatchEntryFailure,
  CreationRequest,
  MessageAttributes,
  MessageMoveTask,
  OutgoingMessage,
  PrincipalPolicy,
  QueueAttributes,
  QueueDescription,
  ReceivedMessage,
  Reply,
  Request,
} from '../protocol/messages.ts';
import { ROUTE_HEADER } from '../protocol/route.ts';
import { subjects, type Subjects } from '../protocol/subjects.ts';
import { QueueBatcher, type BatchingOptions } from './batcher.ts';
import { RouteTable } from './route-table.ts';
import { ServerMove } from './server-move.ts';
import { Consumer, type ConsumerOptions, type Handler } from './consumer.ts';
import { LeaseHeartbeats } from './lease-heartbeat.ts';
import { drainAndClose } from '../nats/shutdown.ts';
import { StreamConsumer, type StreamConsumerOptions, type StreamHandler } from './stream-consumer.ts';

export interface ClientOptions {
  /** NATS server URL(s). Ignored when `connection` is given. @default 'nats://127.0.0.1:4222' */
  servers?: string | string[];
  /** An open NATS connection to use (the client will not close it). */
  connection?: NatsConnection;
  /** Credentials and TLS for the connection the client opens (src/security/nats-auth.ts). Ignored when `connection` is given. */
  auth?: NatsAuth;
  /**
   * Who the requests are made as (docs/security.md): with authorization on, the NATS user the
   * connection authenticated as (a NATS server configured by `wharf security init` refuses any
   * other). @default `auth.user`, else 'anonymous'
   */
  principal?: string;
  /** The Wharf deployment to talk to. @default 'local' */
  cluster?: string;
  /** How long one request may take before it fails with `timeout`, ms. @default 30000 */
  timeoutMs?: number;
  /** Attempts for errors that are safe to retry (`unavailable`, `over_limit`). @default 5 */
  maxAttempts?: number;
  /** Batching of `send()`. */
  batching?: BatchingOptions;
  /**
   * Send a partition's requests straight to the node of its primary, learnt from earlier answers,
   * rather than to any node (which forwards them). @default true
   */
  routeToPrimaries?: boolean;
  /**
   * The name this client's receives carry: each delivery records it as the message's lease owner.
   * @default `<host>:<pid>:<random>`
   */
  consumer?: string;
  /**
   * Period of the lease heartbeat, sent once a receive asked for it (`heartbeat: true`), ms. Keep it
   * well below the nodes' WHARF_LEASE_HEARTBEAT_TIMEOUT_MS (5 s by default). @default 1000
   */
  heartbeatIntervalMs?: number;
}

export interface SendOptions {
  attributes?: MessageAttributes;
  /** 0–604,800 seconds (7 days), below the queue's retention; overrides the queue's delay. */
  delaySeconds?: number;
  /** The producer timestamp of a timeWindow queue, ms. @default Date.now() when sent */
  producedAt?: number;
  /**
   * Sends with the same id within the queue's deduplicationWindow (default 5 minutes) store one
   * message. @default a new random id per call (none with `contentDeduplication`)
   */
  deduplicationId?: string;
  /** The message expires this many seconds after the send (1–1,209,600), before retention would. */
  ttlSeconds?: number;
  /** The message group, on a FIFO queue (required there): `send()` keeps each group's order. */
  messageGroupId?: string;
  /**
   * Leave out the random deduplication id, so a queue with contentBasedDeduplication deduplicates
   * by body. A retry after a timeout is then idempotent only on such a queue. @default false
   */
  contentDeduplication?: boolean;
}

export interface ReceiveOptions {
  /** 1–1,000. @default 1 */
  maxMessages?: number;
  /** Long-poll wait, 0–20 s. @default the queue's receiveWaitTime */
  waitTimeSeconds?: number;
  /** Visibility timeout of these deliveries, seconds. @default the queue's */
  visibilityTimeout?: number;
  receiveRequestAttemptId?: string;
  /** Lease owner recorded with these deliveries. @default the client's `consumer` */
  consumer?: string;
  /**
   * Keep these leases while this client is open and beating: the nodes extend them, and end them
   * within their heartbeat timeout once it closes or dies. Only with the client's own consumer name.
   * @default false
   */
  heartbeat?: boolean;
}

/**
 * A request that may be sent again after a timeout (an unknown outcome): a send whose messages all
 * carry deduplication ids, or an operation on receipt handles. A handle names one delivery, so a
 * repeated delete or visibility change can only touch that delivery again, never a later one: at
 * worst the repeat finds the handle stale, and the caller learns the outcome is unknown.
 */
function isIdempotent(action: Action, request: unknown): boolean {
  switch (action) {
    case 'SendMessage':
      return (request as Request<'SendMessage'>).deduplicationId !== undefined;
    case 'SendMessageBatch':
      return (request as Request<'SendMessageBatch'>).entries.every((e) => e.deduplicationId !== undefined);
    case 'DeleteMessage':
    case 'DeleteMessageBatch':
    case 'ChangeMessageVisibility':
    case 'ChangeMessageVisibilityBatch':
      return true;
    default:
      return false;
  }
}

type BatchOutcome = { successful: Array<{ id: string }>; failed: BatchEntryFailure[] };

/**
 * The answer to a batch of receipt handles repeated after an attempt timed out: an entry this
 * attempt reports failed (its handle stale, say) may have been applied by the one that timed out,
 * so its outcome is unknown, as a single request's would be.
 */
function afterUnknown<A extends Action>(action: A, reply: Reply<A>): Reply<A> {
  if (action !== 'DeleteMessageBatch' && action !== 'ChangeMessageVisibilityBatch') return reply;
  const outcome = reply as BatchOutcome;
  const failed = outcome.failed.map((f) => ({
    ...f,
    code: ErrorCode.Timeout,
    message: `${f.message} (after an earlier attempt timed out: the outcome is unknown)`,
    senderFault: false,
  }));
  return { ...outcome, failed } as Reply<A>;
}

/**
 * The node whose front-end should get the request: the primary of the partition it concerns, if
 * the route table knows it (undefined: any node). A batch of receipt handles goes by its first.
 */
function targetOf(routes: RouteTable, action: Action, request: unknown): string | undefined {
  switch (action) {
    case 'SendMessage': {
      const r = request as Request<'SendMessage'>;
      return routes.nodeForSend(r.queue, r.messageGroupId ?? r.deduplicationId);
    }
    case 'SendMessageBatch': {
      const r = request as Request<'SendMessageBatch'>;
      return routes.nodeForSend(r.queue, r.entries[0]?.messageGroupId ?? r.entries[0]?.deduplicationId);
    }
    case 'ReceiveMessage':
      return routes.nodeForReceive((request as Request<'ReceiveMessage'>).queue);
    case 'DeleteMessage':
    case 'ChangeMessageVisibility': {
      const r = request as Request<'DeleteMessage'>;
      return routes.nodeOfReceipt(r.queue, r.receiptHandle);
    }
    case 'DeleteMessageBatch':
    case 'ChangeMessageVisibilityBatch': {
      const r = request as Request<'DeleteMessageBatch'>;
      const first = r.entries[0];
      return first === undefined ? undefined : routes.nodeOfReceipt(r.queue, first.receiptHandle);
    }
    default:
      return undefined;
  }
}

const queueOf = (request: unknown): string | undefined => {
  const queue = (request as { queue?: unknown }).queue;
  return typeof queue === 'string' ? queue : undefined;
};

const encoder = new TextEncoder();
const toBytes = (body: Uint8Array | string) => (typeof body === 'string' ? encoder.encode(body) : body);

export class WharfClient {
  private readonly nc: NatsConnection;
  private readonly owned: boolean;
  private readonly subjects: Subjects;
  /** The name in every API subject this client publishes. */
  readonly principal: string;
  private readonly timeoutMs: number;
  /** Moves the connection off a server cut off from the cluster: only a connection this client opened. */
  private readonly mover: ServerMove | undefined;
  private readonly maxAttempts: number;
  private readonly batching: BatchingOptions;
  private readonly batchers = new Map<string, QueueBatcher>();
  private readonly routes = new RouteTable();
  private readonly routeToPrimaries: boolean;
  /** Recorded by the partitions as the lease owner of what this client receives. */
  readonly consumer: string;
  private readonly heartbeats: LeaseHeartbeats;

  private constructor(nc: NatsConnection, owned: boolean, options: ClientOptions, mover?: ServerMove) {
    this.nc = nc;
    this.owned = owned;
    this.mover = mover;
    this.subjects = subjects(clusterName(options.cluster ?? 'local'));
    this.principal = principalName(options.principal ?? principalOfAuth(options.auth));
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.maxAttempts = options.maxAttempts ?? 5;
    this.batching = options.batching ?? {};
    this.routeToPrimaries = options.routeToPrimaries ?? true;
    this.consumer = options.consumer ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    this.heartbeats = new LeaseHeartbeats(nc, this.subjects.leaseHeartbeat(this.principal), this.consumer, options.heartbeatIntervalMs ?? 1000);
  }

  static async connect(options: ClientOptions = {}): Promise<WharfClient> {
    if (options.connection) return new WharfClient(options.connection, false, options);
    const servers = options.servers ?? 'nats://127.0.0.1:4222';
    const auth = natsAuthOptions(options.auth);
    try {
      const mover = new ServerMove();
      const nc = await connect({ servers, name: 'wharf-client', maxReconnectAttempts: -1, pingInterval: 10_000, reconnectToServer: mover.pick, ...auth });
      return new WharfClient(nc, true, options, mover);
    } catch (err) {
      throw new WharfError(ErrorCode.Unavailable, `cannot connect to NATS at ${String(servers)}: ${(err as Error).message}`, { cause: err });
    }
  }

  /**
   * One API request; retries retryable errors with backoff. A timeout (unknown outcome) is retried
   * only where a repeat cannot do more than the first attempt (isIdempotent): sends whose every
   * message carries a deduplication id, and operations on receipt handles.
   * A request about a partition goes to its primary's node when the client knows it (route-table.ts);
   * a node that does not answer is asked no more and the request goes to any node.
   */
  async request<A extends Action>(action: A, request: Request<A>): Promise<Reply<A>> {
    const frame = encodeRequest<A>(request);
    const idempotent = isIdempotent(action, request);
    const queue = this.routeToPrimaries ? queueOf(request) : undefined;
    let node = queue === undefined ? undefined : targetOf(this.routes, action, request);
    // Once an attempt's outcome is unknown, so is the request's, whatever later attempts answer.
    let unknown: WharfError | undefined;
    let silent = 0;
    for (let attempt = 1; ; attempt++) {
      const direct = node;
      try {
        const subject = direct === undefined ? this.subjects.api(action, this.principal) : this.subjects.nodeApi(direct, action, this.principal);
        const msg = await this.nc.request(subject, frame, { timeout: this.timeoutMs });
        const route = queue === undefined ? undefined : msg.headers?.get(ROUTE_HEADER);
        if (queue !== undefined && route) this.routes.learn(queue, route);
        const reply = decodeReply<Reply<A>>(msg.data);
        return unknown === undefined ? reply : afterUnknown(action, reply);
      } catch (err) {
        const error = toClientError(err);
        const answered = err instanceof WharfError;
        // The node asked is cut off from its cluster, no node at all answers through this client's
        // NATS server, or two attempts in a row got no answer (a server cut off from the others can
        // hand requests to routes that no longer lead anywhere until it notices): the server may be
        // on the wrong side of a network split. A connection handed in has no mover: it stays.
        silent = !answered && error.code === ErrorCode.Timeout ? silent + 1 : 0;
        if (error.code === ErrorCode.NodeIsolated || (!answered && direct === undefined && error.code === ErrorCode.Unavailable) || silent >= 2) this.mover?.move(this.nc);
        // No answer at all (an answer, even an error, comes back as a WharfError), or an answer
        // from a node cut off: try any node next.
        if (direct !== undefined && queue !== undefined && (!answered || error.code === ErrorCode.NodeIsolated)) {
          this.routes.unreachable(queue, direct);
          node = undefined;
          // Nobody took it: it goes to any node at once and does not count as an attempt.
          if (!answered && error.code === ErrorCode.Unavailable) {
            attempt--;
            continue;
          }
        }
        if (error.code === ErrorCode.Timeout) unknown = error;
        if (!error.retryable || (error.code === ErrorCode.Timeout && !idempotent) || attempt >= this.maxAttempts) {
          throw unknown !== undefined && error.code !== ErrorCode.Timeout
            ? new WharfError(ErrorCode.Timeout, `${error.message} (after an earlier attempt timed out: the outcome is unknown)`, { cause: error })
            : error;
        }
        // A throttled request waits at least as long as the node said it would take to pass.
        const backoff = Math.min(2000, 50 * 2 ** attempt) * (0.5 + Math.random());
        await new Promise((r) => setTimeout(r, Math.max(backoff, error.retryAfterMs ?? 0)));
      }
    }
  }

  /**
   * A batch of receipt handles, split by the node serving each handle's partition: every part goes
   * straight to its primary. A part that fails makes its entries fail; if every part fails, the
   * call throws as one request would.
   */
  private async receiptBatch<A extends 'DeleteMessageBatch' | 'ChangeMessageVisibilityBatch'>(
    action: A,
    queue: string,
    entries: Request<A>['entries'],
  ): Promise<BatchOutcome> {
    const groups = this.routeToPrimaries ? [...this.routes.byNode(queue, entries).values()] : [];
    if (groups.length <= 1) return this.request(action, { queue, entries } as Request<A>);
    const outcomes = await Promise.allSettled(groups.map((part) => this.request(action, { queue, entries: part } as Request<A>)));
    const failure = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failure !== undefined && outcomes.every((o) => o.status === 'rejected')) throw failure.reason;
    const order = new Map(entries.map((e, i) => [e.id, i]));
    const byOrder = (a: { id: string }, b: { id: string }) => (order.get(a.id) ?? 0) - (order.get(b.id) ?? 0);
    const successful: Array<{ id: string }> = [];
    const failed: BatchEntryFailure[] = [];
    outcomes.forEach((o, k) => {
      if (o.status === 'fulfilled') {
        successful.push(...o.value.successful);
        failed.push(...o.value.failed);
        return;
      }
      const error = toClientError(o.reason);
      for (const e of groups[k] ?? []) failed.push({ id: e.id, code: error.code, message: error.message, senderFault: false });
    });
    return { successful: successful.sort(byOrder), failed: failed.sort(byOrder) };
  }

  // ---- queues ------------------------------------------------------------------------------------

  /** `tags` are set on a new queue only: an existing queue keeps its own (use tagQueue). */
  createQueue(queue: string, attributes?: CreationRequest, tags?: QueueTags): Promise<Reply<'CreateQueue'>> {
    return this.request('CreateQueue', { queue, ...(attributes ? { attributes } : {}), ...(tags ? { tags } : {}) });
  }

  listQueues(options: Request<'ListQueues'> = {}): Promise<Reply<'ListQueues'>> {
    return this.request('ListQueues', options);
  }

  getQueueAttributes(queue: string): Promise<QueueDescription> {
    return this.request('GetQueueAttributes', { queue });
  }

  /** Changes settable attributes; `null` removes an optional one (e.g. `{ redrivePolicy: null }`). */
  async setQueueAttributes(queue: string, attributes: Request<'SetQueueAttributes'>['attributes']): Promise<QueueAttributes> {
    return (await this.request('SetQueueAttributes', { queue, attributes })).attributes;
  }

  async deleteQueue(queue: string): Promise<void> {
    await this.request('DeleteQueue', { queue });
  }

  /** Adds tags to a queue, or replaces the values of keys it has (at most 50 tags in all). */
  async tagQueue(queue: string, tags: QueueTags): Promise<void> {
    await this.request('TagQueue', { queue, tags });
  }

  /** Removes tags by key; keys the queue does not have are ignored. */
  async untagQueue(queue: string, tagKeys: readonly string[]): Promise<void> {
    await this.request('UntagQueue', { queue, tagKeys: [...tagKeys] });
  }

  async listQueueTags(queue: string): Promise<QueueTags> {
    return (await this.request('ListQueueTags', { queue })).tags;
  }

  /** Admin only: creates or replaces a principal's policy (docs/security.md). */
  async putPrincipal(policy: PrincipalPolicy): Promise<void> {
    await this.request('PutPrincipal', { policy });
  }

  /** Admin only. */
  async deletePrincipal(name: string): Promise<void> {
    await this.request('DeletePrincipal', { name });
  }

  /** Admin only. */
  async listPrincipals(): Promise<PrincipalPolicy[]> {
    return (await this.request('ListPrincipals', {})).principals;
  }

  /** Who the cluster takes this client for, and its policy. */
  whoAmI(): Promise<Reply<'WhoAmI'>> {
    return this.request('WhoAmI', {});
  }

  purgeQueue(queue: string): Promise<{ purged: number }> {
    return this.request('PurgeQueue', { queue });
  }

  // ---- sending -----------------------------------------------------------------------------------

  /** Sends one message through the client-side batcher: the fast way to send many. */
  send(queue: string, body: Uint8Array | string, options: SendOptions = {}): Promise<{ messageId: string }> {
    let batcher = this.batchers.get(queue);
    if (!batcher) {
      batcher = new QueueBatcher(queue, (r) => this.request('SendMessageBatch', r), this.batching);
      this.batchers.set(queue, batcher);
    }
    return batcher.add(outgoing(body, options));
  }

  /** Waits until every message given to `send()` so far is acknowledged or failed. */
  async flush(): Promise<void> {
    await Promise.all([...this.batchers.values()].map((b) => b.flush()));
  }

  /** Sends one message in its own request. */
  sendMessage(queue: string, body: Uint8Array | string, options: SendOptions = {}): Promise<{ messageId: string }> {
    return this.request('SendMessage', { queue, ...outgoing(body, options) });
  }

  sendMessageBatch(queue: string, entries: Request<'SendMessageBatch'>['entries']): Promise<Reply<'SendMessageBatch'>> {
    return this.request('SendMessageBatch', { queue, entries });
  }

  // ---- receiving ---------------------------------------------------------------------------------

  async receive(queue: string, options: ReceiveOptions = {}): Promise<ReceivedMessage[]> {
    if (options.heartbeat === true) {
      // The beats name this client's consumer: leases recorded under another name would not be kept.
      if (options.consumer !== undefined && options.consumer !== this.consumer) {
        throw new WharfError(ErrorCode.InvalidParameter, 'heartbeat receives use the client\'s own consumer name (ClientOptions.consumer)');
      }
      // Beating before the receive is answered: the first beat must not come after the timeout.
      this.heartbeats.start();
    }
    return (await this.request('ReceiveMessage', { queue, consumer: this.consumer, ...options })).messages;
  }

  async deleteMessage(queue: string, receiptHandle: string): Promise<void> {
    await this.request('DeleteMessage', { queue, receiptHandle });
  }

  deleteMessageBatch(queue: string, entries: Array<{ id: string; receiptHandle: string }>): Promise<BatchOutcome> {
    return this.receiptBatch('DeleteMessageBatch', queue, entries);
  }

  async changeMessageVisibility(queue: string, receiptHandle: string, visibilityTimeout: number): Promise<void> {
    await this.request('ChangeMessageVisibility', { queue, receiptHandle, visibilityTimeout });
  }

  changeMessageVisibilityBatch(
    queue: string,
    entries: Array<{ id: string; receiptHandle: string; visibilityTimeout: number }>,
  ): Promise<BatchOutcome> {
    return this.receiptBatch('ChangeMessageVisibilityBatch', queue, entries);
  }

  // ---- dead letters ------------------------------------------------------------------------------

  /**
   * Starts moving the messages of a dead-letter queue back to where each came from, or to
   * `destinationQueue`, at most `maxMessagesPerSecond`. Returns the task's id; the task runs on the
   * cluster (it survives restarts) until it completes, fails or is cancelled.
   */
  async startMessageMoveTask(
    sourceQueue: string,
    options: { destinationQueue?: string; maxMessagesPerSecond?: number } = {},
  ): Promise<string> {
    return (await this.request('StartMessageMoveTask', { sourceQueue, ...options })).taskId;
  }

  /** Asks a running move task to stop; it ends `cancelled` after its current step. */
  async cancelMessageMoveTask(taskId: string): Promise<MessageMoveTask> {
    return (await this.request('CancelMessageMoveTask', { taskId })).task;
  }

  /** Move tasks, running and finished (the most recent 100), optionally of one source queue. */
  async listMessageMoveTasks(sourceQueue?: string): Promise<MessageMoveTask[]> {
    return (await this.request('ListMessageMoveTasks', sourceQueue === undefined ? {} : { sourceQueue })).tasks;
  }

  /**
   * One page of a queue's messages, read without consuming them (ready, in flight with lease owner
   * and deadline, delayed). Pass the reply's `cursor` back for the next page; none means the end.
   */
  peek(queue: string, options: Omit<Request<'PeekMessages'>, 'queue'> = {}): Promise<Reply<'PeekMessages'>> {
    return this.request('PeekMessages', { queue, ...options });
  }

  /** Receives in a loop, runs `handler` on each message and deletes it when the handler succeeds. */
  consume(queue: string, handler: Handler, options: ConsumerOptions = {}): Consumer {
    return new Consumer(this, queue, handler, options);
  }

  /** Joins consumer group `options.group` of a stream and reads its share of the partitions (stream-consumer.ts). */
  streamConsumer(queue: string, handler: StreamHandler, options: StreamConsumerOptions): StreamConsumer {
    return new StreamConsumer(this, queue, handler, options);
  }

  async close(): Promise<void> {
    await this.flush().catch(() => undefined);
    // Goodbye: the nodes end this client's heartbeat leases now instead of after their timeout.
    this.heartbeats.stop();
    for (const b of this.batchers.values()) b.close();
    if (this.owned) await drainAndClose(this.nc);
  }
}

/** The one place NATS client errors become WharfErrors. */
function toClientError(err: unknown): WharfError {
  if (err instanceof WharfError) return err;
  if (err instanceof natsErrors.TimeoutError) {
    return new WharfError(ErrorCode.Timeout, 'no reply in time: the request may or may not have taken effect', { cause: err });
  }
  if (err instanceof natsErrors.NoRespondersError || (err instanceof natsErrors.RequestError && err.isNoResponders())) {
    return new WharfError(ErrorCode.Unavailable, 'no Wharf node is serving this cluster', { cause: err });
  }
  if (err instanceof natsErrors.ClosedConnectionError) {
    return new WharfError(ErrorCode.Unavailable, 'the NATS connection is closed', { cause: err });
  }
  // The NATS server refused the subject: this connection's user may not publish as this principal.
  if (err instanceof natsErrors.PermissionViolationError || (err instanceof natsErrors.RequestError && err.cause instanceof natsErrors.PermissionViolationError)) {
    return new WharfError(ErrorCode.AccessDenied, `NATS refused the request: ${err.message} (is the principal the connection's NATS user?)`, { cause: err });
  }
  return new WharfError(ErrorCode.Internal, err instanceof Error ? err.message : String(err), { cause: err });
}

/** The message a send() or sendMessage() call stands for: a random deduplication id unless told otherwise. */
function outgoing(body: Uint8Array | string, options: SendOptions): OutgoingMessage {
  const { contentDeduplication, ...rest } = options;
  // producedAt: this client's clock orders the message on a timeWindow queue (ignored elsewhere).
  const message = { producedAt: Date.now(), ...rest };
  return contentDeduplication === true ? { body: toBytes(body), ...message } : { body: toBytes(body), deduplicationId: randomUUID(), ...message };
}
