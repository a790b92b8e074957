/**
 * Per-principal bounds on a node (src/node/principal-bounds.ts, docs/security.md "Hostile input"),
 * against a real nats-server and node. With authorization on, alice floods long polls and
 * concurrent requests past her bounds and gets `over_limit` naming the bound's setting, while bob,
 * at the same time, sends and receives as usual; the node stays up; and alice's slots come back on
 * every path a request ends by (a reply, a long poll's timeout, an error, her connection gone).
 * With authorization off everyone is `anonymous`, and the bound is per connection.
 */
import { setTimeout as delay } from 'node:timers/promises';
import test, { type ExecutionContext } from 'ava';
import { WharfClient } from '../../src/client/client.ts';
import { ErrorCode, isWharfError, type WharfError } from '../../src/errors.ts';
import { eventually } from '../helpers/eventually.ts';
import { startSecured } from '../helpers/secured.ts';
import { startWharf } from '../helpers/wharf.ts';

const text = (bytes: Uint8Array | undefined) => new TextDecoder().decode(bytes);
const body = (s: string) => new TextEncoder().encode(s);

/** The over_limit error of a refused request. */
async function refused(t: ExecutionContext, request: Promise<unknown>): Promise<WharfError> {
  const err = await t.throwsAsync(request);
  t.true(isWharfError(err, ErrorCode.OverLimit), String(err?.message));
  return err as WharfError;
}

test('a principal past its bounds gets over_limit while another is served; its slots come back on every path', async (t) => {
  t.timeout(180_000);
  const f = await startSecured(t, ['alice@acme', 'bob@globex'], { maxWaitersPerPrincipal: 3, maxPendingPerPrincipal: 5 });
  const alice = await f.client('alice', { maxAttempts: 1 });
  const bob = await f.client('bob', { maxAttempts: 1 });
  await alice.createQueue('acme_jobs');
  await alice.createQueue('acme_sink');
  await bob.createQueue('globex_jobs');

  // Alice holds three long polls: her waiter bound. The fourth is refused before any work.
  const held = [1, 2, 3].map(() => alice.receive('acme_jobs', { waitTimeSeconds: 20 }));
  const waiters = await refused(t, alice.receive('acme_jobs', { waitTimeSeconds: 20 }));
  t.regex(waiters.message, /principal alice has 3 long polls waiting on this node.*WHARF_MAX_WAITERS_PER_PRINCIPAL/);
  t.true(waiters.retryable);

  // Meanwhile bob is served: a long poll of his own, a send, a receive, a delete.
  const bobWaits = bob.receive('globex_jobs', { waitTimeSeconds: 20 });
  await bob.sendMessage('globex_jobs', 'for bob');
  const [bobs] = await bobWaits;
  t.is(text(bobs?.body), 'for bob');
  await bob.deleteMessage('globex_jobs', bobs?.receiptHandle ?? '');

  // Alice's three long polls leave two of her five request slots: a burst of twenty sends gets
  // some through and the rest refused, each one by the pending bound.
  // Bob sends at the same time, unaffected.
  const [burst] = await Promise.all([
    Promise.allSettled(Array.from({ length: 20 }, (_, i) => alice.request('SendMessage', { queue: 'acme_sink', body: body(`burst ${i}`) }))),
    Promise.all(Array.from({ length: 5 }, (_, i) => bob.request('SendMessage', { queue: 'globex_jobs', body: body(`bob ${i}`) }))),
  ]);
  const rejected = burst.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as WharfError);
  t.true(rejected.length > 0, 'some of the burst is refused');
  t.true(burst.some((r) => r.status === 'fulfilled'), 'what fits goes through');
  for (const err of rejected) {
    t.true(isWharfError(err, ErrorCode.OverLimit), err.message);
    t.regex(err.message, /principal alice has 5 requests outstanding on this node.*WHARF_MAX_PENDING_PER_PRINCIPAL/);
  }
  t.true((await bob.receive('globex_jobs', { maxMessages: 10, waitTimeSeconds: 5 })).length > 0);

  // Alice stops. Replies release: three messages answer her three long polls.
  for (const i of [1, 2, 3]) await alice.sendMessage('acme_jobs', `job ${i}`);
  const answered = (await Promise.all(held)).flat();
  t.is(answered.length, 3);
  // Deleted, so that they do not come back after their visibility timeout to answer the polls below.
  for (const m of answered) await alice.deleteMessage('acme_jobs', m.receiptHandle);
  // A long poll's timeout releases: three rounds of three long polls of 1 s, each round at her bound.
  for (let round = 0; round < 3; round++) {
    t.deepEqual(await Promise.all([1, 2, 3].map(() => alice.receive('acme_jobs', { waitTimeSeconds: 1 }))), [[], [], []], `round ${round}`);
  }
  // An error releases: more failing long polls, one after another, than her bound.
  for (let i = 0; i < 5; i++) {
    const err = await t.throwsAsync(alice.receive('acme_missing', { waitTimeSeconds: 5 }));
    t.true(isWharfError(err, ErrorCode.QueueNotFound), String(err?.message));
  }
  // A connection that goes away releases once its requests end: a second connection of alice's
  // takes her three waiter slots (her first one is refused meanwhile), then closes.
  const gone = await f.connection('alice');
  const second = await WharfClient.connect({ connection: gone, cluster: f.cluster, principal: 'alice', maxAttempts: 1 });
  // Their 20 s outlast the check below (at most 15 s, on a loaded machine), which sees them held. A
  // poll refused while the probe below holds a slot asks again at once.
  const holdSlot = async (): Promise<unknown> => {
    for (;;) {
      try {
        return await second.receive('acme_jobs', { waitTimeSeconds: 20 });
      } catch (err) {
        if (!isWharfError(err, ErrorCode.OverLimit)) return [];
        await delay(10);
      }
    }
  };
  const abandoned = [1, 2, 3].map(holdSlot);
  // The probe long-polls a queue with a message always ready (visibility timeout 0 on receive), so
  // when it is let in it gives its slot back at once, and it pauses between attempts far longer
  // than the holders do: it cannot keep a holder out.
  await alice.sendMessage('acme_sink', 'probe');
  await eventually(
    async () => {
      try {
        await alice.receive('acme_sink', { waitTimeSeconds: 1, visibilityTimeout: 0 });
        return undefined;
      } catch (err) {
        return isWharfError(err, ErrorCode.OverLimit);
      }
    },
    { timeoutMs: 15_000, intervalMs: 250, message: "the second connection's long polls hold alice's waiter slots" },
  );
  await gone.close();
  await Promise.all(abandoned);
  await eventually(
    async () => {
      const polls = await Promise.allSettled([1, 2, 3].map(() => alice.receive('acme_jobs', { waitTimeSeconds: 1 })));
      return polls.every((p) => p.status === 'fulfilled');
    },
    { timeoutMs: 30_000, message: 'the gone connection\'s slots are released' },
  );
  // And her sends go through again; the node is up throughout.
  await Promise.all(Array.from({ length: 5 }, (_, i) => alice.request('SendMessage', { queue: 'acme_sink', body: body(`after ${i}`) })));
  const admin = await f.client('admin', { maxAttempts: 1 });
  t.deepEqual((await admin.listQueues()).queues, ['acme_jobs', 'acme_sink', 'globex_jobs']);
});

