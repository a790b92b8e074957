/**
 * Node configuration: `NodeOptions` (all optional) → `resolveConfig(options)` → `NodeConfig` (all
 * required, frozen); `configFromEnv()` does both from WHARF_* variables and reports every problem
 * at once. This is the only module that reads the environment.
 *
 * | option            | env                      | default                 |
 * | ----------------- | ------------------------ | ----------------------- |
 * | nodeId            | WHARF_NODE_ID            | `node-<hostname>`       |
 * | cluster           | WHARF_CLUSTER            | `local`                 |
 * | clusterModel      | WHARF_CLUSTER_MODEL      | `primary`               |
 * | natsUrl           | WHARF_NATS_URL           | `nats://127.0.0.1:4222` |
 * | dataDir           | WHARF_DATA_DIR           | `./.wharf/data/<node>`  |
 * | syncWrites        | WHARF_SYNC_WRITES        | `true`                  |
 * | tickMs            | WHARF_TICK_MS            | `100`                   |
 * | maxInflight       | WHARF_MAX_INFLIGHT       | `120000`                |
 * | maxWaiters        | WHARF_MAX_WAITERS        | `10000`                 |
 * | schedulerQuantum  | WHARF_SCHEDULER_QUANTUM  | `256`                   |
 * | schedulerWriteQuanta | WHARF_SCHEDULER_WRITE_QUANTA | `16`            |
 * | maxPending        | WHARF_MAX_PENDING        | `20000`                 |
 * | maxPendingPerPrincipal | WHARF_MAX_PENDING_PER_PRINCIPAL | `1000`   |
 * | maxWaitersPerPrincipal | WHARF_MAX_WAITERS_PER_PRINCIPAL | `500`    |
 * | maxPendingBytesPerPrincipal | WHARF_MAX_PENDING_BYTES_PER_PRINCIPAL | `67108864` |
 * | windowMessages    | WHARF_WINDOW_MESSAGES    | `16384`                 |
 * | windowBytes       | WHARF_WINDOW_BYTES       | `33554432`              |
 * | logLevel          | WHARF_LOG_LEVEL          | `info`                  |
 * | heartbeatMs       | WHARF_HEARTBEAT_MS       | `500`                   |
 * | failureTimeoutMs  | WHARF_FAILURE_TIMEOUT_MS | `3000`                  |
 * | leaseMs           | WHARF_LEASE_MS           | `2000`                  |
 * | metaReplicas      | WHARF_META_REPLICAS      | `0`                     |
 * | manager           | WHARF_MANAGER            | `true`                  |
 * | httpPort          | WHARF_HTTP_PORT          | `9464`                  |
 * | httpHost          | WHARF_HTTP_HOST          | `127.0.0.1`             |
 * | logRetainEntries  | WHARF_LOG_RETAIN_ENTRIES | `4096`                  |
 * | managerLeaseMs    | WHARF_MANAGER_LEASE_MS   | `3000`                  |
 * | replaceAfterMs    | WHARF_REPLACE_AFTER_MS   | `30000`                 |
 * | maxMoves          | WHARF_MAX_MOVES          | `2`                     |
 * | catchUpBytesPerSecond | WHARF_CATCH_UP_BYTES_PER_SECOND | `16777216` |
 * | unknownQueueDlq   | WHARF_UNKNOWN_QUEUE_DLQ  | `none`                  |
 * | leaseHeartbeatTimeoutMs | WHARF_LEASE_HEARTBEAT_TIMEOUT_MS | `5000`  |
 * | natsCreds         | WHARF_NATS_CREDS         | `none`                  |
 * | natsUser          | WHARF_NATS_USER          | `none`                  |
 * | natsPasswordFile  | WHARF_NATS_PASSWORD_FILE | `none`                  |
 * | natsTokenFile     | WHARF_NATS_TOKEN_FILE    | `none`                  |
 * | natsTlsCa         | WHARF_NATS_TLS_CA        | `none`                  |
 * | natsTlsCert       | WHARF_NATS_TLS_CERT      | `none`                  |
 * | natsTlsKey        | WHARF_NATS_TLS_KEY       | `none`                  |
 * | deployment        | WHARF_DEPLOYMENT         | `none`                  |
 * | clusterReportMs   | WHARF_CLUSTER_REPORT_MS  | `1000`                  |
 * | clusterTimeoutMs  | WHARF_CLUSTER_TIMEOUT_MS | `10000`                 |
 * | moveAfterMs       | WHARF_MOVE_AFTER_MS      | `30000`                 |
 * | clockOffsetMs     | WHARF_CLOCK_OFFSET_MS    | `0`                     |
 * | auth              | WHARF_AUTH               | `false`                 |
 * | authAdmins        | WHARF_AUTH_ADMINS        | `admin`                 |
 * | sqsPort           | WHARF_SQS_PORT           | `none`                  |
 * | sqsHost           | WHARF_SQS_HOST           | `127.0.0.1`             |
 * | sqsCredentials    | WHARF_SQS_CREDENTIALS    | `none`                  |
 * | sqsAllowUnsigned  | WHARF_SQS_ALLOW_UNSIGNED | `false`                 |
 * | sqsRegion         | WHARF_SQS_REGION         | `us-east-1`             |
 * | sqsAccountId      | WHARF_SQS_ACCOUNT_ID     | `000000000000`          |
 */
