/**
 * Hostile input on the internal subjects (docs/security.md): with fast-check, random bytes, random
 * MessagePack values, truncated and oversized frames, and well-formed frames with forged fields —
 * log fetches and snapshot pages with forged epochs, followers, positions and copy ids, lease-release
 * and silence questions for any partition and epoch, partition
 * requests for partitions and queues that do not exist and read-only ops with absurd bounds, peek
 * pages with forged cursors — on the partition, replica and peek subjects of a node, plus garbage on
 * its inspection request subject, the cluster manager's subjects, the metadata change subject, and
 * forged heartbeats.
 *
 * Authorization keeps these subjects from clients (test/integration/authorization.test.ts); this is
 * about a node surviving whatever reaches it. Every request gets exactly one reply, a well-formed
 * envelope whose error (if any) has a code of ErrorCode and is never `internal`; afterwards the node
 * process is alive, still serves, and its control queue holds exactly its 200 messages, intact.
 * The seed is logged; FUZZ_SEED=<n> replays a run.
 */
import { randomBytes } from 'node:crypto';
import test from 'ava';
import fc from 'fast-check';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { WharfClient } from '../../src/client/client.ts';
import { ErrorCode } from '../../src/errors.ts';
import { clusterName } from '../../src/names.ts';
import { decodeReply, encode } from '../../src/protocol/codec.ts';
import { MANAGER_ACTIONS, subjects } from '../../src/protocol/subjects.ts';
import { eventually } from '../helpers/eventually.ts';
import { startNats } from '../helpers/nats-server.ts';
import { startNodeProcess } from '../helpers/node-process.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const CONTROL = 'control';
const CONTROL_MESSAGES = 200;
const RUNS = Number(process.env["FUZZ_RUNS"] ?? 150);
const REQUEST_TIMEOUT_MS = 10_000;
const CODES: ReadonlySet<string> = new Set<string>(Object.values(ErrorCode));

const nat = fc.oneof(fc.nat({ max: 10 }), fc.nat(), fc.constant(Number.MAX_SAFE_INTEGER), fc.constant(2 ** 53 + 2));
const queue = fc.constantFrom(CONTROL, 'missing', 'x'.repeat(80));
const partition = fc.oneof(fc.constant(0), fc.nat({ max: 70 }), fc.constant(2 ** 31));
const nodeName = fc.constantFrom('n1', 'ghost', 'n1-old');

/**
 * Log fetches and snapshot pages a follower could send, with every field forged but the epoch, which
 * stays at or below the partitions' (1): a higher one fences the primary for good (the known bug
 * shown by the second test below).
 */
const forgedEpoch = fc.constantFrom(0, 1);
const replicaFrame = fc.oneof(
  fc.record({ queue, partition, follower: nodeName, epoch: forgedEpoch, from: nat, lastEpoch: nat, token: fc.double(), learner: fc.boolean() }),
  fc.record({ queue, partition, follower: nodeName, epoch: forgedEpoch, copy: fc.string({ maxLength: 64 }), page: nat }),
  // Lease-release and silence questions: answered from what the node saw, they change nothing.
  fc.record({ queue, partition, incarnation: nat, released: nat }),
  fc.record({ queue, partition, incarnation: nat, silentBelow: nat }),
);

/** Partition requests that only read (a forged write from a node's credentials is a node's write). */
const partitionFrame = fc.record({
  queue,
  partition,
  op: fc.oneof(
    fc.constant({ type: 'counts' }),
    fc.record({ type: fc.constant('read'), from: nat, max: nat, maxBytes: nat }),
    fc.record({ type: fc.constant('findOffset'), timestamp: nat }),
    fc.record({ type: fc.constant('offsets') }),
    fc.record({ type: fc.constant('groups') }),
    // Malformed writes: refused by the schema before anything runs.
    fc.record({ type: fc.constant('send'), messages: fc.constant([{ record: { id: 1 }, delayMs: -1 }]) }),
    fc.record({ type: fc.constant('delete'), items: fc.array(fc.record({ offset: fc.integer({ min: -5, max: -1 }), seq: nat }), { minLength: 1, maxLength: 3 }) }),
    fc.record({ type: fc.constantFrom('purge!', 'receive', 'changeVisibility', '__proto__') }),
  ),
});

