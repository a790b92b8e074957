/**
 * The composition root of a broker node: configuration, logger, RocksDB store, NATS connection, the
 * metadata service, the actor system (node → queues → replicas → partition when primary) with its
 * effects provided, the front-end serving the client API, the internal services other nodes call
 * (forwarded partition requests, log fetches), heartbeats, and the cluster manager (active or
 * standby).
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { connect, headers, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { createActor, type Actor, type ActorRefFrom } from 'xstate';
import { nodeMachine } from '../../actors/node/node.machine.ts';
import { queueMachine, replicaSystemId } from '../../actors/queue/queue.machine.ts';
import { replicaRole, type replicaMachine } from '../../actors/replica/replica.machine.ts';
import { epochAt } from '../../actors/replica/log.ts';
import { ErrorCode, toWharfError, WharfError } from '../errors.ts';
import { Metadata } from '../meta/metadata.ts';
import { asSeenByStore, storeIdentity } from '../meta/store-identity.ts';
import type { Assignment, Heartbeat, NodeRecord, PartitionLoad, QueueMeta, ReplicaReport } from '../meta/records.ts';
import { partitionStates } from '../meta/layout.ts';
import { CatchUpLimit } from '../replication/catch-up-limit.ts';
import { ANONYMOUS, type QueueName } from '../names.ts';
import { decodeRequest, encode, encodeError, encodeOk, encodeReply, isAction } from '../protocol/codec.ts';
import { primaryShare, RateLimits } from './rate-limits.ts';
import { FairScheduler } from './fair-scheduler.ts';
import { decodePartitionFrame, decodePeekFrame, decodeReplicaRequest } from '../protocol/internal.ts';
import { ROUTE_HEADER } from '../protocol/route.ts';
import { actionOf, API_QUEUE_GROUP, principalOf, subjects, type Subjects } from '../protocol/subjects.ts';
import { PrincipalStore } from '../meta/principal-store.ts';
import { checkedAccess, OPEN_ACCESS } from '../security/access.ts';
import { replicaActor, replicaKey, type PrimaryLogs } from '../replication/replica-effects.ts';
import { ReplicaStore } from '../replication/replica-store.ts';
import { Releases } from '../replication/releases.ts';
import { keys } from '../storage/keys.ts';
import { openRocksStore, type Store } from '../storage/store.ts';
import { natsAuthOptions } from '../security/nats-auth.ts';
import { resolveConfig, type NodeConfig, type NodeOptions } from './config.ts';
import { FrontEnd } from './front-end.ts';
import { startManager, type ManagerHandle } from '../manager/manager.ts';
import { hostsClusterRecord, hostsReporter, primaryClusterRecord, startClusterReports } from '../deployment/cluster-report.ts';
import type { ClusterRecord } from '../meta/deployment-records.ts';
import { DeploymentMetadata } from '../meta/deployment-metadata.ts';
import { handOverPrimaries } from '../manager/stop-handover.ts';
import { HostClock } from '../hosts/host-clock.ts';
import { startKeeper } from '../hosts/keeper.ts';
import { checkClusterModel } from '../hosts/model.ts';
import { NodeInspector } from '../inspect/node-inspector.ts';
import { findMessage } from '../inspect/whereabouts.ts';
import type { InspectionEvent } from 'xstate';
import { createLogger, type Logger } from './log.ts';
import { PartitionClient } from './partition-client.ts';
import { PartitionRouter, servePartitionRequest, type RouterDeps } from './partition-router.ts';
import { QueueService } from './queue-service.ts';
import { startDeadLetterMover } from './dead-letters.ts';
import { MoveTasks } from './move-tasks.ts';
import { MoveTaskStore } from '../meta/move-task-store.ts';
import { ConsumerBeats } from './consumer-beats.ts';
import { boundKey, PrincipalBounds, type Slot } from './principal-bounds.ts';
import { peekMessages, servePeek, type PeekDeps } from './peek-service.ts';
import { GroupStore } from '../meta/groups.ts';
import { readyWatches } from './ready-watch.ts';
import { serveHttp } from './http.ts';
import { startSqsEndpoint } from '../sqs/endpoint.ts';
import { NodeMetrics } from './metrics.ts';
import { oldestMessageAgeMs } from './oldest-message.ts';
import type { Action } from '../protocol/messages.ts';
import { decodeNumber, encodeNumber } from '../storage/records.ts';
import { drainAndClose } from '../nats/shutdown.ts';
import { LAYOUT_VERSION } from '../storage/keys.ts';
import { PeerWatch } from './peer-watch.ts';
import { parseHeartbeat } from '../manager/heartbeat.ts';

export interface WharfNode {
  readonly config: NodeConfig;
  readonly nc: NatsConnection;
  readonly actor: Actor<typeof nodeMachine>;
  readonly metadata: Metadata;
  readonly log: Logger;
  /** The port of the /metrics, /healthz and /readyz endpoint. */
  readonly httpPort: number;
  /** Port of the SQS-compatible endpoint, when it is on. */
  readonly sqsPort?: number;
  /** This node's replica reports, as its heartbeat carries them. */
  reports(): ReplicaReport[];
  /** Stops serving, lets writes under way finish, closes NATS and the store. */
  stop(): Promise<void>;
}

