/**
 * A NATS cluster with JetStream on loopback (three servers by default, named n1, n2, n3), built from
 * the single-server launcher in nats-server.ts: each server has its own directory (config, ports
 * file, log, JetStream store in `<dir>/<name>/js`), a client and a monitoring port the server picks
 * itself (`-p -1 -m -1`), and a route port picked here, because every server's config must name the
 * others' route ports before any of them runs.
 *
 * A route port is picked by binding port 0 on 127.0.0.1 and closing it again, so another process
 * can take it before nats-server binds it: a start that fails with "address already in use" is
 * retried with fresh ports (and fresh directories).
 *
 * The cluster counts as formed when every running server reports the same JetStream meta leader,
 * the leader sees every other running server as a current peer and every server has its routes
 * (monitoring endpoints /jsz and /routez). Starting waits for that, bounded.
 *
 * `startCluster(t)` is the ava entry point: a temp dir (kept when the test fails) and every server
 * stopped on teardown.
 */
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { ExecutionContext } from 'ava';
import { startNatsServer, type NatsServerHandle } from './nats-server.ts';
import { tempDir } from './temp-dir.ts';

export interface NatsClusterOptions {
  /** Parent of the servers' directories. @default a new temp dir, left to the caller */
  dir?: string;
  /** The cluster's name (`cluster { name }`). @default 'wharf-test' */
  name?: string;
  /** Number of servers. @default 3 */
  size?: number;
  /** The executable; see `startNatsServer`. */
  bin?: string;
  /** How long to wait for the cluster to form, ms. @default 30000 */
  formTimeoutMs?: number;
}

export interface NatsClusterServer extends NatsServerHandle {
  /** `server_name`: n1, n2, ... */
  readonly name: string;
  /** The port other servers route to. */
  readonly routePort: number;
}

export interface FormOptions {
  /** Servers that must take part. @default every server whose process runs */
  servers?: readonly string[];
  /** @default 30000 */
  timeoutMs?: number;
}

export interface NatsClusterHandle {
  readonly name: string;
  readonly dir: string;
  readonly servers: readonly NatsClusterServer[];
  /** Client URLs of every server, for `connect({ servers })`. */
  readonly urls: readonly string[];
  /** The server named `name`; throws for an unknown name. */
  server(name: string): NatsClusterServer;
  /** Waits (bounded) until the cluster has formed (see the module comment); returns the meta leader's name. */
  waitUntilFormed(options?: FormOptions): Promise<string>;
  /** Stops every server (SIGTERM, then SIGKILL). Idempotent; the directories are kept. */
  stop(): Promise<void>;
}

const DEFAULT_SIZE = 3;
const DEFAULT_FORM_TIMEOUT_MS = 30_000;
const START_ATTEMPTS = 5;
const LOG_TAIL_CHARS = 2_048;
const PORT_IN_USE = /address already in use/i;

/**
 * Servers of every cluster this module started, killed if the process exits with them running
 * (handle.kill signals only a child that has not exited, so a reused pid is never hit).
 */
const live = new Set<NatsServerHandle>();
process.once('exit', () => {
  for (const server of live) server.kill('SIGKILL');
});

/** Starts a cluster and registers its stop (and its temp dir's removal) with the test's teardown. */
export async function startCluster(
  t: ExecutionContext<unknown>,
  options: Omit<NatsClusterOptions, 'dir'> = {},
): Promise<NatsClusterHandle> {
  const cluster = await startNatsCluster({ ...options, dir: await tempDir(t, 'wharf-nats-cluster-') });
  t.teardown(() => cluster.stop());
  return cluster;
}

/** Starts a cluster outside ava and waits until it has formed. The caller stops it. */
export async function startNatsCluster(options: NatsClusterOptions = {}): Promise<NatsClusterHandle> {
  const dir = resolve(options.dir ?? (await mkdtemp(join(tmpdir(), 'wharf-nats-cluster-'))));
  const name = options.name ?? 'wharf-test';
  const size = options.size ?? DEFAULT_SIZE;
  const formTimeoutMs = options.formTimeoutMs ?? DEFAULT_FORM_TIMEOUT_MS;
  if (!Number.isInteger(size) || size < 1) throw new Error(`a cluster needs at least one server, got size ${size}`);
  const names = Array.from({ length: size }, (_, i) => `n${i + 1}`);

  for (let attempt = 1; ; attempt++) {
    const servers = await launchAll(dir, name, names, options.bin);
    const cluster = handleFor(dir, name, servers);
    try {
      await cluster.waitUntilFormed({ servers: names, timeoutMs: formTimeoutMs });
      return cluster;
    } catch (err) {
      await cluster.stop();
      // A route port taken by another process after we picked it: the server exits once it
      // fails to bind it, possibly after writing its ports file. Start over with new ports.
      const portTaken = (await Promise.all(servers.map((s) => logTail(s.dir)))).some((tail) => PORT_IN_USE.test(tail));
      if (!portTaken || attempt >= START_ATTEMPTS) throw err;
      await Promise.all(names.map((n) => rm(join(dir, n), { recursive: true, force: true })));
    }
  }
}

