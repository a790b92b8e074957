import { startNatsServer } from '../test/helpers/nats-server.ts';
import { startNode } from '../src/node/node.ts';
import { WharfClient } from '../src/client/client.ts';
import { mkdtempSync } from 'node:fs';
const nats = await startNatsServer();
const node = await startNode({ nodeId: 'n1', cluster: 'rep', natsUrl: nats.url, dataDir: mkdtempSync('/tmp/repro/d'), httpPort: 0, tickMs: 20, logLevel: process.env.LL ?? 'warn' });
const c = await WharfClient.connect({ servers: nats.url, cluster: 'rep' });
const t0 = Date.now();
await c.createQueue('orders', { visibilityTimeout: 45, retentionPeriod: Number(process.env.RET ?? 120), partitions: 2 });
console.log('created', Date.now() - t0);
for (let i = 0; i < 40; i++) {
  try { const a = await c.getQueueAttributes('orders'); console.log('ok after', Date.now() - t0, JSON.stringify(a.counts)); break; }
  catch (e) { console.log('err', Date.now() - t0, (e as Error).message); await new Promise(r => setTimeout(r, 500)); }
}
await c.close(); await node.stop(); await nats.stop();