import { hostname } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, WharfError } from '../errors.ts';
import { clusterName, isQueueName, nodeId, principalName, type ClusterName, type NodeId } from '../names.ts';
import { offsetClock, systemClock, type Clock } from '../clock.ts';
import { natsAuth, natsAuthProblems, type NatsAuth } from '../security/nats-auth.ts';
import { CLUSTER_MODELS, isClusterModel, type ClusterModel } from '../meta/records.ts';

export interface NodeOptions {
  /** This node's identity in the cluster. @default `node-<hostname>` */
  nodeId?: string;
  /** The Wharf deployment this node belongs to; prefixes every subject. @default 'local' */
  cluster?: string;
  /**
   * The cluster's back-end model (docs/models.md): `primary`, a primary and followers per partition
   * elected by the cluster manager; or `hosts`, independent hosts where each host writes its own
   * shard of every queue it stores and the surviving hosts take a dead host's shards over. Every
   * node of a cluster must name the same model. @default 'primary'
   */
  clusterModel?: string;
  /** NATS server(s) to connect to, comma separated. @default 'nats://127.0.0.1:4222' */
  natsUrl?: string;
  /** Directory of this node's RocksDB store. @default './.wharf/data/<nodeId>' */
  dataDir?: string;
  /** fsync the RocksDB WAL before acknowledging a write (group-committed). @default true */
  syncWrites?: boolean;
  /** Period of partition housekeeping (lease expiry, delays, long-poll timeouts), ms. @default 100 */
  tickMs?: number;
  /** Messages in flight per partition before ReceiveMessage answers `over_limit`. @default 120000 */
  maxInflight?: number;
  /** Long-poll receivers waiting per queue before ReceiveMessage answers `over_limit`. @default 10000 */
  maxWaiters?: number;
  /**
   * Messages each partition with pending requests hands to its actor per turn of the fair
   * scheduler (src/node/fair-scheduler.ts): a flooded partition writes about this many at a time
   * while the others get their turns. @default 256
   */
  schedulerQuantum?: number;
  /**
   * Quanta of requests a partition's actor may hold for its next write before the scheduler hands
   * it no more, while it is the node's only partition with pending requests (otherwise one
   * quantum, so that a quiet queue waits behind small writes): more keep a lone busy partition's
   * batches large (throughput). @default 16
   */
  schedulerWriteQuanta?: number;
  /** Messages of requests pending per partition on a node before new ones answer `over_limit`. @default 20000 */
  maxPending?: number;
  /**
   * API requests one principal (with authorization off: one connection) may have outstanding on a
   * node before new ones answer `over_limit` (src/node/principal-bounds.ts). @default 1000
   */
  maxPendingPerPrincipal?: number;
  /** Long polls (receives and stream reads that wait) one principal may have waiting on a node, among those. @default 500 */
  maxWaitersPerPrincipal?: number;
  /** Bytes of request frames one principal may have outstanding on a node (one request is always let in alone). @default 64 MiB */
  maxPendingBytesPerPrincipal?: number;
  /** Ready messages a partition keeps in memory ahead of delivery. @default 16384 */
  windowMessages?: number;
  /** Bytes of bodies a partition keeps in memory ahead of delivery. @default 32 MiB */
  windowBytes?: number;
  /** pino level. @default 'info' */
  logLevel?: string;
  /** Period of the node heartbeat, ms. @default 500 */
  heartbeatMs?: number;
  /** The cluster manager declares a node dead after this long without its heartbeat, ms. @default 3000 */
  failureTimeoutMs?: number;
  /**
   * A primary stops acknowledging and delivering this long after a majority last confirmed it, and a
   * new primary waits this long after its first commit before it serves, ms. @default 2000
   */
  leaseMs?: number;
  /** Replicas of the metadata KV buckets; 0 chooses 3 when NATS is clustered, else 1. @default 0 */
  metaReplicas?: number;
  /** Whether this node runs a cluster manager (active or standby). @default true */
  manager?: boolean;
  /** Port of the HTTP endpoint for /metrics, /healthz and /readyz; 0 picks a free one. @default 9464 */
  httpPort?: number;
  /** Address that endpoint listens on. @default '127.0.0.1' */
  httpHost?: string;
  /**
   * Replicated-log entries each replica keeps below its applied index; older ones are deleted, and a
   * replica further behind than that copies a snapshot of the partition instead. @default 4096
   */
  logRetainEntries?: number;
  /**
   * The cluster manager's lease: a standby takes it over once it has not been renewed for this
   * long; the holder renews it every third of it. @default 3000
   */
  managerLeaseMs?: number;
  /** How long a node must have been dead before the manager replaces its replicas on other nodes, ms. @default 30000 */
  replaceAfterMs?: number;
  /** Learners the manager lets catch up at once for balancing and draining (repairs are not limited). @default 2 */
  maxMoves?: number;
  /**
   * Bytes per second this node copies for replicas that catch up (learners' log fetches and
   * snapshot copies): joins, drains and rebalancing leave the rest of the disk and network to
   * client traffic. 0: no limit. @default 16777216 (16 MiB, twice what one partition was measured
   * to take in: a learner still overtakes a busy primary)
   */
  catchUpBytesPerSecond?: number;
  /**
   * The cluster's dead-letter queue: a send to a queue that does not exist keeps its messages there
   * (and still answers queue_not_found). A queue name; the queue must be created. @default none
   */
  unknownQueueDlq?: string | undefined;
  /**
   * The lease heartbeat: a consumer that received with `heartbeat: true` and has sent no beat for
   * this long loses its leases (its messages are receivable again), ms. The SDK beats every second.
   * @default 5000
   */
  leaseHeartbeatTimeoutMs?: number;
  /** NATS `.creds` file (JWT and NKey seed) the node authenticates with. */
  natsCreds?: string;
  /** NATS user the node authenticates as (with `natsPasswordFile`). */
  natsUser?: string;
  /** File holding the NATS user's password. */
  natsPasswordFile?: string;
  /** File holding a NATS authentication token. */
  natsTokenFile?: string;
  /** PEM file of the CA that signed the NATS servers' certificates; turns TLS on. */
  natsTlsCa?: string;
  /** PEM client certificate for NATS servers that verify clients (with `natsTlsKey`). */
  natsTlsCert?: string;
  /** PEM key of that certificate. */
  natsTlsKey?: string;
  /**
   * The deployment of several clusters this cluster belongs to (docs/clusters.md): its active
   * cluster manager reports the cluster's health there, and the external manager
   * (`npm run external-manager`) of that deployment maps queues to clusters. @default none
   */
  deployment?: string | undefined;
  /** How often the active cluster manager reports its cluster's health to the deployment, ms. @default 1000 */
  clusterReportMs?: number;
  /** External manager: a cluster whose report has not changed for this long is unreachable, ms. @default 10000 */
  clusterTimeoutMs?: number;
  /** External manager: queues move away from a cluster failing or unreachable this long without a break, ms. @default 30000 */
  moveAfterMs?: number;
  /**
   * Authorization (docs/security.md): every request is checked against its principal's policy in
   * the metadata service. Needs a NATS server configured so that each user can publish only API
   * subjects carrying its own name (`wharf security init` writes one). @default false
   */
  auth?: boolean;
  /** Principals that are admins whatever the stored policies say (a list, or comma separated). @default ['admin'] */
  authAdmins?: string | readonly string[];
  /** Port of the SQS-compatible endpoint (docs/sqs.md); 0 picks a free one. @default none: the endpoint is off */
  sqsPort?: number | undefined;
  /** Address the SQS endpoint listens on. @default '127.0.0.1' */
  sqsHost?: string;
  /** JSON file mapping SQS access key ids to their secrets and Wharf principals (src/sqs/credentials.ts). */
  sqsCredentials?: string | undefined;
  /** Serve SQS requests without a signature, as the principal `anonymous`. @default false */
  sqsAllowUnsigned?: boolean;
  /** The region queue ARNs name. @default 'us-east-1' */
  sqsRegion?: string;
  /** The account id queue URLs and ARNs name (12 digits). @default '000000000000' */
  sqsAccountId?: string;
  /**
   * Moves this node's wall clock by this many ms (negative: behind), to try out clock skew between
   * nodes (docs/models.md#ordering). Applied to `clock`. @default 0
   */
  clockOffsetMs?: number;
  /** Wall clock (tests inject one they can move). @default the system clock */
  clock?: Clock;
}


