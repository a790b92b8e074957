/**
 * Authorization end to end (docs/security.md), on a real nats-server configured with what
 * `wharf security init` writes and a node with WHARF_AUTH on: tenants see and reach only their own
 * queues, every action on another tenant's queue is `access_denied`, an admin manages policies, and
 * a tenant's credentials get it nowhere at the NATS level either — no API subject of another
 * principal, no internal subject (partition, replica, peek, heartbeat, manager, inspection, ready),
 * no JetStream or KV subject, no other inbox, no wildcard — while the other tenant's message stays
 * where it was, intact.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { WharfClient } from '../../src/client/client.ts';
import { ErrorCode, isWharfError } from '../../src/errors.ts';
import { buckets } from '../../src/meta/records.ts';
import { encode } from '../../src/protocol/codec.ts';
import type { Action, PrincipalPolicy, Request } from '../../src/protocol/messages.ts';
import { inboxPrefix, subjects } from '../../src/protocol/subjects.ts';
import { clusterName, nodeId } from '../../src/names.ts';
import { startNode } from '../../src/node/node.ts';
import { natsAuthOptions } from '../../src/security/nats-auth.ts';
import { cli } from '../helpers/cli.ts';
import { eventually } from '../helpers/eventually.ts';
import { startNats } from '../helpers/nats-server.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const text = (bytes: Uint8Array | undefined) => new TextDecoder().decode(bytes);

test('tenants reach only their own queues, through the API and through NATS', async (t) => {
  t.timeout(180_000);
  const dir = await tempDir(t, 'wharf-authz-');
  const cluster = `a${Date.now().toString(36)}`;
  const secrets = join(dir, 'secrets');

  // The generator, as an operator runs it.
  const init = await cli(['security', 'init', '--out', secrets, '--cluster', cluster, '--principal', 'alice@acme', '--principal', 'bob@globex', '--principal', 'carol']);
  t.is(init.code, 0, init.stderr);
  const nats = await startNats(t, { configFile: join(secrets, 'nats-auth.conf') });
  const node = await startNode({
    nodeId: 'n1',
    cluster,
    natsUrl: nats.url,
    dataDir: await tempDir(t, 'wharf-data-'),
    httpPort: 0,
    logLevel: 'silent',
    natsUser: 'wharf-node',
    natsPasswordFile: join(secrets, 'wharf-node.password'),
    auth: true,
    authAdmins: 'admin',
  });
  t.teardown(() => node.stop());
  const as = async (user: string) => {
    const client = await WharfClient.connect({ servers: nats.url, cluster, auth: { user, passwordFile: join(secrets, `${user}.password`) }, maxAttempts: 1, timeoutMs: 10_000 });
    t.teardown(() => client.close());
    return client;
  };
  const admin = await as('admin');
  const alice = await as('alice');
  const bob = await as('bob');
  const carol = await as('carol');

  // Before the policies are stored, a tenant may do nothing.
  t.true(isWharfError(await t.throwsAsync(alice.createQueue('acme_orders')), ErrorCode.AccessDenied));
  const applied = await cli(['auth', 'apply', join(secrets, 'principals.json'), '--server', nats.url, '--cluster', cluster, '--user', 'admin', '--password-file', join(secrets, 'admin.password')]);
  t.is(applied.code, 0, applied.stderr);
  const policies = JSON.parse(await readFile(join(secrets, 'principals.json'), 'utf8')) as PrincipalPolicy[];
  t.deepEqual((await admin.listPrincipals()).map((p) => p.name), policies.map((p) => p.name).sort());

  await alice.createQueue('acme_orders');
  await bob.createQueue('globex_orders');
  await bob.createQueue('globex_dlq');
  await bob.sendMessage('globex_orders', 'globex secret');
  await alice.sendMessage('acme_orders', 'acme order');

  // A tenant lists only its own queues; the admin sees all; carol (no grants) sees none.
  t.deepEqual((await alice.listQueues()).queues, ['acme_orders']);
  t.deepEqual((await bob.listQueues()).queues, ['globex_dlq', 'globex_orders']);
  t.deepEqual((await carol.listQueues()).queues, []);
  t.deepEqual((await admin.listQueues()).queues, ['acme_orders', 'globex_dlq', 'globex_orders']);
  t.like(await alice.whoAmI(), { principal: 'alice', authorization: true, admin: false, policy: { tenant: 'acme' } });

  // Every action of alice on globex's queues, by the API she may use: access_denied, each one.
  const handle = 'AAAA';
  const attempts: Array<[Action, Request<Action>]> = [
    ['CreateQueue', { queue: 'globex_new' }],
    ['CreateQueue', { queue: 'acme_leak', attributes: { redrivePolicy: { deadLetterQueue: 'globex_orders', maxReceiveCount: 1 } } }],
    ['SetQueueAttributes', { queue: 'acme_orders', attributes: { redrivePolicy: { deadLetterQueue: 'globex_dlq', maxReceiveCount: 1 } } }],
    ['GetQueueAttributes', { queue: 'globex_orders' }],
    ['SetQueueAttributes', { queue: 'globex_orders', attributes: { visibilityTimeout: 1 } }],
    ['TagQueue', { queue: 'globex_orders', tags: { a: 'b' } }],
    ['ListQueueTags', { queue: 'globex_orders' }],
    ['DeleteQueue', { queue: 'globex_orders' }],
    ['PurgeQueue', { queue: 'globex_orders' }],
    ['SendMessage', { queue: 'globex_orders', body: new Uint8Array([1]) }],
    ['ReceiveMessage', { queue: 'globex_orders', maxMessages: 10 }],
    ['PeekMessages', { queue: 'globex_orders', body: true }],
    ['DeleteMessage', { queue: 'globex_orders', receiptHandle: handle }],
    ['ChangeMessageVisibility', { queue: 'globex_orders', receiptHandle: handle, visibilityTimeout: 0 }],
    ['StartMessageMoveTask', { sourceQueue: 'globex_dlq' }],
    ['StartMessageMoveTask', { sourceQueue: 'acme_orders', destinationQueue: 'globex_orders' }],
    ['ListMessageMoveTasks', { sourceQueue: 'globex_dlq' }],
    ['GetOffsets', { queue: 'globex_orders' }],
    ['ReadStream', { queue: 'globex_orders', partition: 0, offset: 0 }],
    ['PutPrincipal', { policy: { name: 'alice', admin: true, grants: [] } }],
    ['PutPrincipal', { policy: { name: 'alice', grants: [{ queues: '*', permissions: ['receive'] }] } }],
    ['DeletePrincipal', { name: 'bob' }],
    ['ListPrincipals', {}],
  ];
  for (const [action, request] of attempts) {
    const err = await t.throwsAsync(alice.request(action, request), undefined, action);
    t.true(isWharfError(err, ErrorCode.AccessDenied), `${action}: ${String(err?.message)}`);
  }

  // Move tasks are administered with their source queue, without a global admin: bob starts,
  // lists and cancels his own; alice neither sees nor cancels it, nor learns a made-up id exists.
  const { taskId } = await bob.request('StartMessageMoveTask', { sourceQueue: 'globex_dlq' });
  t.deepEqual((await bob.request('ListMessageMoveTasks', {})).tasks.map((task) => task.taskId), [taskId]);
  t.deepEqual((await alice.request('ListMessageMoveTasks', {})).tasks, []);
  t.deepEqual((await admin.request('ListMessageMoveTasks', {})).tasks.map((task) => task.taskId), [taskId]);
  for (const id of [taskId, '00000000-0000-4000-8000-000000000000']) {
    const err = await t.throwsAsync(alice.request('CancelMessageMoveTask', { taskId: id }));
    t.true(isWharfError(err, ErrorCode.AccessDenied), `CancelMessageMoveTask ${id}: ${String(err?.message)}`);
  }
  t.is((await bob.request('CancelMessageMoveTask', { taskId })).task.taskId, taskId);
  t.true(isWharfError(await t.throwsAsync(bob.request('CancelMessageMoveTask', { taskId: '00000000-0000-4000-8000-000000000000' })), ErrorCode.AccessDenied));
  t.true(isWharfError(await t.throwsAsync(admin.request('CancelMessageMoveTask', { taskId: '00000000-0000-4000-8000-000000000000' })), ErrorCode.TaskNotFound));

  // Another principal's name in the subject: the NATS server refuses the publish.
  const forged = await WharfClient.connect({ servers: nats.url, cluster, auth: { user: 'alice', passwordFile: join(secrets, 'alice.password') }, principal: 'bob', maxAttempts: 1, timeoutMs: 5_000 });
  t.teardown(() => forged.close());
  for (const action of ['ReceiveMessage', 'PurgeQueue', 'DeleteQueue'] as const) {
    const err = await t.throwsAsync(forged.request(action, { queue: 'globex_orders' }));
    t.true(isWharfError(err, ErrorCode.AccessDenied), `forged ${action}: ${String(err?.message)}`);
  }
  const asAdmin = await WharfClient.connect({ servers: nats.url, cluster, auth: { user: 'alice', passwordFile: join(secrets, 'alice.password') }, principal: 'admin', maxAttempts: 1, timeoutMs: 5_000 });
  t.teardown(() => asAdmin.close());
  t.true(isWharfError(await t.throwsAsync(asAdmin.putPrincipal({ name: 'alice', admin: true, grants: [] })), ErrorCode.AccessDenied));

  // Raw NATS as alice: every internal subject, wildcard, other inbox, JetStream and KV subject.
  const raw = await connect({ servers: nats.url, ...natsAuthOptions({ user: 'alice', passwordFile: join(secrets, 'alice.password') }) });
  t.teardown(() => raw.close());
  const s = subjects(clusterName(cluster));
  const self = nodeId('n1');
  const kv = buckets(cluster);
  const internal = [
    s.partition(self),
    s.replica(self),
    s.peek(self),
    s.inspectRequest(self),
    s.heartbeat(self),
    s.leaseHeartbeat('bob'),
    s.leaseHeartbeat(),
    s.manager('drain'),
    s.manager('status'),
    s.inspectWatch,
    s.ready('globex_orders'),
    s.metaChanges,
    s.api('PurgeQueue', 'bob'),
    s.nodeApi(self, 'PurgeQueue', 'bob'),
    s.api('PurgeQueue'),
    `$JS.API.STREAM.PURGE.KV_${kv.queues}`,
    `$JS.API.STREAM.DELETE.KV_${kv.principals}`,
    `$KV.${kv.principals}.alice`,
    `$KV.${kv.queues}.globex_orders`,
    `$JS.API.STREAM.MSG.GET.KV_${kv.queues}`,
  ];
  const frame = encode({ v: 1, queue: 'globex_orders', partition: 0, epoch: 2 ** 40, entries: [{ index: 1, op: 'purge' }] });
  for (const subject of internal) {
    const err = await t.throwsAsync(raw.request(subject, frame, { timeout: 3_000 }), undefined, subject);
    // Refused by the server; never an answer from a node.
    t.regex(String(err?.message), /permission|Permissions Violation/i, subject);
    raw.publish(subject, frame);
  }
  const refusedSubscriptions = [
    '>',
    `wharf.>`,
    `${s.allApi}`,
    s.partition('*'),
    s.allHeartbeats,
    s.allLeaseHeartbeats,
    s.allInspect,
    s.metaChanges,
    `${inboxPrefix('bob')}.>`,
    `${inboxPrefix('admin')}.>`,
    '_INBOX.>',
    `$KV.${kv.principals}.>`,
    '$JS.API.>',
  ];
  const refused = new Set<string>();
  const delivered: string[] = [];
  for (const subject of refusedSubscriptions) {
    raw.subscribe(subject, {
      callback: (err, msg) => {
        if (err) refused.add(subject);
        else delivered.push(msg.subject);
      },
    });
  }
  await eventually(() => refused.size === refusedSubscriptions.length, { timeoutMs: 10_000, message: 'every subscription refused' });
  // Traffic that a sniffer would have seen happens meanwhile: bob's receive and delete.
  const [secret] = await bob.receive('globex_orders', { waitTimeSeconds: 5, visibilityTimeout: 1 });
  t.is(text(secret?.body), 'globex secret');
  t.deepEqual(delivered, []);
  t.true(!raw.isClosed(), 'a refused subscription does not close the connection');

  // Nothing alice tried changed globex's queue or the policies: bob's message is still there (it
  // comes back after its visibility timeout), and alice is no admin.
  const [again] = await eventually(async () => {
    const m = await bob.receive('globex_orders', { waitTimeSeconds: 2 });
    return m.length > 0 ? m : undefined;
  });
  t.is(text(again?.body), 'globex secret');
  t.is(again?.receiveCount, 2);
  t.deepEqual((await admin.listQueues()).queues, ['acme_orders', 'globex_dlq', 'globex_orders']);
  t.like(await alice.whoAmI(), { admin: false });
  t.deepEqual((await admin.listPrincipals()).find((p) => p.name === 'alice'), policies.find((p) => p.name === 'alice'));

  // Alice's own work is unaffected, and an admin's grant to carol takes effect at once.
  const [mine] = await alice.receive('acme_orders', { waitTimeSeconds: 5 });
  t.is(text(mine?.body), 'acme order');
  await admin.putPrincipal({ name: 'carol', grants: [{ queues: 'acme_*', permissions: ['peek'] }] });
  t.deepEqual((await carol.listQueues()).queues, ['acme_orders']);
  t.is((await carol.request('PeekMessages', { queue: 'acme_orders' })).messages.length, 1);
  t.true(isWharfError(await t.throwsAsync(carol.receive('acme_orders')), ErrorCode.AccessDenied));
  await admin.deletePrincipal('carol');
  t.true(isWharfError(await t.throwsAsync(carol.request('PeekMessages', { queue: 'acme_orders' })), ErrorCode.AccessDenied));
});

test('the generated configuration holds bcrypt hashes, accepts the right password and refuses none or a wrong one', async (t) => {
  t.timeout(60_000);
  const dir = await tempDir(t, 'wharf-authz-');
  const secrets = join(dir, 'secrets');
  const init = await cli(['security', 'init', '--out', secrets, '--cluster', 'c1', '--principal', 'alice@acme']);
  t.is(init.code, 0, init.stderr);
  const passwords = async () => Promise.all(['wharf-node', 'admin', 'alice'].map((u) => readFile(join(secrets, `${u}.password`), 'utf8')));
  const before = await passwords();
  const again = await cli(['security', 'init', '--out', secrets, '--cluster', 'c1', '--principal', 'alice@acme']);
  t.is(again.code, 0, again.stderr);
  t.deepEqual(await passwords(), before, 'running it again keeps the passwords');
  const conf = await readFile(join(secrets, 'nats-auth.conf'), 'utf8');
  const stored = [...conf.matchAll(/password: "([^"]*)"/g)].map((m) => m[1] ?? '');
  t.is(stored.length, 3);
  for (const hash of stored) t.regex(hash, /^\$2[ab]\$10\$[./A-Za-z0-9]{53}$/);
  for (const password of before) t.false(conf.includes(password.trim()), 'no plaintext password in the configuration');
  const nats = await startNats(t, { configFile: join(secrets, 'nats-auth.conf') });
  const attempt = (options: object): Promise<NatsConnection> => connect({ servers: nats.url, reconnect: false, ...options });
  await t.throwsAsync(attempt({}));
  await t.throwsAsync(attempt({ user: 'alice', pass: 'guess' }));
  // The hash itself is no password either.
  await t.throwsAsync(attempt({ user: 'alice', pass: stored[2] }));
  for (const user of ['wharf-node', 'admin', 'alice']) {
    const ok = await attempt(natsAuthOptions({ user, passwordFile: join(secrets, `${user}.password`) }));
    await ok.close();
  }
});
