/**
 * What live inspection costs a node: the same load (produce N messages with SDK batching, then
 * receive and delete them all with concurrent loops) against one node (a child process), without an
 * inspector and with one watching (publishing the watch notice and reading every node's frames),
 * alternating rounds so that drift (disk, caches) does not favour either side.
 *
 *   npm run bench:inspect                      # INSPECT_BENCH_MESSAGES (20000), INSPECT_BENCH_ROUNDS (2)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { connect } from '@nats-io/transport-node';
import { WharfClient } from '../src/client/client.ts';
import { decodeFrame, encodeJson, isFrameSubject, WATCH_INTERVAL_MS } from '../src/inspect/protocol.ts';
import { clusterName } from '../src/names.ts';
import { subjects } from '../src/protocol/subjects.ts';
import { startNatsServer } from '../test/helpers/nats-server.ts';
import { spawnNodeProcess } from '../test/helpers/node-process.ts';

const MESSAGES = Number(process.env['INSPECT_BENCH_MESSAGES'] ?? 20_000);
const ROUNDS = Number(process.env['INSPECT_BENCH_ROUNDS'] ?? 2);
const RECEIVE_LOOPS = 8;
const BODY = new Uint8Array(256).fill(120);
const CLUSTER = 'bench-inspect';

interface Run {
  produce: number;
  consume: number;
}

async function load(client: WharfClient, queue: string): Promise<Run> {
  await client.createQueue(queue, { partitions: 2, visibilityTimeout: 60 });
  let t0 = performance.now();
  for (let i = 0; i < MESSAGES; i++) void client.send(queue, BODY);
  await client.flush();
  const produce = MESSAGES / ((performance.now() - t0) / 1000);

  t0 = performance.now();
  let consumed = 0;
  const loop = async () => {
    while (consumed < MESSAGES) {
      const got = await client.receive(queue, { maxMessages: 10, waitTimeSeconds: 1 });
      if (got.length === 0) continue;
      consumed += got.length;
      await client.deleteMessageBatch(
        queue,
        got.map((m, i) => ({ id: String(i), receiptHandle: m.receiptHandle })),
      );
    }
  };
  await Promise.all(Array.from({ length: RECEIVE_LOOPS }, loop));
  const consume = consumed / ((performance.now() - t0) / 1000);
  await client.deleteQueue(queue);
  return { produce, consume };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'wharf-inspect-bench-'));
  const nats = await startNatsServer({ dir: join(dir, 'nats') });
  const node = await spawnNodeProcess({ cluster: CLUSTER, natsUrl: nats.url, dataDir: join(dir, 'data'), tickMs: 100 });
  const client = await WharfClient.connect({ servers: nats.url, cluster: CLUSTER });
  const inspectorNc = await connect({ servers: nats.url });
  const subs = subjects(clusterName(CLUSTER));
  const seen = { frames: 0, events: 0, dropped: 0, bytes: 0 };
  let watching: NodeJS.Timeout | undefined;
  const watch = (on: boolean) => {
    if (watching) clearInterval(watching);
    watching = undefined;
    if (!on) return;
    const notice = () => inspectorNc.publish(subs.inspectWatch, encodeJson({ watcher: 'bench' }));
    notice();
    watching = setInterval(notice, WATCH_INTERVAL_MS);
  };
  inspectorNc.subscribe(subs.allInspect, {
    callback: (err, msg) => {
      if (err || !isFrameSubject(subs, msg.subject)) return;
      const frame = decodeFrame(msg.data);
      seen.frames++;
      seen.events += frame.events.length;
      seen.dropped += frame.dropped;
      seen.bytes += msg.data.byteLength;
    },
  });

  const results: { off: Run[]; on: Run[] } = { off: [], on: [] };
  try {
    // Warm-up, not counted: the first queue pays for JIT and RocksDB's first files.
    await load(client, 'warmup');
    for (let round = 0; round < ROUNDS; round++) {
      for (const mode of round % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const)) {
        watch(mode === 'on');
        if (mode === 'on') await inspectorNc.flush();
        const run = await load(client, `q-${mode}-${round}`);
        results[mode].push(run);
        console.log(`round ${round + 1} inspector ${mode.padEnd(3)}: produce ${run.produce.toFixed(0)} msg/s, receive+delete ${run.consume.toFixed(0)} msg/s`);
      }
      // The node stops publishing WATCH_TTL after the last notice; the next "off" run must not overlap.
      watch(false);
      await new Promise((r) => setTimeout(r, 6500));
    }
  } finally {
    watch(false);
    await client.close();
    await inspectorNc.close();
    await node.stop();
    await nats.stop();
    await rm(dir, { recursive: true, force: true });
  }
  const produceOff = median(results.off.map((r) => r.produce));
  const produceOn = median(results.on.map((r) => r.produce));
  const consumeOff = median(results.off.map((r) => r.consume));
  const consumeOn = median(results.on.map((r) => r.consume));
  console.log('');
  console.log(`${MESSAGES} messages of ${BODY.byteLength} bytes per run, ${ROUNDS} runs each, medians:`);
  console.log(`  produce         no inspector ${produceOff.toFixed(0)} msg/s, inspector watching ${produceOn.toFixed(0)} msg/s, ratio ${(produceOn / produceOff).toFixed(3)}`);
  console.log(`  receive+delete  no inspector ${consumeOff.toFixed(0)} msg/s, inspector watching ${consumeOn.toFixed(0)} msg/s, ratio ${(consumeOn / consumeOff).toFixed(3)}`);
  console.log(`  the inspector received ${seen.frames} frames, ${seen.events} events (${seen.dropped} sampled away), ${(seen.bytes / 1024).toFixed(0)} KiB`);
}

await main();