export interface NodeConfig {
  readonly nodeId: NodeId;
  readonly cluster: ClusterName;
  readonly clusterModel: ClusterModel;
  readonly natsUrl: string;
  readonly dataDir: string;
  readonly syncWrites: boolean;
  readonly tickMs: number;
  readonly maxInflight: number;
  readonly maxWaiters: number;
  readonly schedulerQuantum: number;
  readonly schedulerWriteQuanta: number;
  readonly maxPending: number;
  readonly maxPendingPerPrincipal: number;
  readonly maxWaitersPerPrincipal: number;
  readonly maxPendingBytesPerPrincipal: number;
  readonly windowMessages: number;
  readonly windowBytes: number;
  readonly logLevel: string;
  readonly heartbeatMs: number;
  readonly failureTimeoutMs: number;
  readonly leaseMs: number;
  readonly metaReplicas: number;
  readonly manager: boolean;
  readonly httpPort: number;
  readonly httpHost: string;
  readonly logRetainEntries: number;
  readonly managerLeaseMs: number;
  readonly replaceAfterMs: number;
  readonly maxMoves: number;
  readonly catchUpBytesPerSecond: number;
  readonly unknownQueueDlq: string | undefined;
  readonly leaseHeartbeatTimeoutMs: number;
  /** How the node authenticates to NATS and verifies it (src/security/nats-auth.ts). */
  readonly natsAuth: Readonly<NatsAuth>;
  readonly deployment: ClusterName | undefined;
  readonly clusterReportMs: number;
  readonly clusterTimeoutMs: number;
  readonly moveAfterMs: number;
  readonly auth: boolean;
  readonly authAdmins: readonly string[];
  /** The SQS endpoint's port; undefined when the endpoint is off. */
  readonly sqsPort: number | undefined;
  readonly sqsHost: string;
  readonly sqsCredentials: string | undefined;
  readonly sqsAllowUnsigned: boolean;
  readonly sqsRegion: string;
  readonly sqsAccountId: string;
  /** How far `clock` is moved from the system's (or the injected) clock, ms. */
  readonly clockOffsetMs: number;
  readonly clock: Clock;
}