/** Starts every server on freshly picked route ports; retries when one of them fails to bind. */
async function launchAll(dir: string, clusterName: string, names: readonly string[], bin: string | undefined): Promise<NatsClusterServer[]> {
  for (let attempt = 1; ; attempt++) {
    const routePorts = await freePorts(names.length);
    // All at once: each server retries its routes until the others listen.
    const started = await Promise.allSettled(
      names.map(async (serverName, i) => {
        const routePort = routePorts[i] ?? 0;
        const serverDir = join(dir, serverName);
        await mkdir(serverDir, { recursive: true });
        const configFile = join(serverDir, 'cluster.conf');
        const peers = routePorts.filter((_, j) => j !== i);
        await writeFile(configFile, clusterConfig(serverName, clusterName, routePort, peers));
        const handle = await startNatsServer({ dir: serverDir, configFile, ...(bin === undefined ? {} : { bin }) });
        live.add(handle);
        return clusterServer(handle, serverName, routePort);
      }),
    );
    const servers = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    const failures = started.flatMap((s) => (s.status === 'rejected' ? [s.reason] : []));
    if (failures.length === 0) return servers;
    await Promise.all(servers.map((s) => s.stop()));
    const portTaken = failures.some((f) => f instanceof Error && PORT_IN_USE.test(f.message));
    if (!portTaken || attempt >= START_ATTEMPTS) throw failures[0];
    await Promise.all(names.map((n) => rm(join(dir, n), { recursive: true, force: true })));
  }
}

function clusterConfig(serverName: string, clusterName: string, routePort: number, peerPorts: readonly number[]): string {
  const routes = peerPorts.map((p) => JSON.stringify(`nats-route://127.0.0.1:${p}`)).join(', ');
  return [
    '# written by test/helpers/nats-cluster.ts',
    `server_name: ${JSON.stringify(serverName)}`,
    'cluster {',
    `  name: ${JSON.stringify(clusterName)}`,
    `  listen: ${JSON.stringify(`127.0.0.1:${routePort}`)}`,
    `  routes: [${routes}]`,
    '}',
    '',
  ].join('\n');
}

/** The handle with its name and route port; stop() also forgets it for the exit hook. */
function clusterServer(handle: NatsServerHandle, name: string, routePort: number): NatsClusterServer {
  return {
    name,
    routePort,
    url: handle.url,
    port: handle.port,
    monitoringUrl: handle.monitoringUrl,
    dir: handle.dir,
    get pid() {
      return handle.pid;
    },
    async stop() {
      await handle.stop();
      live.delete(handle);
    },
    kill(signal?: NodeJS.Signals) {
      handle.kill(signal);
    },
    async restart() {
      live.add(handle);
      await handle.restart();
    },
  };
}

function handleFor(dir: string, name: string, servers: readonly NatsClusterServer[]): NatsClusterHandle {
  const byName = new Map(servers.map((s) => [s.name, s]));
  return {
    name,
    dir,
    servers,
    urls: servers.map((s) => s.url),
    server(serverName) {
      const s = byName.get(serverName);
      if (s === undefined) throw new Error(`no server ${serverName} in cluster ${name} (${[...byName.keys()].join(', ')})`);
      return s;
    },
    waitUntilFormed: (options = {}) => {
      const wanted = options.servers?.map((n) => {
        const s = byName.get(n);
        if (s === undefined) throw new Error(`no server ${n} in cluster ${name}`);
        return s;
      });
      return waitUntilFormed(servers, wanted, options.timeoutMs ?? DEFAULT_FORM_TIMEOUT_MS);
    },
    async stop() {
      await Promise.all(servers.map((s) => s.stop()));
    },
  };
}

// ---- formation -----------------------------------------------------------------------------------

interface MetaView {
  server: string;
  leader: string | undefined;
  clusterSize: number | undefined;
  /** Peers the server lists with `current: true` (only the leader lists its peers). */
  currentPeers: string[];
  routes: number;
}

