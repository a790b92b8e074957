/**
 * The inspector's HTTP server: the page (src/inspect/web), a live stream of server-sent events,
 * and the JSON endpoints the page calls. Local and read-only: it listens on 127.0.0.1 by default
 * and changes nothing in the cluster.
 *
 *   GET /                         the page, and its files
 *   GET /events                   text/event-stream: `hello`, `map` (the cluster map, on change),
 *                                 `clusters` (the deployment's clusters and routes, on change),
 *                                 `queues` (counts and rates, every second), `inspect` (the nodes'
 *                                 inspection frames as they arrive)
 *   GET /api/map                  the cluster map
 *   GET /api/clusters             the deployment's clusters, their models and health, queue routes
 *   GET /api/queues               the latest queue figures
 *   GET /api/actors?node=         that node's actors (forwarded to the node)
 *   GET /api/machine?node=&machine=   a machine's definition, for drawing
 *   GET /api/message?queue=&id=|receipt=   where a message is
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { NatsConnection } from '@nats-io/transport-node';
import { pino, type Logger } from 'pino';
import { WharfClient } from '../client/client.ts';
import { WharfError } from '../errors.ts';
import { Metadata } from '../meta/metadata.ts';
import { clusterName } from '../names.ts';
import { subjects } from '../protocol/subjects.ts';
import type { MessageQuery } from './protocol.ts';
import type { DeploymentView } from '../deployment/deployment-view.ts';
import { ClusterMap, type ClusterMapView } from './server/cluster-map.ts';
import { Clusters } from './server/clusters.ts';
import { EventStream } from './server/event-stream.ts';
import { NodeRequestError, NodeRequests } from './server/node-requests.ts';
import { QueueStatsSampler, type QueueStats } from './server/queue-stats.ts';
import { staticFile } from './server/static-files.ts';

export const DEFAULT_INSPECTOR_PORT = 9400;
export const DEFAULT_INSPECTOR_HOST = '127.0.0.1';

/** How often the map is re-checked for changes nobody announces (a node falling silent). */
const MAP_CHECK_MS = 500;
/** How soon after an announced change the map is sent: bursts of changes go out as one. */
const MAP_DEBOUNCE_MS = 50;
const QUEUE_SAMPLE_MS = 1000;
/** How often the active external manager is asked for its view of the clusters while a page is open. */
const EXTERNAL_STATUS_MS = 2000;

export interface InspectorOptions {
  nc: NatsConnection;
  cluster: string;
  /** 0 picks a free port. @default 9400 */
  port?: number;
  /** @default 127.0.0.1 */
  host?: string;
  /** The cluster's WHARF_FAILURE_TIMEOUT_MS, for the nodes' liveness. @default 3000 */
  failureTimeoutMs?: number;
  /** The deployment the cluster belongs to (its nodes' WHARF_DEPLOYMENT), for the Clusters section. @default none */
  deployment?: string;
  log?: Logger;
}