/** Every environment variable Wharf reads, with the option it sets. */
export const ENV: Record<string, keyof NodeOptions> = {
  WHARF_NODE_ID: 'nodeId',
  WHARF_CLUSTER: 'cluster',
  WHARF_CLUSTER_MODEL: 'clusterModel',
  WHARF_NATS_URL: 'natsUrl',
  WHARF_DATA_DIR: 'dataDir',
  WHARF_SYNC_WRITES: 'syncWrites',
  WHARF_TICK_MS: 'tickMs',
  WHARF_MAX_INFLIGHT: 'maxInflight',
  WHARF_MAX_WAITERS: 'maxWaiters',
  WHARF_SCHEDULER_QUANTUM: 'schedulerQuantum',
  WHARF_SCHEDULER_WRITE_QUANTA: 'schedulerWriteQuanta',
  WHARF_MAX_PENDING: 'maxPending',
  WHARF_MAX_PENDING_PER_PRINCIPAL: 'maxPendingPerPrincipal',
  WHARF_MAX_WAITERS_PER_PRINCIPAL: 'maxWaitersPerPrincipal',
  WHARF_MAX_PENDING_BYTES_PER_PRINCIPAL: 'maxPendingBytesPerPrincipal',
  WHARF_WINDOW_MESSAGES: 'windowMessages',
  WHARF_WINDOW_BYTES: 'windowBytes',
  WHARF_LOG_LEVEL: 'logLevel',
  WHARF_HEARTBEAT_MS: 'heartbeatMs',
  WHARF_FAILURE_TIMEOUT_MS: 'failureTimeoutMs',
  WHARF_LEASE_MS: 'leaseMs',
  WHARF_META_REPLICAS: 'metaReplicas',
  WHARF_MANAGER: 'manager',
  WHARF_HTTP_PORT: 'httpPort',
  WHARF_HTTP_HOST: 'httpHost',
  WHARF_LOG_RETAIN_ENTRIES: 'logRetainEntries',
  WHARF_MANAGER_LEASE_MS: 'managerLeaseMs',
  WHARF_REPLACE_AFTER_MS: 'replaceAfterMs',
  WHARF_MAX_MOVES: 'maxMoves',
  WHARF_CATCH_UP_BYTES_PER_SECOND: 'catchUpBytesPerSecond',
  WHARF_UNKNOWN_QUEUE_DLQ: 'unknownQueueDlq',
  WHARF_LEASE_HEARTBEAT_TIMEOUT_MS: 'leaseHeartbeatTimeoutMs',
  WHARF_NATS_CREDS: 'natsCreds',
  WHARF_NATS_USER: 'natsUser',
  WHARF_NATS_PASSWORD_FILE: 'natsPasswordFile',
  WHARF_NATS_TOKEN_FILE: 'natsTokenFile',
  WHARF_NATS_TLS_CA: 'natsTlsCa',
  WHARF_NATS_TLS_CERT: 'natsTlsCert',
  WHARF_NATS_TLS_KEY: 'natsTlsKey',
  WHARF_DEPLOYMENT: 'deployment',
  WHARF_CLUSTER_REPORT_MS: 'clusterReportMs',
  WHARF_CLUSTER_TIMEOUT_MS: 'clusterTimeoutMs',
  WHARF_MOVE_AFTER_MS: 'moveAfterMs',
  WHARF_CLOCK_OFFSET_MS: 'clockOffsetMs',
  WHARF_AUTH: 'auth',
  WHARF_AUTH_ADMINS: 'authAdmins',
  WHARF_SQS_PORT: 'sqsPort',
  WHARF_SQS_HOST: 'sqsHost',
  WHARF_SQS_CREDENTIALS: 'sqsCredentials',
  WHARF_SQS_ALLOW_UNSIGNED: 'sqsAllowUnsigned',
  WHARF_SQS_REGION: 'sqsRegion',
  WHARF_SQS_ACCOUNT_ID: 'sqsAccountId',
};

const LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

/** Reads options from the environment; only WHARF_* variables listed in ENV count. */
export function optionsFromEnv(env: NodeJS.ProcessEnv = process.env): NodeOptions {
  const problems: string[] = [];
  const options = parseEnv(env, problems);
  if (problems.length > 0) throw new WharfError(ErrorCode.InvalidParameter, `invalid configuration: ${problems.join('; ')}`);
  return options;
}

/** The configuration from WHARF_* variables, with every problem (of parsing and of range) in one error. */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): NodeConfig {
  const problems: string[] = [];
  return resolveConfig(parseEnv(env, problems), problems);
}

function parseEnv(env: NodeJS.ProcessEnv, problems: string[]): NodeOptions {
  const out: Record<string, unknown> = {};
  for (const [name, key] of Object.entries(ENV)) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    if (key === 'syncWrites' || key === 'manager' || key === 'auth' || key === 'sqsAllowUnsigned') {
      if (raw !== 'true' && raw !== 'false') problems.push(`${name} must be true or false`);
      else out[key] = raw === 'true';
    } else if (['tickMs', 'maxInflight', 'maxWaiters', 'schedulerQuantum', 'schedulerWriteQuanta', 'maxPending', 'maxPendingPerPrincipal', 'maxWaitersPerPrincipal', 'maxPendingBytesPerPrincipal', 'windowMessages', 'windowBytes', 'heartbeatMs', 'failureTimeoutMs', 'leaseMs', 'metaReplicas', 'httpPort', 'logRetainEntries', 'managerLeaseMs', 'replaceAfterMs', 'maxMoves', 'catchUpBytesPerSecond', 'leaseHeartbeatTimeoutMs', 'clusterReportMs', 'clusterTimeoutMs', 'moveAfterMs', 'clockOffsetMs', 'sqsPort'].includes(key)) {
      const n = Number(raw);
      if (!Number.isInteger(n)) problems.push(`${name} must be an integer`);
      else out[key] = n;
    } else {
      out[key] = raw;
    }
  }
  return out as NodeOptions;
}