/** How often a partition checks the head of its log for messages past retention. */
const RETENTION_CHECK_MS = 1000;
const TIMER_WINDOW = 65_536;
/** Longest a follower's fetch waits at the primary for new entries. */
const FETCH_WAIT_MS = 250;
/** A replica within this much of the primary's log end (in time) is in sync. */
const ISR_LAG_MS = 5000;
const CREATE_WAIT_MS = 15_000;
/** Longest a graceful stop waits for its primaries to be handed over (a heartbeat, a fence, an election). */
const HANDOVER_WAIT_MS = 5000;

type ReplicaRef = ActorRefFrom<typeof replicaMachine>;

export async function startNode(options: NodeOptions = {}): Promise<WharfNode> {
  return startResolvedNode(resolveConfig(options));
}

/**
 * Starts a node from a configuration already resolved (main.ts: configFromEnv reports every problem
 * at once). Resolving it again would lose what only options carry, such as the NATS secrets' paths.
 */
export async function startResolvedNode(config: NodeConfig): Promise<WharfNode> {
  const log = createLogger(config.logLevel, { nodeId: config.nodeId, cluster: config.cluster });
  mkdirSync(config.dataDir, { recursive: true });
  const store = await openRocksStore(config.dataDir, {
    // Partitions whose writes failed reload by themselves once the store takes writes again.
    onReopen: (e) =>
      e.phase === 'reopening'
        ? log.error({ cause: e.cause }, 'a write failed and the store refuses writes until reopened: reopening it')
        : log.info({ attempts: e.attempts }, 'store reopened: it takes writes again'),
  });
  let nc: NatsConnection;
  let metadata: Metadata;
  try {
    await checkLayout(store);
    nc = await connect({
      servers: config.natsUrl.split(','),
      name: `wharf-${config.nodeId}`,
      maxReconnectAttempts: -1,
      pingInterval: 2000,
      ...natsAuthOptions(config.natsAuth),
    });
    metadata = await Metadata.open(nc, config.cluster, {
      ...(config.metaReplicas > 0 ? { replicas: config.metaReplicas } : {}),
      log: log.child({ component: 'metadata' }),
      shareChanges: true,
    });
  } catch (err) {
    await store.close();
    throw err instanceof WharfError
      ? err
      : new WharfError(ErrorCode.Unavailable, `cannot connect to NATS at ${config.natsUrl}: ${(err as Error).message}`, { cause: err });
  }
  try {
    checkClusterModel(config.cluster, metadata.nodes().map((n) => n.value), config.nodeId, config.clusterModel);
  } catch (err) {
    await metadata.close().catch(() => undefined);
    await nc.close();
    await store.close();
    throw err;
  }
  // Checked against the node's last registration: an older copy of its store gets a new identity.
  const identity = await storeIdentity(store, metadata.node(config.nodeId)?.value);
  const storeId = identity.id;
  const subs = subjects(config.cluster);
  const self = config.nodeId as string;
  /** Fire-and-forget notices: a closed connection (the node is stopping) drops them. */
  const publish = (subject: string, data: Uint8Array | string) => {
    if (!nc.isClosed()) nc.publish(subject, data);
  };
  const boot = randomUUID();

  await dropUnassigned(store, metadata, self, log);

  const primaries: PrimaryLogs = new Map();
  const releases = new Releases(primaries, () => performance.now());
  // Independent hosts order messages by hybrid logical clock (docs/models.md#ordering).
  const hostClock = config.clusterModel === 'hosts' ? new HostClock(() => config.clock.now(), log.child({ component: 'hlc' })) : undefined;
  await hostClock?.restore(store);
  const replicaOf = (queue: string, partition: number): ReplicaRef | undefined => {
    const incarnation = metadata.queue(queue)?.value.incarnation;
    return incarnation === undefined ? undefined : (actor.system.get(replicaSystemId(queue, incarnation, partition)) as ReplicaRef | undefined);
  };
  // The metrics are made further down, once what they read exists; a start before that goes uncounted.
  let countServing: (queue: string, outcome: 'waited' | 'released' | 'ended') => void = () => undefined;
  const replica = replicaActor({
    nc,
    subjects: subs,
    self,
    store,
    syncWrites: config.syncWrites,
    primaries,
    releases,
    mode: (queue) => metadata.queue(queue)?.value.attributes.replication ?? 'sync',
    superseded: (queue, partition, epoch) => replicaOf(queue, partition)?.send({ type: 'superseded', epoch }),
    leaseMs: config.leaseMs,
    maxWaitMs: FETCH_WAIT_MS,
    promoteTimeoutMs: Math.max(config.failureTimeoutMs * 2, 5000),
    commitTimeoutMs: Math.max(config.failureTimeoutMs * 3, 10_000),
    retainEntries: config.logRetainEntries,
    catchUp: new CatchUpLimit(config.catchUpBytesPerSecond, () => performance.now()),
    log: log.child({ component: 'replica' }),
    now: () => performance.now(),
    serving: (queue, outcome) => countServing(queue, outcome),
    ...(hostClock === undefined ? {} : { fetched: (entries) => hostClock.observeEntries(entries) }),
  });
  const beats = new ConsumerBeats(() => config.clock.now());
  beats.listen(nc, subs.allLeaseHeartbeats);
  const inspector = new NodeInspector({ nc, subs, node: config.nodeId, log: log.child({ component: 'inspect' }) });
  const actor = createActor(nodeMachine.provide({ actors: { queue: queueMachine.provide({ actors: { replica } }) } }), {
    systemId: `node:${config.nodeId}`,
    inspect: inspector.observe,
    clock: config.clock,
    input: {
      nodeId: self,
      limits: {
        windowMessages: config.windowMessages,
        windowBytes: config.windowBytes,
        maxInflight: config.maxInflight,
        timerWindow: TIMER_WINDOW,
      },
      tickMs: config.tickMs,
      retentionCheckMs: RETENTION_CHECK_MS,
      retryMs: Math.max(config.tickMs * 10, 500),
      now: () => config.clock.now(),
      beats: { of: beats.of, timeoutMs: config.leaseHeartbeatTimeoutMs },
    },
  });
  actor.start();

  // ---- partition clients, routers, services -------------------------------------------------------
  const clients = new Map<string, PartitionClient>();
  // One scheduler for every partition served here: they share this thread (fair-scheduler.ts).
  const scheduler = new FairScheduler({ quantum: config.schedulerQuantum, writeQuanta: config.schedulerWriteQuanta, maxPending: config.maxPending });
  const localClient = (queue: string, partition: number): PartitionClient | undefined => {
    const ref = replicaOf(queue, partition);
    const k = replicaKey(queue, partition);
    const existing = clients.get(k);
    if (existing && existing.replica === ref) return existing;
    existing?.close();
    clients.delete(k);
    if (!ref) return undefined;
    const client = new PartitionClient(
      ref,
      log.child({ component: 'partition', queue, partition }),
      store,
      () => oldestMessageAgeMs(store, queue as QueueName, partition, config.clock.now()),
      () => {
        const meta = metadata.queue(queue)?.value;
        return meta !== undefined && partitionStates(meta)[partition] !== 'active';
      },
      scheduler,
      hostClock === undefined ? undefined : () => hostClock.stamp(),
    );
    // Tell every front-end with waiting receivers that this partition has messages.
    client.onReady(() => publish(subs.ready(queue), encode({ partition })));
    clients.set(k, client);
    return client;
  };
  const routerDeps: RouterDeps = {
    nc,
    subjects: subs,
    metadata,
    self,
    local: localClient,
    failoverWaitMs: Math.max(config.failureTimeoutMs * 4, 10_000),
    requestTimeoutMs: 15_000,
    // Requests arrive only once the API is served, after the peer watch below exists.
    cutOff: () => cutOff(),
  };
  const services = new Map<string, QueueService>();
  const serviceOf = (meta: QueueMeta): QueueService => {
    const existing = services.get(meta.name);
    if (existing && existing.incarnation === meta.incarnation) return existing;
    existing?.close();
    const service = new QueueService({
      name: meta.name,
      incarnation: meta.incarnation,
      attributes: meta.attributes,
      layout: () => {
        const current = metadata.queue(meta.name)?.value;
        return current !== undefined && current.incarnation === meta.incarnation ? current : meta;
      },
      router: (n) => new PartitionRouter(routerDeps, meta.name, n),
      onReady: (listener) => {
        if (nc.isClosed()) return () => undefined;
        const sub = nc.subscribe(subs.ready(meta.name), { callback: () => listener() });
        return () => sub.unsubscribe();
      },
      clock: config.clock,
      maxWaiters: config.maxWaiters,
      newId: randomUUID,
    });
    services.set(meta.name, service);
    return service;
  };

  // ---- metadata → actors ------------------------------------------------------------------------------
  const involves = (a: Assignment) => a.replicas.includes(self) || a.learners.includes(self);
  const routeAssignment = (a: Assignment) => {
    const queue = metadata.queue(a.queue)?.value;
    if (!queue || queue.incarnation !== a.incarnation) return;
    if (involves(a) || replicaOf(a.queue, a.partition)) actor.send({ type: 'assignment', queue, assignment: asSeenByStore(a, self, storeId) });
  };
  const unsubscribe = [
    metadata.onAssignment((_key, entry) => {
      if (entry) routeAssignment(entry.value);
    }),
    metadata.onQueue((name, entry) => {
      if (!entry) {
        actor.send({ type: 'queue.deleted', name });
        services.get(name)?.close();
        services.delete(name);
        return;
      }
      actor.send({ type: 'queue.updated', queue: entry.value });
      services.get(name)?.configure(entry.value.attributes);
      for (const a of metadata.assignments(name)) routeAssignment(a.value);
    }),
  ];
  for (const a of metadata.assignments()) routeAssignment(a.value);

  // ---- node registration and heartbeats ---------------------------------------------------------------
  const previous = metadata.node(self)?.value;
  const record: NodeRecord = {
    id: self,
    boot,
    // A restart does not undo a drain; a removed node that starts again joins anew.
    state: previous?.state === 'draining' ? 'draining' : 'active',
    registeredAt: config.clock.now(),
    store: storeId,
    storeGeneration: identity.generation,
    model: config.clusterModel,
  };
  await metadata.putNode(record);

  // Only a queue that scales reports its load: the heartbeat of every other stays as it was.
  const loadOf = (role: string, queue: string, partition: number): { load?: PartitionLoad } => {
    if (role !== 'primary' || metadata.queue(queue)?.value.attributes.autoScaling === undefined) return {};
    const load = localClient(queue, partition)?.load();
    return load === undefined ? {} : { load };
  };
  const reports = (): ReplicaReport[] => {
    const out: ReplicaReport[] = [];
    for (const q of Object.values(actor.getSnapshot().context.queues)) {
      for (const r of Object.values(q.getSnapshot().context.replicas)) {
        const snapshot = r.getSnapshot();
        if (snapshot.status !== 'active') continue;
        const c = snapshot.context;
        const primary = primaries.get(replicaKey(c.queue, c.partition));
        const role = replicaRole(snapshot);
        out.push({
          queue: c.queue,
          partition: c.partition,
          role,
          epoch: c.meta.epoch,
          lastEpoch: epochAt((primary?.replicaMeta ?? c.meta).epochs, primary?.logEnd ?? c.meta.logEnd),
          logEnd: primary?.logEnd ?? c.meta.logEnd,
          commitIndex: primary?.commit ?? c.commit,
          ...(role === 'primary' && primary ? { isr: primary.inSync(ISR_LAG_MS) } : {}),
          ...(c.amnesiac ? { witness: { lastEpoch: c.meta.markEpoch, logEnd: c.catchUpTo } } : {}),
          ...loadOf(role, c.queue, c.partition),
        });
      }
    }
    return out;
  };
  const beat = () => {
    const hb: Heartbeat = { node: self, boot, at: Date.now(), state: metadata.node(self)?.value.state ?? record.state, store: storeId, replicas: reports() };
    publish(subs.heartbeat(self), JSON.stringify(hb));
  };
  beat();
  const heartbeat = setInterval(beat, config.heartbeatMs);
  heartbeat.unref();

  // ---- services on NATS ------------------------------------------------------------------------------
  // Dead letters: the mover of marked messages, and the message move tasks (redrives).
  const moveTaskStore = await MoveTaskStore.open(nc, config.cluster, config.metaReplicas > 0 ? config.metaReplicas : nc.info?.cluster ? 3 : 1).catch(
    async (err: unknown) => {
      await nc.close();
      await store.close();
      throw err;
    },
  );
  const moveTasks = new MoveTasks({ tasks: moveTaskStore, metadata, self, boot, service: serviceOf, now: () => config.clock.now(), log: log.child({ component: 'move-tasks' }) });
  const deadLetterMover = startDeadLetterMover({
    store,
    metadata,
    self,
    service: serviceOf,
    pending: (queue, partition) => localClient(queue, partition)?.pendingDeadLetters() ?? 0,
    now: () => config.clock.now(),
    log: log.child({ component: 'dead-letters' }),
    intervalMs: Math.max(config.tickMs, 20),
  });
  const peekDeps: PeekDeps = {
    nc,
    subjects: subs,
    metadata,
    store,
    self,
    isPrimary: (q, p) => localClient(q, p)?.serving ?? false,
    now: () => config.clock.now(),
    requestTimeoutMs: 15_000,
  };
  const metaReplicas = config.metaReplicas > 0 ? config.metaReplicas : nc.info?.cluster ? 3 : 1;
  const principals = config.auth ? await PrincipalStore.open(nc, config.cluster, metaReplicas, log.child({ component: 'principals' })) : undefined;
  const groups = new GroupStore(nc, config.cluster, metaReplicas, log.child({ component: 'groups' }));
  const frontEnd = new FrontEnd({
    metadata,
    clock: config.clock,
    service: serviceOf,
    createWaitMs: CREATE_WAIT_MS,
    clusterModel: config.clusterModel,
    moveTasks,
    ...(config.unknownQueueDlq === undefined ? {} : { unknownQueueDlq: config.unknownQueueDlq }),
    peek: (meta, request) => peekMessages(peekDeps, meta, request),
    groups,
    watchReady: readyWatches(nc, subs, config.maxWaiters),
    access: principals === undefined ? OPEN_ACCESS : checkedAccess(principals, config.authAdmins, log),
    ...(principals === undefined ? {} : { principals }),
    limits: new RateLimits({ now: () => config.clock.now(), share: primaryShare(metadata, self) }),
  });
  // Independent hosts need no peer to serve: only a primary-secondary cluster can cut a node off.
  let managerActive = () => false;
  const peerWatch =
    config.clusterModel === 'hosts'
      ? undefined
      : new PeerWatch({
          self,
          failureTimeoutMs: config.failureTimeoutMs,
          now: () => performance.now(),
          peers: () => metadata.nodes().filter((n) => n.value.id !== self && n.value.state !== 'removed').length,
          managerActive: () => managerActive(),
        });
  const cutOff = () => peerWatch?.cutOff();
  // Checked at every heartbeat for the log: an operator sees when a node was cut off and for how long.
  let wasCutOff = false;
  const cutOffCheck = setInterval(() => {
    const why = cutOff();
    if ((why !== undefined) === wasCutOff) return;
    wasCutOff = why !== undefined;
    if (why !== undefined) log.warn({ reason: why }, 'cut off from the cluster: answering clients node_isolated');
    else log.info('hears its cluster again');
  }, config.heartbeatMs);
  cutOffCheck.unref();
  const metrics = new NodeMetrics(() =>
    metadata.queues().map((q) => {
      const s = serviceOf(q.value);
      return { name: s.name, counts: () => s.knownCounts(), serving: () => s.servingPartitions() };
    }),
    { self, replicas: reports, store, metadata, nc, subs, now: () => config.clock.now(), cutOff: () => cutOff() !== undefined },
  );
  countServing = (queue, outcome) => metrics.leaseWaits.inc({ queue, outcome });
  const apiLog = log.child({ component: 'front-end' });
  // Any node answers the shared subjects; a client that knows a partition's primary asks its node directly.
  const bounds = new PrincipalBounds({
    maxPending: config.maxPendingPerPrincipal,
    maxWaiters: config.maxWaitersPerPrincipal,
    maxPendingBytes: config.maxPendingBytesPerPrincipal,
  });
  const enter = (principal: string, reply: string, bytes: number) => bounds.enter(boundKey(config.auth, principal, reply), bytes);
  const api = [
    serveApi(nc, subs.allApi, API_QUEUE_GROUP, frontEnd, enter, cutOff, metrics, apiLog),
    serveApi(nc, subs.allNodeApi(self), undefined, frontEnd, enter, cutOff, metrics, apiLog),
  ];
  const internal = serveInternal(nc, subs, self, primaries, releases, localClient, log.child({ component: 'internal' }));
  if (peerWatch !== undefined) {
    internal.push(
      nc.subscribe(subs.allHeartbeats, {
        callback: (err, msg) => {
          const hb = err ? undefined : parseHeartbeat(msg.data);
          if (hb !== undefined) peerWatch.heard(hb.node);
        },
      }),
    );
  }
  moveTasks.startWorker();
  internal.push(
    nc.subscribe(subs.peek(self), {
      callback: (err, msg) => {
        if (err || !msg.reply) return;
        // Decoding inside the promise: a malformed frame is answered with its error, not dropped.
        Promise.resolve(msg.data).then((data) => servePeek(peekDeps, decodePeekFrame(data))).then(
          (bytes) => msg.respond(bytes),
          (e: unknown) => msg.respond(encodeError(toWharfError(e).toWire())),
        );
      },
    }),
  );
  inspector.start({
    whereabouts: (query) =>
      findMessage({ nc, subs, self, metadata, store, isPrimary: (q, p) => localClient(q, p)?.serving ?? false, now: () => config.clock.now() }, query),
    counters: async () => ({ boot, queues: await metrics.messageCounters() }),
  });

  let managerStop: (() => Promise<void>) | undefined;
  if (config.clusterModel === 'hosts') {
    // No manager: every host keeps its shards (src/hosts/keeper.ts).
    const keeper = startKeeper({
      nc,
      metadata,
      cluster: config.cluster,
      nodeId: config.nodeId,
      log: log.child({ component: 'keeper' }),
      options: { failureTimeoutMs: config.failureTimeoutMs },
      inspect: inspector.observe,
    });
    // In a deployment of several clusters, the first live host in the cluster's rendezvous order reports its health.
    const reports =
      config.deployment === undefined
        ? undefined
        : await reportToDeployment(nc, config, log, () => {
            const view = keeper.view();
            if (hostsReporter(config.cluster, view) !== config.nodeId) return undefined;
            return hostsClusterRecord(config.cluster, view, config.nodeId, metadata.queues().length, config.clock.now());
          });
    managerStop = async () => {
      await reports?.();
      await keeper.stop();
    };
  } else if (config.manager) {
    try {
      const manager = await startClusterManager(nc, metadata, config, log, inspector.observe);
      managerActive = () => manager.isActive();
      // In a deployment of several clusters, the active manager reports this cluster's health.
      const reports =
        config.deployment === undefined
          ? undefined
          : await reportToDeployment(nc, config, log, () =>
              manager.isActive() ? primaryClusterRecord(config.cluster, manager.status(), metadata.queues().length, config.clock.now()) : undefined,
            );
      managerStop = async () => {
        await reports?.();
        await manager.stop();
      };
    } catch (err) {
      log.error({ err }, 'the cluster manager did not start');
    }
  }

  // Readiness follows the connection: while the client reconnects, the node serves nobody.
  let disconnected: { server: string; at: number } | undefined;
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') {
        disconnected = { server: s.server, at: performance.now() };
        log.warn({ server: s.server }, 'NATS disconnected; reconnecting');
      } else if (s.type === 'reconnect') {
        const downMs = disconnected === undefined ? undefined : Math.round(performance.now() - disconnected.at);
        disconnected = undefined;
        peerWatch?.reset();
        log.info({ server: s.server, downMs }, 'NATS reconnected');
      }
    }
  })().catch((err: unknown) => log.debug({ err }, 'NATS status listener ended'));
  const http = await serveHttp(config.httpHost, config.httpPort, metrics, () => {
    if (nc.isClosed()) return { ready: false, reason: 'the NATS connection is closed' };
    if (disconnected !== undefined) return { ready: false, reason: `disconnected from NATS (${disconnected.server}); reconnecting` };
    return { ready: true };
  }).catch(async (err: unknown) => {
    for (const s of [...api, ...internal]) s.unsubscribe();
    await nc.close();
    await store.close();
    throw new WharfError(ErrorCode.Unavailable, `cannot listen on ${config.httpHost}:${config.httpPort}: ${(err as Error).message}`, { cause: err });
  });

  const sqsPort = config.sqsPort;
  const sqs = sqsPort === undefined ? undefined : await startSqsEndpoint({ ...config, sqsPort }, frontEnd, metadata, log).catch(async (err: unknown) => {
    for (const s of [...api, ...internal]) s.unsubscribe();
    await http.close();
    await nc.close();
    await store.close();
    throw err;
  });

  log.info(
    { natsUrl: config.natsUrl, dataDir: config.dataDir, queues: metadata.queues().length, syncWrites: config.syncWrites, httpPort: http.port, sqsPort: sqs?.port },
    'node ready',
  );

  let stopping: Promise<void> | undefined;
  return {
    config,
    nc,
    actor,
    metadata,
    log,
    httpPort: http.port,
    ...(sqs === undefined ? {} : { sqsPort: sqs.port }),
    reports,
    stop: () =>
      (stopping ??= (async () => {
        // Before anything stops: the election needs this node's manager (if active) and heartbeats.
        // A hosts cluster has no manager to ask: its shards are taken over after the failure timeout.
        if (config.clusterModel === 'primary') {
          const moved = await handOverPrimaries({
            nc,
            subjects: subs,
            metadata,
            self,
            log: log.child({ component: 'handover' }),
            timeoutMs: Math.max(HANDOVER_WAIT_MS, 4 * config.heartbeatMs),
          });
          // The new primaries ask this node to release its leases once their first entry commits:
          // answered, they serve at once; unanswered, they wait a lease out.
          const unasked = await releases.whenTold(moved.map((m) => replicaKey(m.queue, m.partition)), config.leaseMs);
          if (unasked.length > 0) log.info({ partitions: unasked }, 'stopping before these successors asked for the lease: they wait it out');
        }
        clearInterval(heartbeat);
        clearInterval(cutOffCheck);
        await moveTasks.stop().catch(() => undefined);
        await deadLetterMover.stop().catch(() => undefined);
        await managerStop?.().catch(() => undefined);
        await inspector.stop();
        beats.close();
        for (const s of [...api, ...internal]) s.unsubscribe();
        for (const u of unsubscribe) u();
        await sqs?.close();
        await http.close();
        metrics.close();
        for (const s of services.values()) s.close();
        for (const log of primaries.values()) log.close('the node is stopping');
        await Promise.all([...primaries.values()].map((l) => l.settled()));
        actor.send({ type: 'stop' });
        principals?.close();
        await metadata.close().catch(() => undefined);
        await drainAndClose(nc);
        await store.close();
        log.info('node stopped');
      })()),
  };
}

