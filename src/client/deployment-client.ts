/**
 * The SDK for a deployment of several clusters (docs/clusters.md): queues are found through the
 * deployment's routes (the external manager's mapping, cached here and kept fresh by a KV watch),
 * and each request goes to the cluster(s) holding the queue, through one WharfClient per cluster
 * on a shared connection.
 *
 * - Sends go round-robin over the queue's active parts, so a split queue's messages spread evenly.
 * - Receives go round-robin over every part, draining ones included: each receive starts at the
 *   next part and takes what the first non-empty part has (a short poll each), then long-polls the
 *   first part that answered. No part waits behind another for more than one round, and a part
 *   that fails (its cluster lost a majority) is passed over; the receive fails only if all do.
 * - Receipt handles carry the cluster that issued them (part-receipt.ts): deletes and visibility
 *   changes go back to that part.
 * - Queue creation, split, merge and delete are asked of the active external manager.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { ErrorCode, isWharfError, WharfError } from '../errors.ts';
import { DeploymentMetadata } from '../meta/deployment-metadata.ts';
import type { QueuePart, QueueRoute } from '../meta/deployment-records.ts';
import { clusterName } from '../names.ts';
import { parsePartReceipt, partReceipt } from '../protocol/part-receipt.ts';
import type { BatchEntryFailure, QueueAttributes, QueueTags, ReceivedMessage } from '../protocol/messages.ts';
import { deploymentSubjects, type ExternalAction } from '../protocol/subjects.ts';
import { natsAuthOptions } from '../security/nats-auth.ts';
import { WharfClient, type ClientOptions, type ReceiveOptions, type SendOptions } from './client.ts';

export interface DeploymentClientOptions extends Omit<ClientOptions, 'cluster' | 'routeToPrimaries'> {
  /** The deployment to talk to. */
  deployment: string;
}

type BatchOutcome = { successful: Array<{ id: string }>; failed: BatchEntryFailure[] };

export class DeploymentClient {
  private readonly nc: NatsConnection;
  private readonly owned: boolean;
  private readonly metadata: DeploymentMetadata;
  private readonly options: DeploymentClientOptions;
  private readonly clients = new Map<string, WharfClient>();
  private readonly nextSend = new Map<string, number>();
  private readonly nextReceive = new Map<string, number>();
  private readonly subjects: ReturnType<typeof deploymentSubjects>;

  private constructor(nc: NatsConnection, owned: boolean, metadata: DeploymentMetadata, options: DeploymentClientOptions) {
    this.nc = nc;
    this.owned = owned;
    this.metadata = metadata;
    this.options = options;
    this.subjects = deploymentSubjects(clusterName(options.deployment));
  }

  static async connect(options: DeploymentClientOptions): Promise<DeploymentClient> {
    const nc =
      options.connection ??
      (await connect({ servers: options.servers ?? 'nats://127.0.0.1:4222', name: 'wharf-client', maxReconnectAttempts: -1, ...natsAuthOptions(options.auth) }).catch((err: unknown) => {
        throw new WharfError(ErrorCode.Unavailable, `cannot connect to NATS: ${(err as Error).message}`, { cause: err });
      }));
    const metadata = await DeploymentMetadata.open(nc, options.deployment);
    return new DeploymentClient(nc, options.connection === undefined, metadata, options);
  }

  /** The queue's route as last seen; `queue_not_found` when the deployment has none. */
  route(queue: string): QueueRoute {
    const route = this.metadata.route(queue)?.value;
    if (route === undefined) throw new WharfError(ErrorCode.QueueNotFound, `no queue ${queue} in deployment ${this.options.deployment}`);
    return route;
  }

  /** The client of one cluster, on the shared connection. */
  async cluster(name: string): Promise<WharfClient> {
    let client = this.clients.get(name);
    if (client === undefined) {
      const { deployment: _, ...rest } = this.options;
      client = await WharfClient.connect({ ...rest, connection: this.nc, cluster: name });
      this.clients.set(name, client);
    }
    return client;
  }

  // ---- queues: asked of the external manager ----

  async createQueue(queue: string, attributes: Partial<QueueAttributes> = {}, tags?: QueueTags): Promise<QueueRoute> {
    return this.untilSeen(await this.ask('create', { queue, attributes, ...(tags === undefined ? {} : { tags }) }));
  }

  /** Spreads the queue over `parts` clusters. */
  async split(queue: string, parts: number): Promise<QueueRoute> {
    return this.untilSeen(await this.ask('split', { queue, parts }));
  }

  /** Keeps one active part (on `into`, or the manager's choice); the others drain and are retired. */
  async merge(queue: string, into?: string): Promise<QueueRoute> {
    return this.untilSeen(await this.ask('merge', { queue, ...(into === undefined ? {} : { into }) }));
  }

  async deleteQueue(queue: string): Promise<void> {
    await this.ask('delete', { queue });
  }

  // ---- messages ----

  async send(queue: string, body: Uint8Array | string, options: SendOptions = {}): Promise<{ messageId: string }> {
    return this.toActivePart(queue, (c) => c.send(queue, body, options));
  }

  async sendMessage(queue: string, body: Uint8Array | string, options: SendOptions = {}): Promise<{ messageId: string }> {
    return this.toActivePart(queue, (c) => c.sendMessage(queue, body, options));
  }