function positive(problems: string[], name: string, value: number, min = 1): number {
  if (!Number.isInteger(value) || value < min) problems.push(`${name} must be an integer >= ${min}`);
  return value;
}

/** Resolves options to a complete configuration, collecting every problem into one error. */
export function resolveConfig(options: NodeOptions = {}, earlier: readonly string[] = []): NodeConfig {
  const problems: string[] = [...earlier];
  const attempt = <T>(f: () => T, fallback: T): T => {
    try {
      return f();
    } catch (err) {
      problems.push((err as Error).message);
      return fallback;
    }
  };
  // Host names run to 63 characters (Kubernetes pod names): cut the default to the id's 64.
  const defaultId = `node-${hostname().replace(/[^A-Za-z0-9_-]/g, '-')}`.slice(0, 64);
  const id = attempt(() => nodeId(options.nodeId ?? defaultId), 'invalid' as NodeId);
  const config: NodeConfig = {
    nodeId: id,
    cluster: attempt(() => clusterName(options.cluster ?? 'local'), 'invalid' as ClusterName),
    clusterModel: (options.clusterModel ?? 'primary') as ClusterModel,
    natsUrl: options.natsUrl ?? 'nats://127.0.0.1:4222',
    dataDir: options.dataDir ?? join('.wharf', 'data', id),
    syncWrites: options.syncWrites ?? true,
    tickMs: positive(problems, 'tickMs', options.tickMs ?? 100, 5),
    maxInflight: positive(problems, 'maxInflight', options.maxInflight ?? 120_000),
    maxWaiters: positive(problems, 'maxWaiters', options.maxWaiters ?? 10_000),
    schedulerQuantum: positive(problems, 'schedulerQuantum', options.schedulerQuantum ?? 256),
    schedulerWriteQuanta: positive(problems, 'schedulerWriteQuanta', options.schedulerWriteQuanta ?? 16),
    maxPending: positive(problems, 'maxPending', options.maxPending ?? 20_000),
    maxPendingPerPrincipal: positive(problems, 'maxPendingPerPrincipal', options.maxPendingPerPrincipal ?? 1000),
    maxWaitersPerPrincipal: positive(problems, 'maxWaitersPerPrincipal', options.maxWaitersPerPrincipal ?? 500),
    maxPendingBytesPerPrincipal: positive(problems, 'maxPendingBytesPerPrincipal', options.maxPendingBytesPerPrincipal ?? 64 * 1024 * 1024),
    windowMessages: positive(problems, 'windowMessages', options.windowMessages ?? 16384, 16),
    windowBytes: positive(problems, 'windowBytes', options.windowBytes ?? 32 * 1024 * 1024, 1024 * 1024),
    logLevel: options.logLevel ?? 'info',
    heartbeatMs: positive(problems, 'heartbeatMs', options.heartbeatMs ?? 500, 10),
    failureTimeoutMs: positive(problems, 'failureTimeoutMs', options.failureTimeoutMs ?? 3000, 100),
    leaseMs: positive(problems, 'leaseMs', options.leaseMs ?? 2000, 50),
    metaReplicas: positive(problems, 'metaReplicas', options.metaReplicas ?? 0, 0),
    manager: options.manager ?? true,
    httpPort: options.httpPort ?? 9464,
    httpHost: options.httpHost ?? '127.0.0.1',
    logRetainEntries: positive(problems, 'logRetainEntries', options.logRetainEntries ?? 4096, 16),
    managerLeaseMs: positive(problems, 'managerLeaseMs', options.managerLeaseMs ?? 3000, 300),
    replaceAfterMs: positive(problems, 'replaceAfterMs', options.replaceAfterMs ?? 30_000, 0),
    maxMoves: positive(problems, 'maxMoves', options.maxMoves ?? 2, 1),
    catchUpBytesPerSecond: positive(problems, 'catchUpBytesPerSecond', options.catchUpBytesPerSecond ?? 16 * 1024 * 1024, 0),
    unknownQueueDlq: options.unknownQueueDlq,
    leaseHeartbeatTimeoutMs: positive(problems, 'leaseHeartbeatTimeoutMs', options.leaseHeartbeatTimeoutMs ?? 5000, 100),
    natsAuth: Object.freeze(natsAuthOf(options)),
    deployment: options.deployment === undefined ? undefined : attempt(() => clusterName(options.deployment as string), undefined),
    clusterReportMs: positive(problems, 'clusterReportMs', options.clusterReportMs ?? 1000, 50),
    clusterTimeoutMs: positive(problems, 'clusterTimeoutMs', options.clusterTimeoutMs ?? 10_000, 100),
    moveAfterMs: positive(problems, 'moveAfterMs', options.moveAfterMs ?? 30_000, 0),
    auth: options.auth ?? false,
    authAdmins: Object.freeze(attempt(() => adminsOf(options.authAdmins ?? 'admin'), [])),
    sqsPort: options.sqsPort,
    sqsHost: options.sqsHost ?? '127.0.0.1',
    sqsCredentials: options.sqsCredentials,
    sqsAllowUnsigned: options.sqsAllowUnsigned ?? false,
    sqsRegion: options.sqsRegion ?? 'us-east-1',
    sqsAccountId: options.sqsAccountId ?? '000000000000',
    clockOffsetMs: options.clockOffsetMs ?? 0,
    clock: offsetClock(options.clock ?? systemClock, options.clockOffsetMs ?? 0),
  };
  problems.push(...natsAuthProblems(config.natsAuth), ...sqsProblems(config));
  if (!Number.isInteger(config.httpPort) || config.httpPort < 0 || config.httpPort > 65535) {
    problems.push('httpPort must be an integer from 0 to 65535');
  }
  // The old primary's lease must run out before the manager can have declared its node dead.
  if (config.leaseMs >= config.failureTimeoutMs) problems.push('leaseMs must be below failureTimeoutMs');
  if (config.heartbeatMs * 2 > config.failureTimeoutMs) problems.push('heartbeatMs must be at most half of failureTimeoutMs');
  // Like a node's silence, a lease renewal that is late by one heartbeat period must not end it.
  if (config.heartbeatMs * 2 > config.managerLeaseMs) problems.push('heartbeatMs must be at most half of managerLeaseMs');
  if (config.unknownQueueDlq !== undefined && !isQueueName(config.unknownQueueDlq)) problems.push('unknownQueueDlq must be a queue name');
  // A cluster reporting on time must never look unreachable.
  if (config.clusterReportMs * 2 > config.clusterTimeoutMs) problems.push('clusterReportMs must be at most half of clusterTimeoutMs');
  if (config.maxMoves > 1000) problems.push('maxMoves must be at most 1000');
  // A long poll is an outstanding request too: waiters beyond the pending bound could never wait.
  if (config.maxWaitersPerPrincipal > config.maxPendingPerPrincipal) problems.push('maxWaitersPerPrincipal must be at most maxPendingPerPrincipal');
  if (config.leaseHeartbeatTimeoutMs > 600_000) problems.push('leaseHeartbeatTimeoutMs must be at most 600000 (10 minutes)');
  if (config.replaceAfterMs > 7 * 24 * 3600 * 1000) problems.push('replaceAfterMs must be at most 7 days');
  if (!isClusterModel(config.clusterModel)) problems.push(`clusterModel must be one of ${CLUSTER_MODELS.join(', ')}`);
  if (!LEVELS.has(config.logLevel)) problems.push(`logLevel must be one of ${[...LEVELS].join(', ')}`);
  if (problems.length > 0) {
    throw new WharfError(ErrorCode.InvalidParameter, `invalid configuration: ${problems.join('; ')}`);
  }
  return Object.freeze(config);
}