export interface Inspector {
  /** http://host:port/ */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

export async function startInspector(options: InspectorOptions): Promise<Inspector> {
  const { nc } = options;
  const log = (options.log ?? pino({ level: 'silent' })).child({ component: 'inspector' });
  const cluster = clusterName(options.cluster);
  const subs = subjects(cluster);
  const metadata = await Metadata.open(nc, cluster, { log });
  const client = await WharfClient.connect({ connection: nc, cluster });
  const map = new ClusterMap({
    nc,
    subjects: subs,
    metadata,
    cluster,
    ...(options.failureTimeoutMs === undefined ? {} : { failureTimeoutMs: options.failureTimeoutMs }),
  });
  const clusters = await Clusters.open({ nc, deployment: options.deployment === undefined ? undefined : clusterName(options.deployment), log });
  const requests = new NodeRequests(nc, subs);
  const sampler = new QueueStatsSampler(client, requests);
  let queues: QueueStats[] = [];
  let sentMap = '';

  const pushMap = () => {
    const text = JSON.stringify(map.view());
    if (text === sentMap) return;
    sentMap = text;
    stream.send('map', JSON.parse(text) as ClusterMapView);
    pushClusters();
  };
  let sentClusters = '';
  const pushClusters = () => {
    const text = JSON.stringify(clusters.view(map.view()));
    if (text === sentClusters) return;
    sentClusters = text;
    stream.send('clusters', JSON.parse(text) as DeploymentView);
  };
  let sampling = false;
  const sampleQueues = async () => {
    if (sampling) return;
    sampling = true;
    try {
      queues = await sampler.sample(map.view());
      stream.send('queues', queues);
    } catch (err) {
      log.debug({ err }, 'queue figures not sampled');
    } finally {
      sampling = false;
    }
  };

  let timers: NodeJS.Timeout[] = [];
  const stream = new EventStream({
    nc,
    subjects: subs,
    watcher: `inspector-${randomBytes(4).toString('hex')}`,
    log,
    onWatching: (watching) => {
      for (const t of timers) clearInterval(t);
      timers = watching
        ? [
            setInterval(pushMap, MAP_CHECK_MS),
            setInterval(pushClusters, MAP_CHECK_MS),
            setInterval(() => void sampleQueues(), QUEUE_SAMPLE_MS),
            setInterval(() => void clusters.refresh(), EXTERNAL_STATUS_MS),
          ]
        : [];
      if (watching) {
        void sampleQueues();
        void clusters.refresh();
      }
    },
  });
  let debounce: NodeJS.Timeout | undefined;
  const announced = () => {
    if (!stream.watching || debounce !== undefined) return;
    debounce = setTimeout(() => {
      debounce = undefined;
      pushMap();
    }, MAP_DEBOUNCE_MS);
  };
  const stopListening = [map.onChange(announced), clusters.onChange(announced)];

  const routes: Record<string, (url: URL, res: ServerResponse) => Promise<void> | void> = {
    '/events': (_url, res) => {
      const view = map.view();
      const deployment = clusters.view(view);
      sentMap = JSON.stringify(view);
      sentClusters = JSON.stringify(deployment);
      stream.attach(res, [
        { event: 'hello', data: { cluster } },
        { event: 'map', data: view },
        { event: 'clusters', data: deployment },
        { event: 'queues', data: queues },
      ]);
    },
    '/api/map': (_url, res) => json(res, 200, map.view()),
    '/api/clusters': async (_url, res) => {
      // Asked now: with no page open the external manager's view is not kept fresh.
      if (!stream.watching) await clusters.refresh();
      json(res, 200, clusters.view(map.view()));
    },
    // With no browser watching nothing is sampled in the background: sample now.
    '/api/queues': async (_url, res) => json(res, 200, stream.watching ? queues : await sampler.sample(map.view())),
    '/api/actors': async (url, res) => json(res, 200, await requests.actors(required(url, 'node'))),
    '/api/machine': async (url, res) => json(res, 200, await requests.machine(required(url, 'node'), required(url, 'machine'))),
    '/api/message': async (url, res) => json(res, 200, await requests.message(messageQuery(url), map.view())),
  };

  const server = createServer((req, res) => {
    void handle(req, res).catch((err: unknown) => {
      if (err instanceof BadRequest || err instanceof WharfError) json(res, 400, { error: err.message });
      else if (err instanceof NodeRequestError) json(res, 502, { error: err.message, node: err.node });
      else {
        log.warn({ err, url: req.url }, 'inspector request failed');
        json(res, 500, { error: err instanceof Error ? err.message : String(err) });
      }
    });
  });
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://inspector');
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(res, 405, { error: 'only GET' });
    const route = routes[url.pathname];
    if (route !== undefined) return route(url, res);
    const file = await staticFile(url.pathname);
    if (file === undefined) return json(res, 404, { error: `no ${url.pathname}` });
    res.writeHead(200, { 'content-type': file.type, 'cache-control': 'no-cache' });
    res.end(req.method === 'HEAD' ? undefined : file.body);
  };

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? DEFAULT_INSPECTOR_PORT, options.host ?? DEFAULT_INSPECTOR_HOST, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    stream.close();
    map.close();
    await clusters.close();
    await metadata.close();
    throw err;
  }
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  log.info({ port: address.port }, 'inspector listening');

  return {
    url: `http://${host}:${address.port}/`,
    port: address.port,
    async close() {
      for (const t of timers) clearInterval(t);
      clearTimeout(debounce);
      for (const stop of stopListening) stop();
      stream.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      map.close();
      await clusters.close();
      await client.close();
      await metadata.close();
    },
  };
}

class BadRequest extends Error {}

function required(url: URL, name: string): string {
  const value = url.searchParams.get(name);
  if (value === null || value === '') throw new BadRequest(`the parameter ${name} is required`);
  return value;
}

function messageQuery(url: URL): MessageQuery {
  const id = url.searchParams.get('id') ?? '';
  const receiptHandle = url.searchParams.get('receipt') ?? '';
  if (id === '' && receiptHandle === '') throw new BadRequest('give a message id (id=) or a receipt handle (receipt=)');
  return {
    op: 'message',
    queue: required(url, 'queue'),
    ...(id === '' ? {} : { id }),
    ...(receiptHandle === '' ? {} : { receiptHandle }),
  };
}

function json(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}