async function waitUntilFormed(
  all: readonly NatsClusterServer[],
  wanted: readonly NatsClusterServer[] | undefined,
  timeoutMs: number,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  for (;;) {
    const members = wanted ?? all.filter((s) => isAlive(s.pid));
    const views = await Promise.all(members.map((s) => metaView(s).catch((err: unknown) => describe(s.name, err))));
    const verdict = formation(members, views, all.length);
    if ('leader' in verdict) return verdict.leader;
    last = verdict.why;
    if (Date.now() >= deadline) {
      const deadOnes = wanted === undefined ? [] : wanted.filter((s) => !isAlive(s.pid)).map((s) => s.name);
      const tails = await Promise.all(all.map(async (s) => `--- ${s.name} (${s.dir}) ---\n${await logTail(s.dir)}`));
      throw new Error(
        `NATS cluster not formed within ${timeoutMs} ms: ${last}` +
          (deadOnes.length > 0 ? `; not running: ${deadOnes.join(', ')}` : '') +
          `\n${tails.join('\n')}`,
      );
    }
    await delay(100);
  }
}

function formation(
  members: readonly NatsClusterServer[],
  views: ReadonlyArray<MetaView | string>,
  size: number,
): { leader: string } | { why: string } {
  const problems = views.filter((v): v is string => typeof v === 'string');
  if (problems.length > 0) return { why: problems.join('; ') };
  const metas = views.filter((v): v is MetaView => typeof v !== 'string');
  const names = members.map((m) => m.name);
  const leaders = new Set(metas.map((v) => v.leader ?? ''));
  const [leader] = [...leaders];
  if (leaders.size !== 1 || leader === undefined || leader === '') {
    return { why: `meta leaders seen: ${metas.map((v) => `${v.server}→${v.leader ?? 'none'}`).join(', ')}` };
  }
  if (!names.includes(leader)) return { why: `meta leader ${leader} is not among the running servers ${names.join(', ')}` };
  const wrongSize = metas.find((v) => v.clusterSize !== size);
  if (wrongSize !== undefined) return { why: `${wrongSize.server} reports a meta cluster of ${wrongSize.clusterSize ?? 'unknown'} servers, expected ${size}` };
  const fewRoutes = metas.find((v) => v.routes < members.length - 1);
  if (fewRoutes !== undefined) return { why: `${fewRoutes.server} has ${fewRoutes.routes} routes, expected ${members.length - 1}` };
  const leaderView = metas.find((v) => v.server === leader);
  const behind = names.filter((n) => n !== leader && !(leaderView?.currentPeers.includes(n) ?? false));
  if (behind.length > 0) return { why: `meta leader ${leader} does not see ${behind.join(', ')} as current` };
  return { leader };
}

async function metaView(server: NatsClusterServer): Promise<MetaView> {
  const jsz = asRecord(await getJson(`${server.monitoringUrl}/jsz`));
  const routez = asRecord(await getJson(`${server.monitoringUrl}/routez`));
  const meta = asRecord(jsz['meta_cluster']);
  const replicas = Array.isArray(meta['replicas']) ? meta['replicas'].map(asRecord) : [];
  return {
    server: server.name,
    leader: typeof meta['leader'] === 'string' ? meta['leader'] : undefined,
    clusterSize: typeof meta['cluster_size'] === 'number' ? meta['cluster_size'] : undefined,
    currentPeers: replicas.filter((r) => r['current'] === true && typeof r['name'] === 'string').map((r) => String(r['name'])),
    routes: typeof routez['num_routes'] === 'number' ? routez['num_routes'] : 0,
  };
}

async function getJson(url: string): Promise<unknown> {
  const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}

function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function describe(server: string, err: unknown): string {
  return `${server}: ${err instanceof Error ? err.message : String(err)}`;
}

/** Whether `pid` runs: a zombie (exited, not yet reaped) does not count. */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  let stat = '';
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return false;
  }
  // The state follows the command name, which may itself contain ") ".
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== 'Z' && state !== 'X';
}

// ---- small helpers -------------------------------------------------------------------------------

/** `count` distinct ports that were free on 127.0.0.1 a moment ago. */
async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  for (let tries = 0; ports.size < count; tries++) {
    if (tries >= count * 10) throw new Error(`could not pick ${count} distinct free ports`);
    ports.add(await freePort());
  }
  return [...ports];
}

async function freePort(): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await bindAndRelease();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EADDRINUSE' || attempt >= START_ATTEMPTS) throw err;
    }
  }
}

function bindAndRelease(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolvePort(port) : reject(new Error('bound port 0 but got no port'))));
    });
  });
}

async function logTail(serverDir: string): Promise<string> {
  const text = await readFile(join(serverDir, 'nats-server.log'), 'utf8').catch(() => '');
  return text.slice(-LOG_TAIL_CHARS);
}