function adminsOf(admins: string | readonly string[]): string[] {
  return (typeof admins === 'string' ? admins.split(',') : admins).map((a) => principalName(a.trim()));
}

function sqsProblems(c: NodeConfig): string[] {
  const problems: string[] = [];
  if (c.sqsPort !== undefined) {
    if (!Number.isInteger(c.sqsPort) || c.sqsPort < 0 || c.sqsPort > 65535) problems.push('sqsPort must be an integer from 0 to 65535');
    if (c.sqsCredentials === undefined && !c.sqsAllowUnsigned) problems.push('the SQS endpoint needs sqsCredentials (WHARF_SQS_CREDENTIALS) or sqsAllowUnsigned');
  }
  if (!/^[a-z0-9-]{1,32}$/.test(c.sqsRegion)) problems.push('sqsRegion must be 1-32 of a-z, 0-9 and -');
  if (!/^\d{12}$/.test(c.sqsAccountId)) problems.push('sqsAccountId must be 12 digits');
  return problems;
}

function natsAuthOf(o: NodeOptions): NatsAuth {
  return natsAuth({
    credsFile: o.natsCreds,
    user: o.natsUser,
    passwordFile: o.natsPasswordFile,
    tokenFile: o.natsTokenFile,
    tlsCa: o.natsTlsCa,
    tlsCert: o.natsTlsCert,
    tlsKey: o.natsTlsKey,
  });
}
