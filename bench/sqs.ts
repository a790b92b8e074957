/**
 * `npm run bench:sqs`: the SQS-compatible endpoint through the official AWS SDK v3 against the
 * native NATS API through WharfClient, on the same single node (a child process) and nats-server,
 * 1 KiB messages, the same shapes on both sides so the protocol is what differs: batches of 10
 * (SQS's largest) sent by `concurrency` loops, then `concurrency` loops each receiving up to 10
 * and deleting them with one batch delete. Each side has its own queue.
 *
 * Environment:
 *   BENCH_SQS_MESSAGES      messages per phase                 (20,000)
 *   BENCH_SQS_CONCURRENCY   concurrent send / receive loops    (16)
 *   BENCH_KEEP=1            keep the temp dir (store and logs)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from 'node:http';
import { CreateQueueCommand, DeleteMessageBatchCommand, ReceiveMessageCommand, SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { WharfClient } from '../src/client/client.ts';
import { spawnNodeProcess } from '../test/helpers/node-process.ts';
import { startNatsServer } from './nats.ts';
import { fmt, ratio, renderTable, throughput, type Throughput } from './stats.ts';
import { installSignalHandlers, onCleanup, runCleanups } from './util.ts';

const MESSAGES = Number(process.env['BENCH_SQS_MESSAGES'] ?? 20_000);
const CONCURRENCY = Number(process.env['BENCH_SQS_CONCURRENCY'] ?? 16);
const BATCH = 10;
const BODY = 'x'.repeat(1024);
const CLUSTER = 'bench-sqs';

/** One side of the comparison: send a batch of bodies, receive up to 10 (their handles), delete handles. */
interface Side {
  send(bodies: string[]): Promise<void>;
  receive(): Promise<string[]>;
  delete(handles: string[]): Promise<void>;
}

async function produce(side: Side): Promise<Throughput> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < MESSAGES) {
        const n = Math.min(BATCH, MESSAGES - next);
        next += n;
        await side.send(Array.from({ length: n }, () => BODY));
      }
    }),
  );
  return throughput(MESSAGES, performance.now() - started);
}

async function consume(side: Side): Promise<Throughput> {
  let done = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (done < MESSAGES) {
        const handles = await side.receive();
        if (handles.length === 0) continue;
        await side.delete(handles);
        done += handles.length;
      }
    }),
  );
  return throughput(done, performance.now() - started);
}

async function main(): Promise<void> {
  installSignalHandlers();
  const dir = await mkdtemp(join(tmpdir(), 'wharf-bench-sqs-'));
  if (process.env['BENCH_KEEP'] !== '1') onCleanup('temp dir', () => rm(dir, { recursive: true, force: true }));
  const nats = await startNatsServer(join(dir, 'nats'));
  onCleanup('nats-server', async () => nats.kill('SIGTERM'));
  const node = await spawnNodeProcess({
    nodeId: 'n1',
    cluster: CLUSTER,
    natsUrl: nats.url,
    dataDir: join(dir, 'data'),
    logLevel: 'info',
    env: { WHARF_TICK_MS: '100', WHARF_SQS_PORT: '0', WHARF_SQS_ALLOW_UNSIGNED: 'true' },
    readyTimeoutMs: 60_000,
    logFile: join(dir, 'node.log'),
  });
  onCleanup('node', async () => void (await node.stop()));
  const ready = node.stdout.split('\n').find((l) => l.includes('"node ready"')) ?? '';
  const sqsPort = (JSON.parse(ready) as { sqsPort?: number }).sqsPort;
  if (sqsPort === undefined) throw new Error(`the node did not report its SQS port: ${ready || node.stdout.slice(-2000)}`);

  const sqs = new SQSClient({
    endpoint: `http://127.0.0.1:${sqsPort}`,
    region: 'us-east-1',
    credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
    requestHandler: new NodeHttpHandler({ httpAgent: new Agent({ keepAlive: true, maxSockets: CONCURRENCY * 2 }) }),
  });
  onCleanup('sqs client', async () => sqs.destroy());
  const wharf = await WharfClient.connect({ servers: nats.url, cluster: CLUSTER });
  onCleanup('wharf client', () => wharf.close());

  const QueueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'sqs-api' }))).QueueUrl;
  await wharf.createQueue('native-api');
  const entryIds = Array.from({ length: BATCH }, (_, i) => `e${i}`);
  const viaSqs: Side = {
    send: async (bodies) => void (await sqs.send(new SendMessageBatchCommand({ QueueUrl, Entries: bodies.map((MessageBody, i) => ({ Id: entryIds[i] as string, MessageBody })) }))),
    receive: async () => ((await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: BATCH, WaitTimeSeconds: 1 }))).Messages ?? []).map((m) => m.ReceiptHandle as string),
    delete: async (handles) => void (await sqs.send(new DeleteMessageBatchCommand({ QueueUrl, Entries: handles.map((ReceiptHandle, i) => ({ Id: entryIds[i] as string, ReceiptHandle })) }))),
  };
  const encoder = new TextEncoder();
  const native: Side = {
    send: async (bodies) => void (await wharf.sendMessageBatch('native-api', bodies.map((b, i) => ({ id: entryIds[i] as string, body: encoder.encode(b) })))),
    receive: async () => (await wharf.receive('native-api', { maxMessages: BATCH, waitTimeSeconds: 1 })).map((m) => m.receiptHandle),
    delete: async (handles) => void (await wharf.deleteMessageBatch('native-api', handles.map((receiptHandle, i) => ({ id: entryIds[i] as string, receiptHandle })))),
  };

  const results = {
    sqs: { produce: await produce(viaSqs), consume: await consume(viaSqs) },
    native: { produce: await produce(native), consume: await consume(native) },
  };
  const row = (name: string, key: 'produce' | 'consume') => [
    name,
    fmt(results.sqs[key].perSecond, 'count'),
    fmt(results.native[key].perSecond, 'count'),
    fmt(ratio(results.sqs[key].perSecond, results.native[key].perSecond), 'ratio'),
  ];
  console.log(`SQS API (AWS SDK v3, JSON protocol, HTTP keep-alive) vs native API (WharfClient over NATS)`);
  console.log(`one node, ${MESSAGES} messages of 1 KiB per phase, batches of ${BATCH}, ${CONCURRENCY} loops; ${cpus().length} cores, load ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  console.log(renderTable(['msgs/s', 'SQS API', 'native', 'SQS / native'], [row('produce', 'produce'), row('receive+delete', 'consume')]));
}

main().then(
  () => runCleanups(),
  async (err: unknown) => {
    console.error(err);
    await runCleanups();
    process.exitCode = 1;
  },
);
