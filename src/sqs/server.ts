/**
 * The SQS-compatible HTTP endpoint of a node (docs/sqs.md), on its own port (WHARF_SQS_PORT) so it
 * can face applications while the metrics port stays internal. Requests are served concurrently: a
 * long poll is a pending promise, not a blocked connection handler.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SqsRequest } from './protocol.ts';
import { routeSqs, type RouterDeps } from './router.ts';

/**
 * Largest request body read: SQS's largest request (a 1 MiB batch) grown by form or JSON encoding
 * and base64 binary attributes. A larger one is answered 413 unread.
 */
const MAX_BODY_BYTES = 8 * 1024 * 1024;

export interface SqsEndpoint {
  readonly port: number;
  close(): Promise<void>;
}

export async function serveSqs(host: string, port: number, deps: RouterDeps): Promise<SqsEndpoint> {
  const server: Server = createServer((req, res) => {
    readRequest(req)
      .then(async (request) => {
        if (request === undefined) {
          res.writeHead(413).end();
          return;
        }
        const response = await routeSqs(request, deps);
        res.writeHead(response.status, response.headers).end(response.body);
      })
      .catch((err: unknown) => {
        // routeSqs answers every error itself: this is a request that could not be read (the client went away).
        deps.log.warn({ err }, 'SQS request could not be read');
        res.destroy();
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Long polls would hold the close for up to 20 s: their clients see the connection end and retry.
        server.closeAllConnections();
      }),
  };
}

/** The request with its body, or undefined when the body is too large. */
async function readRequest(req: IncomingMessage): Promise<SqsRequest | undefined> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_BODY_BYTES) return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  const url = new URL(req.url ?? '/', 'http://localhost');
  return { method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: req.headers, body: Buffer.concat(chunks) };
}
