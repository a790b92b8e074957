/**
 * The composition root of a broker node: configuration, logger, RocksDB store, NATS connection, the
 * actor system (node → queues → partitions) with its effects provided, and the front-end serving
 * the client API on NATS.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { connect, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { createActor, fromPromise, toPromise, waitFor, type Actor, type ActorRefFrom } from 'xstate';
import { nodeMachine, type CatalogEntry } from '../../actors/node/node.machine.ts';
import { partitionMachine } from '../../actors/partition/partition.machine.ts';
import { partitionSystemId, queueMachine, queueSystemId } from '../../actors/queue/queue.machine.ts';
import { catalogStore } from '../effects/catalog-store.ts';
import { partitionStore } from '../effects/partition-store.ts';
import { ErrorCode, toWharfError, WharfError } from '../errors.ts';
import type { QueueName } from '../names.ts';
import { decodeRequest, encodeError, encodeOk, isAction } from '../protocol/codec.ts';
import { actionOf, API_QUEUE_GROUP, subjects } from '../protocol/subjects.ts';
import { openRocksStore, type Store } from '../storage/store.ts';
import { resolveConfig, type NodeConfig, type NodeOptions } from './config.ts';
import { FrontEnd } from './front-end.ts';
import { createLogger, type Logger } from './log.ts';
import { PartitionClient } from './partition-client.ts';
import { QueueService } from './queue-service.ts';
import { serveHttp } from './http.ts';
import { NodeMetrics } from './metrics.ts';
import type { Action } from '../protocol/messages.ts';

export interface WharfNode {
  readonly config: NodeConfig;
  readonly nc: NatsConnection;
  readonly actor: Actor<typeof nodeMachine>;
  readonly log: Logger;
  /** The port of the /metrics, /healthz and /readyz endpoint. */
  readonly httpPort: number;
  /** Stops serving, lets writes under way finish, closes NATS and the store. */
  stop(): Promise<void>;
}

/** How often a partition checks the head of its log for messages past retention. */
const RETENTION_CHECK_MS = 1000;
const TIMER_WINDOW = 65_536;

export async function startNode(options: NodeOptions = {}): Promise<WharfNode> {
  const config = resolveConfig(options);
  const log = createLogger(config.logLevel, { nodeId: config.nodeId, cluster: config.cluster });
  mkdirSync(config.dataDir, { recursive: true });
  const store = await openRocksStore(config.dataDir);
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers: config.natsUrl.split(','),
      name: `wharf-${config.nodeId}`,
      maxReconnectAttempts: -1,
      pingInterval: 5000,
    });
  } catch (err) {
    await store.close();
    throw new WharfError(ErrorCode.Unavailable, `cannot connect to NATS at ${config.natsUrl}: ${(err as Error).message}`, { cause: err });
  }

  const catalog = catalogStore(store);
  const loaded = await catalog.load();
  const actor = createNodeActor(config, store, catalog, loaded);
  actor.start();
  await waitFor(actor, (s) => s.matches('running') || s.status !== 'active', { timeout: 30_000 });

  const frontEnd = new FrontEnd(
    {
      catalog,
      clock: config.clock,
      open: (entry) => openQueue(actor, config, entry, log),
      update: (entry) => actor.send({ type: 'queue.updated', entry }),
      close: (entry) => closeQueue(actor, entry),
    },
    loaded,
  );

  const metrics = new NodeMetrics(() =>
    [...frontEnd.services()].map((s) => ({ name: s.name, counts: () => s.knownCounts(), serving: () => s.servingPartitions() })),
  );
  const subs = subjects(config.cluster);
  const api = serveApi(nc, subs.allApi, frontEnd, metrics, log.child({ component: 'front-end' }));
  const http = await serveHttp(config.httpHost, config.httpPort, metrics, () => {
    if (nc.isClosed()) return { ready: false, reason: 'the NATS connection is closed' };
    for (const s of frontEnd.services()) {
      if (s.servingPartitions() < s.partitions.length) return { ready: false, reason: `queue ${s.name} is loading` };
    }
    return { ready: true };
  }).catch(async (err: unknown) => {
    api.unsubscribe();
    await nc.close();
    await store.close();
    throw new WharfError(ErrorCode.Unavailable, `cannot listen on ${config.httpHost}:${config.httpPort}: ${(err as Error).message}`, { cause: err });
  });
  const heartbeat = setInterval(() => {
    nc.publish(subs.heartbeat(config.nodeId), JSON.stringify({ node: config.nodeId, at: Date.now() }));
  }, config.heartbeatMs);
  heartbeat.unref();

  log.info(
    { natsUrl: config.natsUrl, dataDir: config.dataDir, queues: loaded.length, syncWrites: config.syncWrites, httpPort: http.port },
    'node ready',
  );

  let stopping: Promise<void> | undefined;
  return {
    config,
    nc,
    actor,
    log,
    httpPort: http.port,
    stop: () =>
      (stopping ??= (async () => {
        clearInterval(heartbeat);
        api.unsubscribe();
        await http.close();
        frontEnd.close();
        actor.send({ type: 'stop' });
        await nc.drain().catch(() => undefined);
        await store.close();
        log.info('node stopped');
      })()),
  };
}