test('with authorization off, the bound is per connection: one anonymous client past it does not stop another', async (t) => {
  t.timeout(120_000);
  const { client, newClient } = await startWharf(t, { maxWaitersPerPrincipal: 2, maxPendingPerPrincipal: 4 }, { maxAttempts: 1 });
  await client.createQueue('jobs');
  const flooder = await newClient({ maxAttempts: 1 });
  const held = [1, 2].map(() => flooder.receive('jobs', { waitTimeSeconds: 20 }));
  const err = await refused(t, flooder.receive('jobs', { waitTimeSeconds: 20 }));
  t.regex(err.message, /^connection _INBOX\.\S+ has 2 long polls waiting on this node.*WHARF_MAX_WAITERS_PER_PRINCIPAL/);
  // Another anonymous connection long-polls and is answered.
  const other = await newClient({ maxAttempts: 1 });
  const waits = [1, 2].map(() => other.receive('jobs', { waitTimeSeconds: 20 }));
  await client.sendMessage('jobs', 'a');
  await client.sendMessage('jobs', 'b');
  await client.sendMessage('jobs', 'c');
  await client.sendMessage('jobs', 'd');
  const got = [...(await Promise.all(waits)).flat(), ...(await Promise.all(held)).flat()];
  t.deepEqual(got.map((m) => text(m.body)).sort(), ['a', 'b', 'c', 'd']);
});

test('the bytes of a principal’s outstanding requests are bounded: a burst of large sends is refused past it, another principal is served', async (t) => {
  t.timeout(180_000);
  // 300 KB of frames at once: one 256 KiB send always fits alone, a second does not while it waits.
  const f = await startSecured(t, ['alice@acme', 'bob@globex'], { maxPendingBytesPerPrincipal: 300_000 });
  const alice = await f.client('alice', { maxAttempts: 1 });
  const bob = await f.client('bob', { maxAttempts: 1 });
  await alice.createQueue('acme_big');
  await bob.createQueue('globex_jobs');
  const big = new Uint8Array(200_000).fill(0x61);
  const [burst] = await Promise.all([
    Promise.allSettled(Array.from({ length: 10 }, () => alice.request('SendMessage', { queue: 'acme_big', body: big }))),
    Promise.all(Array.from({ length: 5 }, (_, i) => bob.request('SendMessage', { queue: 'globex_jobs', body: body(`bob ${i}`) }))),
  ]);
  const rejected = burst.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as WharfError);
  const sent = burst.filter((r) => r.status === 'fulfilled').length;
  t.true(sent > 0, 'what fits goes through');
  t.true(rejected.length > 0, 'the rest is refused');
  for (const err of rejected) {
    t.true(isWharfError(err, ErrorCode.OverLimit), err.message);
    t.regex(err.message, /principal alice has \d+ bytes of requests outstanding.*WHARF_MAX_PENDING_BYTES_PER_PRINCIPAL/);
  }
  // Nothing refused was stored; what was acknowledged is there, whole.
  const got = await eventually(async () => {
    const { counts } = await alice.getQueueAttributes('acme_big');
    return counts.approximateNumberOfMessages === sent ? counts : undefined;
  }, { message: `acme_big holds the ${sent} acknowledged sends` });
  t.is(got.approximateNumberOfMessages, sent);
  t.is((await bob.getQueueAttributes('globex_jobs')).counts.approximateNumberOfMessages, 5, 'bob was served');
  // Once answered, alice has room again.
  await t.notThrowsAsync(alice.request('SendMessage', { queue: 'acme_big', body: big }));
});
