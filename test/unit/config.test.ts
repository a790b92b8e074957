/**
 * Node configuration (src/node/config.ts): defaults (against the table in its header), environment
 * parsing, and every problem reported in one error.
 */
import { readFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import os from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { systemClock } from '../../src/clock.ts';
import { ErrorCode, WharfError } from '../../src/errors.ts';
import { configFromEnv, ENV, optionsFromEnv, resolveConfig, type NodeOptions } from '../../src/node/config.ts';

/** option → [env variable, default] from the table in config.ts's header. */
function headerTable(): Map<string, [string, string]> {
  const source = readFileSync(new URL('../../src/node/config.ts', import.meta.url), 'utf8');
  const rows = new Map<string, [string, string]>();
  for (const m of source.matchAll(/^ \* \| (\w+) +\| (WHARF_\w+) +\| `([^`]*)` +\|$/gm)) {
    rows.set(m[1] ?? '', [m[2] ?? '', m[3] ?? '']);
  }
  return rows;
}

function problemsOf(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    if (!(err instanceof WharfError)) throw err;
    if (err.code !== ErrorCode.InvalidParameter) throw new Error(`code ${err.code}`);
    return err.message;
  }
  return '';
}

test('the header table and ENV list the same variables and options', (t) => {
  const table = headerTable();
  t.is(table.size, 52);
  t.deepEqual(
    [...table.entries()].map(([option, [env]]) => [env, option]).sort(),
    Object.entries(ENV).sort(),
  );
});

test('defaults match the header table', (t) => {
  const config = resolveConfig({});
  const table = headerTable();
  for (const [option, [, expected]] of table) {
    const actual = (config as unknown as Record<string, unknown>)[option];
    switch (option) {
      case 'nodeId':
        t.regex(String(actual), /^node-[A-Za-z0-9_-]+$/);
        t.is(expected, 'node-<hostname>');
        break;
      case 'dataDir':
        t.is(actual, join('.wharf', 'data', config.nodeId));
        t.is(expected, './.wharf/data/<node>');
        break;
      default:
        // NATS credentials and TLS have no default: they end up in config.natsAuth, empty.
        if (expected === 'none') t.is(actual, undefined, option);
        else t.is(String(actual), expected, option);
    }
  }
  t.deepEqual(config.natsAuth, {});
  t.is(config.clock, systemClock);
  t.true(Object.isFrozen(config));
});

test('options override defaults', (t) => {
  const options: NodeOptions = {
    nodeId: 'n1',
    cluster: 'prod',
    natsUrl: 'nats://a:4222,nats://b:4222',
    dataDir: '/var/lib/wharf',
    syncWrites: false,
    tickMs: 5,
    maxInflight: 1,
    maxWaiters: 1,
    windowMessages: 16,
    windowBytes: 1024 * 1024,
    logLevel: 'silent',
    heartbeatMs: 10,
  };
  const config = resolveConfig(options);
  for (const [k, v] of Object.entries(options)) t.is((config as unknown as Record<string, unknown>)[k], v, k);
  t.is(resolveConfig({ nodeId: 'n1' }).dataDir, join('.wharf', 'data', 'n1'));
});

test('optionsFromEnv reads WHARF_* variables only, with types', (t) => {
  const options = optionsFromEnv({
    WHARF_NODE_ID: 'node-7',
    WHARF_CLUSTER: 'c1',
    WHARF_NATS_URL: 'nats://x:1',
    WHARF_DATA_DIR: '/d',
    WHARF_SYNC_WRITES: 'false',
    WHARF_TICK_MS: '50',
    WHARF_MAX_INFLIGHT: '1000',
    WHARF_MAX_WAITERS: '20',
    WHARF_WINDOW_MESSAGES: '64',
    WHARF_WINDOW_BYTES: '2097152',
    WHARF_LOG_LEVEL: 'debug',
    WHARF_HEARTBEAT_MS: '250',
    WHARF_UNKNOWN: 'ignored',
    HOME: '/root',
  });
  t.deepEqual(options, {
    nodeId: 'node-7',
    cluster: 'c1',
    natsUrl: 'nats://x:1',
    dataDir: '/d',
    syncWrites: false,
    tickMs: 50,
    maxInflight: 1000,
    maxWaiters: 20,
    windowMessages: 64,
    windowBytes: 2_097_152,
    logLevel: 'debug',
    heartbeatMs: 250,
  });
  t.deepEqual(optionsFromEnv({}), {});
  t.deepEqual(optionsFromEnv({ WHARF_TICK_MS: '', WHARF_SYNC_WRITES: '' }), {}, 'empty means unset');
  t.deepEqual(optionsFromEnv({ WHARF_SYNC_WRITES: 'true' }), { syncWrites: true });
  t.notThrows(() => resolveConfig(optionsFromEnv({ WHARF_TICK_MS: '50', WHARF_CLUSTER: 'c1' })));
});

test('optionsFromEnv reports every malformed variable in one error', (t) => {
  const message = problemsOf(() =>
    optionsFromEnv({ WHARF_SYNC_WRITES: 'yes', WHARF_TICK_MS: 'fast', WHARF_MAX_INFLIGHT: '1.5', WHARF_HEARTBEAT_MS: '10ms' }),
  );
  for (const name of ['WHARF_SYNC_WRITES', 'WHARF_TICK_MS', 'WHARF_MAX_INFLIGHT', 'WHARF_HEARTBEAT_MS']) t.regex(message, new RegExp(name));
});

test('resolveConfig reports every problem in one error', (t) => {
  const message = problemsOf(() =>
    resolveConfig({
      nodeId: 'bad id',
      cluster: 'a.b',
      tickMs: 4,
      maxInflight: 0,
      maxWaiters: 1.5,
      windowMessages: 15,
      windowBytes: 1024 * 1024 - 1,
      heartbeatMs: 9,
      logLevel: 'loud',
    }),
  );
  t.regex(message, /^invalid configuration: /);
  for (const what of [/node id/, /cluster/, /tickMs/, /maxInflight/, /maxWaiters/, /windowMessages/, /windowBytes/, /heartbeatMs/, /logLevel/]) {
    t.regex(message, what);
  }
  t.is(message.split('; ').length, 9);
});

test('a node started from the environment reports every problem at once', (t) => {
  // docs/configuration.md: "all problems are reported together at start". main.ts does
  // startResolvedNode(configFromEnv()).
  const env = { WHARF_SYNC_WRITES: 'yes', WHARF_TICK_MS: '1', WHARF_CLUSTER: 'a.b' };
  const message = problemsOf(() => configFromEnv(env));
  t.regex(message, /WHARF_SYNC_WRITES|syncWrites/);
  t.regex(message, /WHARF_TICK_MS|tickMs/, 'the out-of-range tick is only reported after the first error is fixed');
  t.regex(message, /cluster/, 'the bad cluster name is only reported after the first error is fixed');
});

test('the default node id is valid for any valid host name', (t) => {
  // A DNS label is up to 63 characters (Kubernetes pod names often are); `node-` adds 5.
  const original = os.hostname;
  try {
    for (const host of ['h', 'web.example.com', 'a'.repeat(63), `${'b'.repeat(63)}.svc.cluster.local`]) {
      os.hostname = () => host;
      syncBuiltinESMExports();
      t.notThrows(() => resolveConfig({}), host);
    }
  } finally {
    os.hostname = original;
    syncBuiltinESMExports();
  }
});

test('the cluster manager timings are read from the environment and range-checked', (t) => {
  t.deepEqual(optionsFromEnv({ WHARF_MANAGER_LEASE_MS: '6000', WHARF_REPLACE_AFTER_MS: '0', WHARF_MAX_MOVES: '5' }), {
    managerLeaseMs: 6000,
    replaceAfterMs: 0,
    maxMoves: 5,
  });
  const config = resolveConfig({ managerLeaseMs: 6000, replaceAfterMs: 0, maxMoves: 5 });
  t.like(config, { managerLeaseMs: 6000, replaceAfterMs: 0, maxMoves: 5 });
  t.regex(problemsOf(() => optionsFromEnv({ WHARF_MAX_MOVES: 'two' })), /WHARF_MAX_MOVES must be an integer/);

  const message = problemsOf(() => resolveConfig({ managerLeaseMs: 299, replaceAfterMs: -1, maxMoves: 0 }));
  t.regex(message, /managerLeaseMs must be an integer >= 300/);
  t.regex(message, /replaceAfterMs must be an integer >= 0/);
  t.regex(message, /maxMoves must be an integer >= 1/);
  t.regex(problemsOf(() => resolveConfig({ maxMoves: 1001 })), /maxMoves must be at most 1000/);
  t.regex(problemsOf(() => resolveConfig({ replaceAfterMs: 8 * 24 * 3600 * 1000 })), /replaceAfterMs must be at most 7 days/);
});

test('the manager lease must outlast two heartbeats', (t) => {
  t.notThrows(() => resolveConfig({ heartbeatMs: 500, managerLeaseMs: 1000 }));
  const message = problemsOf(() => resolveConfig({ heartbeatMs: 500, managerLeaseMs: 999 }));
  t.regex(message, /heartbeatMs must be at most half of managerLeaseMs/);
  t.is(message.split('; ').length, 1, 'the lease alone is out of step');
  // Both cross-checks on the heartbeat are reported together.
  const both = problemsOf(() => resolveConfig({ heartbeatMs: 2000, failureTimeoutMs: 3000, leaseMs: 1000, managerLeaseMs: 3000 }));
  t.regex(both, /half of failureTimeoutMs/);
  t.regex(both, /half of managerLeaseMs/);
});

test('NATS credentials and TLS settings that do not fit together are reported with the rest', (t) => {
  const message = problemsOf(() =>
    configFromEnv({ WHARF_NATS_USER: 'wharf', WHARF_NATS_TOKEN_FILE: '/run/secrets/token', WHARF_NATS_TLS_CERT: '/etc/wharf/node.pem', WHARF_TICK_MS: '1' }),
  );
  t.regex(message, /a NATS user needs a password file/);
  t.regex(message, /give one way to authenticate to NATS/);
  t.regex(message, /a TLS client certificate needs its key/);
  t.regex(message, /tickMs must be an integer >= 5/);
  const config = configFromEnv({ WHARF_NATS_CREDS: '/run/secrets/node.creds', WHARF_NATS_TLS_CA: '/etc/wharf/ca.pem' });
  t.deepEqual(config.natsAuth, { credsFile: '/run/secrets/node.creds', tlsCa: '/etc/wharf/ca.pem' });
});

test('the cluster model is primary by default, hosts when asked, and nothing else', (t) => {
  t.is(resolveConfig({}).clusterModel, 'primary');
  t.is(configFromEnv({ WHARF_CLUSTER_MODEL: 'hosts' }).clusterModel, 'hosts');
  t.regex(problemsOf(() => configFromEnv({ WHARF_CLUSTER_MODEL: 'raft' })), /clusterModel must be one of primary, hosts/);
});

test('the SQS endpoint is off by default and, when on, needs credentials or unsigned access', (t) => {
  t.is(resolveConfig({}).sqsPort, undefined);
  t.regex(problemsOf(() => resolveConfig({ sqsPort: 9324 })), /needs sqsCredentials/);
  t.regex(problemsOf(() => resolveConfig({ sqsPort: 9324, sqsAllowUnsigned: true, sqsAccountId: '12', sqsRegion: 'EU WEST' })), /sqsRegion.*sqsAccountId/);
  const env = optionsFromEnv({ WHARF_SQS_PORT: '9324', WHARF_SQS_ALLOW_UNSIGNED: 'true', WHARF_SQS_HOST: '0.0.0.0' });
  t.like(resolveConfig(env), { sqsPort: 9324, sqsHost: '0.0.0.0', sqsAllowUnsigned: true, sqsRegion: 'us-east-1', sqsAccountId: '000000000000' });
  // A resolved configuration resolves to itself (the node's main passes one to startNode).
  t.like(resolveConfig(resolveConfig(env)), { sqsPort: 9324, sqsAllowUnsigned: true });
});