/** The layout version is written into a new store and checked in an existing one. */
async function checkLayout(store: Store): Promise<void> {
  const [layout] = await store.getMany([keys.layout]);
  if (layout === undefined) {
    await store.write([{ type: 'put', key: keys.layout, value: encodeNumber(LAYOUT_VERSION) }], true);
  } else if (decodeNumber(layout) !== LAYOUT_VERSION) {
    throw new WharfError(
      ErrorCode.StorageFailure,
      `the store has key layout ${decodeNumber(layout)}; this Wharf reads layout ${LAYOUT_VERSION}`,
    );
  }
}

/** Replicas on disk that the metadata no longer assigns here (a deleted queue, a moved replica) go. */
async function dropUnassigned(store: Store, metadata: Metadata, self: string, log: Logger): Promise<void> {
  for (const key of await store.scanKeys(keys.allReplicas, Number.MAX_SAFE_INTEGER)) {
    const { queue, partition } = keys.replicaOf(key);
    const a = metadata.assignment(queue, partition)?.value;
    if (a && (a.replicas.includes(self) || a.learners.includes(self))) continue;
    log.info({ queue, partition }, 'dropping the data of a replica no longer assigned here');
    await new ReplicaStore(store, queue as QueueName, partition).drop();
  }
}

/** The cluster manager runs on every node; one is active (see src/manager). */
async function startClusterManager(
  nc: NatsConnection,
  metadata: Metadata,
  config: NodeConfig,
  log: Logger,
  inspect: (event: InspectionEvent) => void,
): Promise<ManagerHandle> {
  const manager = await startManager({
    inspect,
    nc,
    metadata,
    cluster: config.cluster,
    nodeId: config.nodeId,
    log: log.child({ component: 'manager' }),
    options: {
      failureTimeoutMs: config.failureTimeoutMs,
      heartbeatMs: config.heartbeatMs,
      leaseTimeoutMs: config.managerLeaseMs,
      replaceAfterMs: config.replaceAfterMs,
      maxConcurrentMoves: config.maxMoves,
    },
  });
  return manager;
}