function createNodeActor(config: NodeConfig, store: Store, catalog: ReturnType<typeof catalogStore>, loaded: CatalogEntry[]) {
  const partition = partitionMachine.provide({ actors: partitionStore(store, config.syncWrites) });
  const queue = queueMachine.provide({
    actors: {
      partition,
      dropQueueData: fromPromise<void, { queue: string }>(({ input }) => catalog.dropQueueData(input.queue as QueueName)),
    },
  });
  const node = nodeMachine.provide({
    actors: { queue, loadCatalog: fromPromise<CatalogEntry[], void>(async () => loaded) },
  });
  return createActor(node, {
    systemId: `node:${config.nodeId}`,
    clock: config.clock,
    input: {
      nodeId: config.nodeId,
      limits: {
        windowMessages: config.windowMessages,
        windowBytes: config.windowBytes,
        maxInflight: config.maxInflight,
        timerWindow: TIMER_WINDOW,
      },
      tickMs: config.tickMs,
      retentionCheckMs: RETENTION_CHECK_MS,
      now: () => config.clock.now(),
    },
  });
}

/** Spawns the queue's actors unless they run already (queues loaded at start), and wraps them. */
function openQueue(actor: Actor<typeof nodeMachine>, config: NodeConfig, entry: CatalogEntry, log: Logger): QueueService {
  if (!actor.system.get(queueSystemId(entry.name))) actor.send({ type: 'queue.created', entry });
  const partitions = Array.from({ length: entry.attributes.partitions }, (_, n) => {
    const ref = actor.system.get(partitionSystemId(entry.name, n)) as ActorRefFrom<typeof partitionMachine> | undefined;
    if (!ref) throw new WharfError(ErrorCode.Internal, `partition ${n} of ${entry.name} did not start`);
    return new PartitionClient(ref, log.child({ component: 'partition', queue: entry.name, partition: n }));
  });
  return new QueueService({
    name: entry.name,
    incarnation: entry.incarnation,
    attributes: entry.attributes,
    partitions,
    clock: config.clock,
    maxWaiters: config.maxWaiters,
    newId: randomUUID,
  });
}

async function closeQueue(actor: Actor<typeof nodeMachine>, entry: CatalogEntry): Promise<void> {
  const ref = actor.system.get(queueSystemId(entry.name)) as ActorRefFrom<typeof queueMachine> | undefined;
  actor.send({ type: 'queue.deleted', name: entry.name });
  if (ref) await toPromise(ref).catch(() => undefined);
}

/** Subscribes the front-end to every API subject; each request gets exactly one reply. */
function serveApi(nc: NatsConnection, subject: string, frontEnd: FrontEnd, metrics: NodeMetrics, log: Logger): Subscription {
  return nc.subscribe(subject, {
    queue: API_QUEUE_GROUP,
    callback: (err, msg) => {
      if (err) {
        log.warn({ err }, 'api subscription error');
        return;
      }
      if (!msg.reply) return; // a publish without a reply subject: nobody to answer
      const action = actionOf(msg.subject);
      const known = isAction(action) ? action : 'unknown';
      const done = metrics.duration.startTimer({ action: known });
      let reply: Promise<unknown>;
      let queue = '';
      try {
        if (!isAction(action)) throw new WharfError(ErrorCode.UnknownAction, `unknown action: ${String(action).slice(0, 64)}`);
        const request = decodeRequest(action, msg.data);
        queue = 'queue' in request ? request.queue : '';
        reply = frontEnd.handle(action, request);
      } catch (e) {
        reply = Promise.reject(e);
      }
      reply.then(
        (body) => {
          msg.respond(encodeOk(body));
          done();
          metrics.requests.inc({ action: known, code: 'ok' });
          countMessages(metrics, known, queue, body);
        },
        (e: unknown) => {
          const error = toWharfError(e);
          if (error.code === ErrorCode.Internal) log.error({ err: e, action }, 'request failed');
          msg.respond(encodeError(error.toWire()));
          done();
          metrics.requests.inc({ action: known, code: error.code });
        },
      );
    },
  });
}

/** Message counters, once per request from its reply. */
function countMessages(metrics: NodeMetrics, action: Action | 'unknown', queue: string, body: unknown): void {
  const reply = body as { successful?: unknown[]; messages?: unknown[] };
  switch (action) {
    case 'SendMessage':
      metrics.sent.inc({ queue });
      break;
    case 'SendMessageBatch':
      metrics.sent.inc({ queue }, reply.successful?.length ?? 0);
      break;
    case 'ReceiveMessage':
      if (reply.messages?.length) metrics.received.inc({ queue }, reply.messages.length);
      break;
    case 'DeleteMessage':
      metrics.deleted.inc({ queue });
      break;
    case 'DeleteMessageBatch':
      metrics.deleted.inc({ queue }, reply.successful?.length ?? 0);
      break;
    default:
      break;
  }
}