const peekFrame = fc.record({
  queue,
  partition,
  from: fc.oneof(fc.record({ phase: fc.constant('m'), offset: nat }), fc.record({ phase: fc.constant('d'), due: nat, seq: nat })),
  states: fc.subarray(['ready', 'inFlight', 'delayed']),
  limit: fc.oneof(fc.nat({ max: 200 }), nat),
  budget: nat,
  maxBytes: nat,
  body: fc.boolean(),
  retentionMs: nat,
});

/** A frame: random bytes, a random value, a forged frame, or one of those cut short or blown up. */
function frames(wellFormed: fc.Arbitrary<unknown>): fc.Arbitrary<Uint8Array> {
  const encoded = wellFormed.map((v) => encode(v));
  return fc.oneof(
    fc.uint8Array({ maxLength: 256 }),
    fc.anything({ maxDepth: 3 }).map((v) => encode(v)),
    encoded,
    encoded,
    fc.tuple(encoded, fc.nat()).map(([bytes, cut]) => bytes.subarray(0, cut % Math.max(bytes.length, 1))),
    fc.tuple(encoded, fc.constantFrom(64 * 1024, 1024 * 1024, 7 * 1024 * 1024)).map(([bytes, pad]) => {
      const big = new Uint8Array(bytes.length + pad);
      big.set(bytes);
      return big;
    }),
  );
}

test('forged, truncated and oversized frames on the internal subjects leave the node up and its data intact', async (t) => {
  t.timeout(600_000);
  const seed = Number(process.env['FUZZ_SEED'] ?? Date.now() % 2 ** 31);
  t.log(`seed ${seed} (FUZZ_SEED=${seed} replays this run)`);
  const nats = await startNats(t);
  const cluster = `i${randomBytes(4).toString('hex')}`;
  const node = await startNodeProcess(t, { cluster, natsUrl: nats.url, dataDir: await tempDir(t, 'wharf-data-'), nodeId: 'n1' });
  const client = await WharfClient.connect({ servers: nats.url, cluster, maxAttempts: 3 });
  t.teardown(() => client.close());
  const nc: NatsConnection = await connect({ servers: nats.url, name: 'wharf-fuzz-internal' });
  t.teardown(() => nc.close());

  await client.createQueue(CONTROL, { partitions: 2 });
  const bodies = Array.from({ length: CONTROL_MESSAGES }, (_, i) => `control-${i}-${randomBytes(4).toString('hex')}`);
  for (let i = 0; i < CONTROL_MESSAGES; i += 10) {
    const reply = await client.sendMessageBatch(CONTROL, bodies.slice(i, i + 10).map((body, j) => ({ id: `c${j}`, body: Buffer.from(body) })));
    t.is(reply.successful.length, 10);
  }

  const s = subjects(clusterName(cluster));
  const findings: string[] = [];
  const counts = new Map<string, number>();
  /** One request: exactly one well-formed reply, never `internal`. */
  const ask = async (label: string, subject: string, data: Uint8Array) => {
    let reply: Uint8Array;
    try {
      reply = (await nc.request(subject, data, { timeout: REQUEST_TIMEOUT_MS })).data;
    } catch (err) {
      // The server refuses a frame above max_payload (8 MB) before anyone sees it.
      if (data.length > 8 * 1024 * 1024 - 1024) return;
      findings.push(`${label}: no reply (${(err as Error).message}) to ${data.length} bytes`);
      return;
    }
    try {
      decodeReply(reply);
      counts.set(`${label} ok`, (counts.get(`${label} ok`) ?? 0) + 1);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      counts.set(`${label} ${String(code)}`, (counts.get(`${label} ${String(code)}`) ?? 0) + 1);
      if (typeof code !== 'string' || !CODES.has(code) || code === ErrorCode.Internal) findings.push(`${label}: ${String(code)} ${(err as Error).message.slice(0, 200)}`);
    }
  };

  const families: Array<[string, string, fc.Arbitrary<Uint8Array>]> = [
    ['replica', s.replica('n1'), frames(replicaFrame)],
    ['partition', s.partition('n1'), frames(partitionFrame)],
    ['peek', s.peek('n1'), frames(peekFrame)],
  ];
  for (const [label, subject, arb] of families) {
    await fc.assert(
      fc.asyncProperty(arb, async (data) => {
        await ask(label, subject, data);
      }),
      { seed, numRuns: RUNS },
    );
  }
  // Garbage where JSON or a watch notice is expected: the manager answers or ignores it, the
  // inspector ignores it, and a forged heartbeat of a node that does not exist changes nothing.
  const junk = fc.sample(frames(fc.anything({ maxDepth: 2 })), { seed, numRuns: 40 });
  for (const data of junk) {
    nc.publish(s.inspectRequest('n1'), data.subarray(0, 4096));
    nc.publish(s.inspectWatch, data.subarray(0, 4096));
    nc.publish(s.heartbeat('ghost'), data.subarray(0, 4096));
    nc.publish(s.leaseHeartbeat('anonymous'), data.subarray(0, 4096));
    nc.publish(s.metaChanges, data.subarray(0, 4096));
    for (const action of MANAGER_ACTIONS.filter((a) => a === 'status')) {
      await nc.request(s.manager(action), data.subarray(0, 4096), { timeout: REQUEST_TIMEOUT_MS }).catch(() => undefined);
    }
  }
  nc.publish(s.heartbeat('ghost'), JSON.stringify({ v: 1, node: 'ghost', boot: 'x', at: Date.now(), partitions: [{ queue: CONTROL, partition: 0, epoch: 2 ** 40, primary: true }] }));
  await nc.flush();

  t.log([...counts.entries()].map(([k, n]) => `${k}: ${n}`).join(', '));
  t.deepEqual(findings, [], 'every internal request got one well-formed reply, never internal');
  t.true(node.running, 'the node process is still alive');

  // Forged heartbeats and manager requests may make the manager look again: wait until it serves.
  const fenced = Date.now();
  await eventually(async () => (await client.getQueueAttributes(CONTROL)).counts.approximateNumberOfMessages === CONTROL_MESSAGES, {
    timeoutMs: 60_000,
    message: 'the control queue serves again',
  });
  t.log(`the control queue served again ${Date.now() - fenced} ms after the fuzzing`);

  // Nothing acknowledged was lost or changed: the control queue delivers exactly its messages.
  const got: string[] = [];
  for (let empty = 0; got.length < CONTROL_MESSAGES && empty < 20; ) {
    const batch = await client.receive(CONTROL, { maxMessages: 100, waitTimeSeconds: 1, visibilityTimeout: 600 });
    if (batch.length === 0) empty++;
    got.push(...batch.map((m) => new TextDecoder().decode(m.body)));
  }
  t.deepEqual(got.sort(), [...bodies].sort(), 'the control queue delivered exactly its messages, intact');
  const after = await client.getQueueAttributes(CONTROL);
  t.like(after.counts, { approximateNumberOfMessages: 0, approximateNumberOfMessagesNotVisible: CONTROL_MESSAGES });
});