/** Opens the deployment's metadata and reports this cluster there while `record` gives one. Returns the stop function. */
async function reportToDeployment(nc: NatsConnection, config: NodeConfig, log: Logger, record: () => ClusterRecord | undefined): Promise<() => Promise<void>> {
  const deployment = await DeploymentMetadata.open(nc, config.deployment as string, { log, ...(config.metaReplicas > 0 ? { replicas: config.metaReplicas } : {}) });
  const stop = startClusterReports({ deployment, periodMs: config.clusterReportMs, log: log.child({ component: 'cluster-report' }), record });
  return async () => {
    stop();
    await deployment.close();
  };
}

/** Forwarded partition requests and followers' log fetches, addressed to this node. */
function serveInternal(
  nc: NatsConnection,
  subs: Subjects,
  self: string,
  primaries: PrimaryLogs,
  releases: Releases,
  local: (queue: string, partition: number) => PartitionClient | undefined,
  log: Logger,
): Subscription[] {
  const answer = (msg: Msg, work: () => Promise<Uint8Array>) => {
    work().then(
      (bytes) => msg.respond(bytes),
      (err: unknown) => {
        const error = toWharfError(err);
        if (error.code === ErrorCode.Internal) log.error({ err, subject: msg.subject }, 'internal request failed');
        msg.respond(encodeError(error.toWire()));
      },
    );
  };
  return [
    nc.subscribe(subs.partition(self), {
      callback: (err, msg) => {
        if (err || !msg.reply) return;
        answer(msg, async () => {
          const frame = decodePartitionFrame(msg.data);
          return servePartitionRequest(local(frame.queue, frame.partition), frame.op);
        });
      },
    }),
    nc.subscribe(subs.replica(self), {
      callback: (err, msg) => {
        if (err || !msg.reply) return;
        answer(msg, async () => {
          const request = decodeReplicaRequest(msg.data);
          if (request.kind === 'release') {
            const { queue, partition, incarnation, released } = request.frame;
            return encodeOk({ released: releases.released(replicaKey(queue, partition), incarnation, released) });
          }
          if (request.kind === 'silence') {
            const { queue, partition, incarnation, silentBelow } = request.frame;
            return encodeOk(releases.silentBelow(replicaKey(queue, partition), incarnation, silentBelow) ?? {});
          }
          const primary = primaries.get(replicaKey(request.frame.queue, request.frame.partition));
          // Not the primary (any more): the follower waits for the assignment to name one.
          if (!primary) return encodeOk({ kind: 'fenced', epoch: 0 });
          return encodeOk(request.kind === 'fetch' ? await primary.handleFetch(request.frame) : await primary.snapshotPage(request.frame));
        });
      },
    }),
  ];
}

