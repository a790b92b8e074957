/**
 * Lease heartbeats belong to principals (docs/security.md), on a real nats-server configured by
 * `wharf security init` and a node with WHARF_AUTH on: a lease is held by the receive's principal
 * and consumer name together, so bob beating or saying goodbye under alice's consumer name neither
 * keeps her leases alive nor ends them early; and NATS refuses bob's publish on alice's heartbeat
 * subject.
 *
 * The node's heartbeat timeout is 1.5 s; the queue's visibility timeout (2 minutes) is far beyond
 * every bound here, so a message receivable again was released by the lease keeper. Nothing
 * sleeps: "still held" is a long poll that must come back empty, "released" a bounded poll.
 */
import test from 'ava';
import { WharfClient } from '../../src/client/client.ts';
import { encode } from '../../src/protocol/codec.ts';
import { PROTOCOL_VERSION, type LeaseHeartbeat } from '../../src/protocol/messages.ts';
import { subjects } from '../../src/protocol/subjects.ts';
import { clusterName } from '../../src/names.ts';
import { eventually } from '../helpers/eventually.ts';
import { startSecured } from '../helpers/secured.ts';

const CONSUMER = 'worker-1';

test("another principal's beats and goodbyes under the same consumer name neither keep nor end a principal's leases", async (t) => {
  t.timeout(120_000);
  const f = await startSecured(t, ['alice@acme', 'bob@globex'], { leaseHeartbeatTimeoutMs: 1500 });
  const admin = await f.client('admin', { maxAttempts: 1 });
  await admin.createQueue('acme_jobs', { visibilityTimeout: 120 });

  // Bob beats on his own subject under alice's consumer name, every 200 ms, all along.
  const s = subjects(clusterName(f.cluster));
  const bob = await f.connection('bob');
  const beat = (goodbye: boolean) => {
    const frame: LeaseHeartbeat = goodbye ? { v: PROTOCOL_VERSION, consumer: CONSUMER, goodbye } : { v: PROTOCOL_VERSION, consumer: CONSUMER };
    bob.publish(s.leaseHeartbeat('bob'), encode(frame));
  };
  const bobBeats = setInterval(() => beat(false), 200);
  t.teardown(() => clearInterval(bobBeats));

  // NATS refuses bob's beat on alice's subject.
  const err = await t.throwsAsync(bob.request(s.leaseHeartbeat('alice'), encode({ v: PROTOCOL_VERSION, consumer: CONSUMER, goodbye: true }), { timeout: 3000 }));
  t.regex(String(err?.message), /permission|Permissions Violation/i);

  // Alice receives with the heartbeat, on a connection the test can cut (a crash: no goodbye).
  const aliceConnection = await f.connection('alice');
  const alice = await WharfClient.connect({ connection: aliceConnection, cluster: f.cluster, principal: 'alice', consumer: CONSUMER, heartbeatIntervalMs: 200, maxAttempts: 1 });
  const { messageId } = await admin.sendMessage('acme_jobs', 'job');
  const [held] = await alice.receive('acme_jobs', { heartbeat: true });
  t.is(held?.messageId, messageId);

  // Bob's goodbyes under her name do not end her leases: a long poll of twice the heartbeat
  // timeout gets nothing (a goodbye that counted would release it at the node's next tick).
  beat(true);
  t.deepEqual(await admin.receive('acme_jobs', { waitTimeSeconds: 3 }), [], "bob's goodbye ended nothing");
  beat(true);
  t.deepEqual(await admin.receive('acme_jobs', { waitTimeSeconds: 3 }), [], "alice's beats still keep it");

  // Alice dies without a goodbye; bob keeps beating as `worker-1`. Her lease ends anyway, within
  // the heartbeat timeout, long before the 2-minute visibility timeout.
  await aliceConnection.close();
  const [released] = await eventually(
    async () => {
      const got = await admin.receive('acme_jobs', { waitTimeSeconds: 1 });
      return got.length > 0 ? got : undefined;
    },
    { timeoutMs: 30_000, message: "alice's lease released although bob beats under her consumer name" },
  );
  t.is(released?.messageId, messageId);
  t.is(released?.receiveCount, 2);
});
