/**
 * The node's HTTP endpoint for orchestration and scraping:
 *
 *   GET /metrics   Prometheus text format (metrics.ts)
 *   GET /healthz   200 while the process serves HTTP at all (liveness)
 *   GET /readyz    200 while connected to NATS (the node has loaded the metadata by then), else 503, also while reconnecting (readiness)
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { NodeMetrics } from './metrics.ts';

export interface HealthEndpoint {
  readonly port: number;
  close(): Promise<void>;
}

export async function serveHttp(
  host: string,
  port: number,
  metrics: NodeMetrics,
  ready: () => { ready: boolean; reason?: string },
): Promise<HealthEndpoint> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') {
      res.writeHead(405).end();
    } else if (path === '/metrics') {
      metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
        (err: unknown) => res.writeHead(500).end(String(err)),
      );
    } else if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (path === '/readyz') {
      const r = ready();
      res.writeHead(r.ready ? 200 : 503, { 'content-type': 'text/plain' }).end(r.ready ? 'ready\n' : `not ready: ${r.reason ?? ''}\n`);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