/**
 * Subscribes the front-end to the API subjects `subject` matches; each request gets exactly one
 * reply. The answer to a request naming a queue carries where its partitions are served (route.ts).
 */
function serveApi(
  nc: NatsConnection,
  subject: string,
  queueGroup: string | undefined,
  frontEnd: FrontEnd,
  enter: (principal: string, reply: string, bytes: number) => Slot,
  cutOff: () => string | undefined,
  metrics: NodeMetrics,
  log: Logger,
): Subscription {
  return nc.subscribe(subject, {
    ...(queueGroup === undefined ? {} : { queue: queueGroup }),
    callback: (err, msg) => {
      if (err) {
        log.warn({ err }, 'api subscription error');
        return;
      }
      if (!msg.reply) return; // a publish without a reply subject: nobody to answer
      const action = actionOf(msg.subject);
      // The name NATS let this connection publish under (docs/security.md).
      const principal = principalOf(msg.subject) ?? ANONYMOUS;
      const known = isAction(action) ? action : 'unknown';
      const done = metrics.duration.startTimer({ action: known });
      let reply: Promise<unknown>;
      let queue = '';
      let slot: Slot | undefined;
      try {
        if (!isAction(action)) throw new WharfError(ErrorCode.UnknownAction, `unknown action: ${String(action).slice(0, 64)}`);
        // Before any work: whatever this node did would wait on a side of the split it cannot reach.
        const isolated = cutOff();
        if (isolated !== undefined) throw new WharfError(ErrorCode.NodeIsolated, isolated);
        // The principal's bounds before any work (principal-bounds.ts); the slot goes with the reply.
        slot = enter(principal, msg.reply, msg.data.byteLength);
        const request = decodeRequest(action, msg.data);
        queue = 'queue' in request ? request.queue : '';
        if (frontEnd.waits(action, request)) slot.wait();
        reply = frontEnd.handle(action, request, principal);
      } catch (e) {
        reply = Promise.reject(e);
      }
      const respond = (bytes: Uint8Array) => {
        const route = queue === '' ? undefined : frontEnd.routeOf(queue);
        if (route === undefined) return msg.respond(bytes);
        const h = headers();
        h.set(ROUTE_HEADER, route);
        return msg.respond(bytes, { headers: h });
      };
      reply.then(
        (body) => {
          slot?.release();
          respond(known === 'unknown' ? encodeOk(body) : encodeReply(known, body as never));
          done();
          metrics.requests.inc({ action: known, code: 'ok' });
          countMessages(metrics, known, queue, body);
        },
        (e: unknown) => {
          slot?.release();
          const error = toWharfError(e);
          if (error.code === ErrorCode.Internal) log.error({ err: e, action }, 'request failed');
          respond(encodeError(error.toWire()));
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
      if (reply.messages?.length) metrics.redelivered.inc({ queue }, (reply.messages as Array<{ receiveCount: number }>).filter((m) => m.receiveCount > 1).length);
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