  async receive(queue: string, options: ReceiveOptions = {}): Promise<ReceivedMessage[]> {
    const parts = this.route(queue).parts;
    const start = (this.nextReceive.get(queue) ?? 0) % parts.length;
    this.nextReceive.set(queue, start + 1);
    const order = [...parts.slice(start), ...parts.slice(0, start)];
    // A part whose cluster cannot answer (it lost a majority) does not keep the others from being
    // drained: a receive that failed took nothing the consumer saw, so passing over it is safe.
    let answered: QueuePart | undefined;
    let failure: unknown;
    for (const part of order) {
      let got: ReceivedMessage[];
      try {
        got = await this.receiveFrom(part, queue, { ...options, waitTimeSeconds: 0 });
      } catch (err) {
        failure ??= err;
        continue;
      }
      if (got.length > 0) return got;
      answered ??= part;
    }
    if (answered === undefined) throw failure;
    if ((options.waitTimeSeconds ?? 0) === 0) return [];
    return this.receiveFrom(answered, queue, options);
  }

  async deleteMessage(queue: string, receiptHandle: string): Promise<void> {
    const { cluster, handle } = parsePartReceipt(receiptHandle);
    await (await this.cluster(cluster)).deleteMessage(queue, handle);
  }

  async changeMessageVisibility(queue: string, receiptHandle: string, visibilityTimeout: number): Promise<void> {
    const { cluster, handle } = parsePartReceipt(receiptHandle);
    await (await this.cluster(cluster)).changeMessageVisibility(queue, handle, visibilityTimeout);
  }

  /** One DeleteMessageBatch per cluster the handles came from. */
  async deleteMessageBatch(queue: string, entries: Array<{ id: string; receiptHandle: string }>): Promise<BatchOutcome> {
    const byCluster = new Map<string, Array<{ id: string; receiptHandle: string }>>();
    const failed: BatchEntryFailure[] = [];
    for (const e of entries) {
      try {
        const { cluster, handle } = parsePartReceipt(e.receiptHandle);
        byCluster.set(cluster, [...(byCluster.get(cluster) ?? []), { id: e.id, receiptHandle: handle }]);
      } catch (err) {
        failed.push({ id: e.id, code: ErrorCode.InvalidReceiptHandle, message: (err as Error).message, senderFault: true });
      }
    }
    const outcomes = await Promise.all([...byCluster].map(async ([cluster, es]) => (await this.cluster(cluster)).deleteMessageBatch(queue, es)));
    return { successful: outcomes.flatMap((o) => o.successful), failed: [...failed, ...outcomes.flatMap((o) => o.failed)] };
  }

  async close(): Promise<void> {
    for (const c of this.clients.values()) await c.close();
    await this.metadata.close();
    if (this.owned) await this.nc.drain().catch(() => undefined);
  }

  // ---- internals ----

  private async receiveFrom(part: QueuePart, queue: string, options: ReceiveOptions): Promise<ReceivedMessage[]> {
    try {
      const messages = await (await this.cluster(part.cluster)).receive(queue, options);
      return messages.map((m) => ({ ...m, receiptHandle: partReceipt(part.cluster, m.receiptHandle) }));
    } catch (err) {
      // A part retired since the route was read: nothing to receive there.
      if (isWharfError(err, ErrorCode.QueueNotFound)) return [];
      throw err;
    }
  }

  /** Sends to the next active part; a part retired meanwhile (queue_not_found) is passed over once. */
  private async toActivePart<T>(queue: string, send: (client: WharfClient) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const active = this.route(queue).parts.filter((p) => p.state === 'active');
      if (active.length === 0) throw new WharfError(ErrorCode.Unavailable, `queue ${queue} has no part taking sends`);
      const i = this.nextSend.get(queue) ?? 0;
      this.nextSend.set(queue, i + 1);
      const part = active[i % active.length] as QueuePart;
      try {
        return await send(await this.cluster(part.cluster));
      } catch (err) {
        if (attempt >= active.length || !isWharfError(err, ErrorCode.QueueNotFound)) throw err;
      }
    }
  }

  private async ask(action: ExternalAction, body: Record<string, unknown>): Promise<QueueRoute | null> {
    let reply: { ok: boolean; route?: QueueRoute | null; error?: { code: string; message: string } };
    try {
      const msg = await this.nc.request(this.subjects.external(action), JSON.stringify(body), { timeout: this.options.timeoutMs ?? 30_000 });
      reply = msg.json();
    } catch (err) {
      throw new WharfError(ErrorCode.Unavailable, `the deployment's external manager did not answer ${action}: ${(err as Error).message}`, { cause: err });
    }
    if (!reply.ok) throw WharfError.fromWire({ code: reply.error?.code ?? ErrorCode.Internal, message: reply.error?.message ?? 'failed' });
    return reply.route ?? null;
  }

  /** Waits until the route the manager answered is in this client's cache, so the next send follows it. */
  private untilSeen(route: QueueRoute | null): Promise<QueueRoute> {
    if (route === null) return Promise.reject(new WharfError(ErrorCode.Internal, 'the external manager answered no route'));
    const seen = () => {
      const cached = this.metadata.route(route.queue)?.value;
      return cached !== undefined && cached.updatedAt >= route.updatedAt ? cached : undefined;
    };
    return new Promise((resolve, reject) => {
      const done = (value: QueueRoute | undefined, err?: WharfError) => {
        if (value === undefined && err === undefined) return;
        off();
        clearTimeout(timer);
        if (value !== undefined) resolve(value);
        else reject(err);
      };
      const off = this.metadata.onRoute(() => done(seen()));
      const timer = setTimeout(() => done(undefined, new WharfError(ErrorCode.Timeout, `route of ${route.queue} not seen in time`)), this.options.timeoutMs ?? 30_000);
      done(seen());
    });
  }
}