// A primary takes a follower's higher epoch as news of a newer assignment and steps down, persisting
// it. Only a connection with node credentials can send such a fetch; the manager then fences above
// every epoch the replicas reported, so the partition serves again. An epoch past MAX_EPOCH is refused.
test('a log fetch with a forged higher epoch does not stop the partition for good', async (t) => {
  t.timeout(120_000);
  const nats = await startNats(t);
  const cluster = `e${randomBytes(4).toString('hex')}`;
  await startNodeProcess(t, { cluster, natsUrl: nats.url, dataDir: await tempDir(t, 'wharf-data-'), nodeId: 'n1' });
  const client = await WharfClient.connect({ servers: nats.url, cluster, maxAttempts: 3 });
  t.teardown(() => client.close());
  const nc = await connect({ servers: nats.url });
  t.teardown(() => nc.close());
  await client.createQueue(CONTROL);
  await client.sendMessage(CONTROL, 'kept');
  const fetch = (epoch: number) => ({ queue: CONTROL, partition: 0, follower: 'ghost', epoch, from: 0, lastEpoch: 0, token: 1, learner: false });
  const subject = subjects(clusterName(cluster)).replica('n1');

  const huge = await nc.request(subject, encode(fetch(2 ** 53 + 2)), { timeout: REQUEST_TIMEOUT_MS });
  const refused = t.throws(() => decodeReply(huge.data));
  t.is((refused as { code?: string } | undefined)?.code, ErrorCode.InvalidRequest, 'an epoch past MAX_EPOCH is malformed');

  await nc.request(subject, encode(fetch(1000)), { timeout: REQUEST_TIMEOUT_MS });
  const [m] = await eventually(async () => {
    const got = await client.receive(CONTROL, { waitTimeSeconds: 1 }).catch(() => []);
    return got.length > 0 ? got : undefined;
  }, { timeoutMs: 30_000, message: 'the partition serves again' });
  t.is(new TextDecoder().decode(m?.body), 'kept');
});
