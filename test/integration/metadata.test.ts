/**
 * The metadata service against a real nats-server with JetStream: bucket creation (also by several
 * nodes at once), the caches and their watches, compare-and-swap writes, malformed records, and a
 * nats-server restart under a running watch. Every wait is event-driven (`waitFor`) or bounded.
 */
import { randomUUID } from 'node:crypto';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { ErrorCode, isWharfError } from '../../src/errors.ts';
import { Metadata, type Versioned } from '../../src/meta/metadata.ts';
import {
  assignmentKey,
  buckets,
  type Assignment,
  type ManagerLease,
  type NodeRecord,
  type QueueMeta,
} from '../../src/meta/records.ts';
import { DEFAULT_ATTRIBUTES } from '../../src/protocol/attributes.ts';
import { decodeMetaChange, encodeMetaChange, type MetaChangeFrame } from '../../src/protocol/internal.ts';
import { subjects } from '../../src/protocol/subjects.ts';
import { clusterName } from '../../src/names.ts';
import { encodeRecord, ASSIGNMENT } from '../../src/meta/schemas.ts';
import { eventually } from '../helpers/eventually.ts';
import { testLogger } from '../helpers/log.ts';
import { startNats, type NatsServerHandle } from '../helpers/nats-server.ts';

const test = anyTest as TestFn<unknown>;
type T = ExecutionContext<unknown>;

const WAIT_MS = 10_000;

const cluster = () => `t${randomUUID().slice(0, 8)}`;

async function client(t: T, nats: NatsServerHandle): Promise<NatsConnection> {
  const nc = await connect({ servers: nats.url, reconnectTimeWait: 50, maxReconnectAttempts: -1 });
  t.teardown(() => nc.close());
  return nc;
}

async function open(t: T, nc: NatsConnection, name: string, shareChanges = false): Promise<Metadata> {
  const metadata = await Metadata.open(nc, name, { log: testLogger({ test: t.title }), shareChanges });
  t.teardown(() => metadata.close());
  return metadata;
}

/** A server, a connection and a cluster name: what most tests start from. */
async function setup(t: T) {
  const nats = await startNats(t);
  const nc = await client(t, nats);
  return { nats, nc, name: cluster() };
}

function queueMeta(name: string, overrides: Partial<QueueMeta> = {}): QueueMeta {
  return {
    name,
    attributes: { ...DEFAULT_ATTRIBUTES },
    incarnation: 42,
    createdAt: 1_700_000_000_000,
    modifiedAt: 1_700_000_000_000,
    ...overrides,
  };
}

function assignment(queue: string, partition: number, overrides: Partial<Assignment> = {}): Assignment {
  return {
    queue,
    partition,
    incarnation: 42,
    replicas: ['n1', 'n2', 'n3'],
    learners: [],
    primary: 'n1',
    epoch: 1,
    isr: ['n1', 'n2', 'n3'],
    leaving: [],
    updatedAt: 1_700_000_000_000,
    ...overrides,
  };
}

function nodeRecord(id: string, overrides: Partial<NodeRecord> = {}): NodeRecord {
  return { id, boot: 'b1', state: 'active', registeredAt: 1_700_000_000_000, ...overrides };
}

function lease(holder: string, term: number): ManagerLease {
  return { holder, term, renewedAt: 1_700_000_000_000 };
}

/** A handle on a bucket that bypasses Metadata, to write what no Wharf node would. */
async function rawBucket(nc: NatsConnection, name: string): Promise<KV> {
  return new Kvm(nc).open(name);
}

const bytes = (text: string) => new TextEncoder().encode(text);

// ---- open ----------------------------------------------------------------------------------------

/**
 * The buckets Metadata.open makes and watches; the consumer-groups bucket is made by streams on
 * first use (src/meta/groups.ts), the principals bucket by nodes with authorization on
 * (src/meta/principal-store.ts).
 */
function metadataBuckets(cluster: string): string[] {
  const { groups: _groups, principals: _principals, ...opened } = buckets(cluster);
  return Object.values(opened);
}

test('open creates the four buckets (file storage, one replica on a lone server, history 1)', async (t) => {
  const { nc, name } = await setup(t);

  await open(t, nc, name);

  const jsm = await jetstreamManager(nc);
  for (const bucket of metadataBuckets(name)) {
    const info = await jsm.streams.info(`KV_${bucket}`);
    t.is(info.config.num_replicas, 1, bucket);
    t.is(info.config.max_msgs_per_subject, 1, bucket);
    t.is(info.config.storage, 'file', bucket);
  }
});

test('three nodes opening at once all succeed, and opening again binds to the same buckets', async (t) => {
  const { nats, name } = await setup(t);
  const connections = await Promise.all([client(t, nats), client(t, nats), client(t, nats)]);

  const opened = await Promise.all(connections.map((nc) => open(t, nc, name)));
  const first = opened[0]!;
  await first.createQueue(queueMeta('orders'));
  const again = await open(t, connections[1]!, name);

  t.is(again.queue('orders')?.value.name, 'orders');
  for (const metadata of opened) {
    await metadata.waitFor(() => metadata.queue('orders') !== undefined, WAIT_MS);
  }
  const jsm = await jetstreamManager(connections[0]!);
  const streams = await jsm.streams.names().next();
  t.is(streams.filter((s) => s.startsWith(`KV_wharf-${name}-`)).length, 4);
});

test('a node opening later finds every record in its cache as soon as open resolves', async (t) => {
  const { nats, nc, name } = await setup(t);
  const writer = await open(t, nc, name);
  const q = await writer.createQueue(queueMeta('orders'));
  const a = await writer.casAssignment(assignment('orders', 0), 0);
  const n = await writer.putNode(nodeRecord('n1'));
  const l = await writer.casLease(lease('n1', 1), 0);
  await writer.createQueue(queueMeta('gone'));
  t.true(await writer.deleteQueue('gone'));

  const reader = await open(t, await client(t, nats), name);

  t.deepEqual(reader.queue('orders'), q.entry);
  t.is(reader.queue('gone'), undefined);
  t.deepEqual(reader.queues().map((e) => e.value.name), ['orders']);
  t.deepEqual(reader.assignment('orders', 0), { value: assignment('orders', 0), revision: a });
  t.deepEqual(reader.assignments('orders').length, 1);
  t.deepEqual(reader.node('n1'), { value: nodeRecord('n1'), revision: n });
  t.deepEqual(reader.lease(), { value: lease('n1', 1), revision: l });
});

test('open fails with unavailable when the server has no JetStream', async (t) => {
  const nats = await startNats(t, { jetstream: false });
  const nc = await client(t, nats);

  const err = await t.throwsAsync(Metadata.open(nc, cluster(), { openTimeoutMs: 3_000 }));

  t.true(isWharfError(err, ErrorCode.Unavailable), String(err));
});

// ---- watches ---------------------------------------------------------------------------------------

test('creates, updates and deletes reach another node through its watch, in order', async (t) => {
  const { nats, nc, name } = await setup(t);
  const writer = await open(t, nc, name);
  const reader = await open(t, await client(t, nats), name);
  const seen: Array<[string, number | undefined]> = [];
  reader.onQueue((queue, entry) => seen.push([queue, entry?.value.attributes.visibilityTimeout]));

  const { entry } = await writer.createQueue(queueMeta('orders'));
  await reader.waitFor(() => reader.queue('orders') !== undefined, WAIT_MS);
  const attributes = { ...DEFAULT_ATTRIBUTES, visibilityTimeout: 99 };
  const revision = await writer.updateQueue(queueMeta('orders', { attributes }), entry.revision);
  t.not(revision, undefined);
  await reader.waitFor(() => reader.queue('orders')?.revision === revision, WAIT_MS);
  t.is(reader.queue('orders')?.value.attributes.visibilityTimeout, 99);
  t.true(await writer.deleteQueue('orders', revision));
  await reader.waitFor(() => reader.queue('orders') === undefined, WAIT_MS);

  t.deepEqual(seen, [
    ['orders', 30],
    ['orders', 99],
    ['orders', undefined],
  ]);
});

test('assignments, nodes and the lease reach another node through its watch', async (t) => {
  const { nats, nc, name } = await setup(t);
  const writer = await open(t, nc, name);
  const reader = await open(t, await client(t, nats), name);
  const assignmentKeys: string[] = [];
  const nodeIds: string[] = [];
  const leases: Array<Versioned<ManagerLease> | undefined> = [];
  reader.onAssignment((key) => assignmentKeys.push(key));
  reader.onNode((id) => nodeIds.push(id));
  const unsubscribe = reader.onLease((entry) => leases.push(entry));

  const r0 = await writer.casAssignment(assignment('orders', 0), 0);
  await writer.casAssignment(assignment('orders', 1), 0);
  await writer.casAssignment(assignment('audit', 0), 0);
  await writer.putNode(nodeRecord('n2'));
  const l1 = await writer.casLease(lease('n2', 1), 0);
  const r0b = await writer.casAssignment(assignment('orders', 0, { primary: 'n2', epoch: 2 }), r0!);
  await reader.waitFor(
    () => reader.assignment('orders', 0)?.revision === r0b && reader.lease()?.revision === l1 && reader.node('n2') !== undefined,
    WAIT_MS,
  );
  unsubscribe();
  t.true(await writer.deleteAssignment('orders', 1));
  await reader.waitFor(() => reader.assignment('orders', 1) === undefined, WAIT_MS);

  t.deepEqual(
    reader.assignments().map((e) => assignmentKey(e.value.queue, e.value.partition)),
    ['audit.0', 'orders.0'],
  );
  t.deepEqual(reader.assignments('orders').map((e) => e.value.primary), ['n2']);
  t.deepEqual(assignmentKeys, ['orders.0', 'orders.1', 'audit.0', 'orders.0', 'orders.1']);
  t.deepEqual(nodeIds, ['n2']);
  t.deepEqual(reader.nodes().map((e) => e.value.id), ['n2']);
  t.deepEqual(leases, [{ value: lease('n2', 1), revision: l1 }]);
});

test('a successful write is in the writer\'s own cache when it resolves, and its listeners heard it once', async (t) => {
  const { nc, name } = await setup(t);
  const metadata = await open(t, nc, name);
  const heard: string[] = [];
  metadata.onQueue((queue, entry) => heard.push(`${queue}@${entry?.revision ?? 'deleted'}`));

  const { created, entry } = await metadata.createQueue(queueMeta('orders'));
  t.true(created);
  t.deepEqual(metadata.queue('orders'), entry);
  const revision = await metadata.updateQueue(queueMeta('orders', { modifiedAt: 5 }), entry.revision);
  t.is(metadata.queue('orders')?.revision, revision);
  t.true(await metadata.deleteQueue('orders'));
  t.is(metadata.queue('orders'), undefined);
  // The watch delivers the same three revisions later; a sentinel written after them, once seen,
  // proves they came through and changed nothing.
  await metadata.putNode(nodeRecord('sentinel'));
  const sentinel = await metadata.putNode(nodeRecord('sentinel', { boot: 'b2' }));
  const other = await open(t, nc, name);
  await other.waitFor(() => other.node('sentinel')?.revision === sentinel, WAIT_MS);
  await metadata.waitFor(() => metadata.node('sentinel')?.revision === sentinel, WAIT_MS);

  t.deepEqual(heard, [`orders@${entry.revision}`, `orders@${revision}`, 'orders@deleted']);
  t.is(metadata.queue('orders'), undefined);
});

// ---- compare-and-swap ------------------------------------------------------------------------------

test('a CAS on a stale revision returns undefined and leaves the cache as it was', async (t) => {
  const { nats, nc, name } = await setup(t);
  const a = await open(t, nc, name);
  const b = await open(t, await client(t, nats), name);

  const r1 = await a.casAssignment(assignment('orders', 0), 0);
  t.truthy(r1);
  const r2 = await a.casAssignment(assignment('orders', 0, { epoch: 2, primary: 'n2' }), r1!);
  t.truthy(r2);
  t.is(await b.casAssignment(assignment('orders', 0, { epoch: 2, primary: 'n3' }), r1!), undefined);
  t.is(await b.casAssignment(assignment('orders', 0, { epoch: 9 }), 0), undefined);
  await b.waitFor(() => b.assignment('orders', 0)?.revision === r2, WAIT_MS);

  t.deepEqual(a.assignment('orders', 0), { value: assignment('orders', 0, { epoch: 2, primary: 'n2' }), revision: r2 });
  t.deepEqual(b.assignment('orders', 0), a.assignment('orders', 0));
});

test('the manager lease is taken once: a second taker and a stale renewal both fail', async (t) => {
  const { nats, nc, name } = await setup(t);
  const a = await open(t, nc, name);
  const b = await open(t, await client(t, nats), name);

  const [ra, rb] = await Promise.all([a.casLease(lease('a', 1), 0), b.casLease(lease('b', 1), 0)]);
  const winners = [ra, rb].filter((r) => r !== undefined);
  t.is(winners.length, 1);
  const holder = ra !== undefined ? a : b;
  const renewed = await holder.casLease(lease(ra !== undefined ? 'a' : 'b', 1), winners[0]!);
  t.truthy(renewed);
  t.is(await holder.casLease(lease('x', 2), winners[0]!), undefined);

  t.is(holder.lease()?.revision, renewed);
});

test('updateQueue and deleteQueue on a stale revision fail and change nothing', async (t) => {
  const { nc, name } = await setup(t);
  const metadata = await open(t, nc, name);
  const { entry } = await metadata.createQueue(queueMeta('orders'));
  const current = await metadata.updateQueue(queueMeta('orders', { modifiedAt: 2 }), entry.revision);

  t.is(await metadata.updateQueue(queueMeta('orders', { modifiedAt: 3 }), entry.revision), undefined);
  t.false(await metadata.deleteQueue('orders', entry.revision));
  t.false(await metadata.deleteAssignment('orders', 0, 1_000_000));

  t.deepEqual(metadata.queue('orders'), { value: queueMeta('orders', { modifiedAt: 2 }), revision: current });
});

test('createQueue of an existing queue returns the existing record with created false', async (t) => {
  const { nats, nc, name } = await setup(t);
  const a = await open(t, nc, name);
  const b = await open(t, await client(t, nats), name);
  const first = await a.createQueue(queueMeta('orders', { incarnation: 1 }));

  // b may not have heard of it yet: the answer comes from the bucket, not from b's cache.
  const second = await b.createQueue(queueMeta('orders', { incarnation: 2 }));

  t.true(first.created);
  t.false(second.created);
  t.deepEqual(second.entry, first.entry);
  t.is(b.queue('orders')?.value.incarnation, 1);
});

test('a deleted queue can be created again', async (t) => {
  const { nc, name } = await setup(t);
  const metadata = await open(t, nc, name);
  await metadata.createQueue(queueMeta('orders', { incarnation: 1 }));
  await metadata.deleteQueue('orders');

  const again = await metadata.createQueue(queueMeta('orders', { incarnation: 2 }));

  t.true(again.created);
  t.is(metadata.queue('orders')?.value.incarnation, 2);
});

test('writing a malformed record is refused before it reaches the bucket', async (t) => {
  const { nc, name } = await setup(t);
  const metadata = await open(t, nc, name);

  const err = await t.throwsAsync(metadata.casAssignment(assignment('orders', -1), 0));

  t.true(isWharfError(err, ErrorCode.Internal), String(err));
  const raw = await rawBucket(nc, buckets(name).partitions);
  t.is(await raw.get('orders.-1').catch(() => null), null);
});

// ---- malformed records -----------------------------------------------------------------------------

test('malformed values are logged and ignored, by a running watch and by a node opening later', async (t) => {
  const { nats, nc, name } = await setup(t);
  const metadata = await open(t, nc, name);
  const raw = await rawBucket(nc, buckets(name).queues);
  const { entry: good } = await metadata.createQueue(queueMeta('kept'));

  await raw.put('notjson', bytes('{"name":'));
  await raw.put('wrongshape', bytes(JSON.stringify({ name: 'wrongshape', attributes: 'none' })));
  await raw.put('badattr', bytes(JSON.stringify(queueMeta('badattr', { attributes: { ...DEFAULT_ATTRIBUTES, visibilityTimeout: -1 } }))));
  await raw.put('wrongkey', bytes(JSON.stringify(queueMeta('elsewhere'))));
  await raw.put('kept', bytes('garbage over a good record'));
  await raw.put('valid', bytes(JSON.stringify(queueMeta('valid'))));
  // The watch applies in order: once the last write is in, every bad one before it was handled.
  await metadata.waitFor(() => metadata.queue('valid') !== undefined, WAIT_MS);
  const later = await open(t, await client(t, nats), name);

  for (const m of [metadata, later]) {
    t.deepEqual(m.queues().map((e) => e.value.name).sort(), m === metadata ? ['kept', 'valid'] : ['valid']);
    t.is(m.queue('notjson'), undefined);
    t.is(m.queue('wrongshape'), undefined);
    t.is(m.queue('badattr'), undefined);
    t.is(m.queue('wrongkey'), undefined);
    t.is(m.queue('elsewhere'), undefined);
  }
  // The running cache keeps the last good value of a key overwritten with garbage.
  t.deepEqual(metadata.queue('kept'), good);
});

// ---- waiting and closing ---------------------------------------------------------------------------

test('waitFor resolves at once when the predicate holds, and rejects with timeout when it never does', async (t) => {
  const { nc, name } = await setup(t);
  const metadata = await open(t, nc, name);

  await metadata.waitFor(() => true, 1);
  const err = await t.throwsAsync(metadata.waitFor(() => metadata.queue('never') !== undefined, 50));

  t.true(isWharfError(err, ErrorCode.Timeout), String(err));
});

test('close fails pending waits with unavailable and stops the watches', async (t) => {
  const { nats, nc, name } = await setup(t);
  const metadata = await open(t, nc, name);
  const writer = await open(t, await client(t, nats), name);
  const pending = metadata.waitFor(() => metadata.queue('orders') !== undefined, WAIT_MS);

  await metadata.close();
  await writer.createQueue(queueMeta('orders'));
  const check = await open(t, nc, name);
  await check.waitFor(() => check.queue('orders') !== undefined, WAIT_MS);

  const err = await t.throwsAsync(pending);
  t.true(isWharfError(err, ErrorCode.Unavailable), String(err));
  t.is(metadata.queue('orders'), undefined);
});

// ---- failures --------------------------------------------------------------------------------------

test('a write while the nats-server is down fails with unavailable', async (t) => {
  const { nats, nc, name } = await setup(t);
  const metadata = await open(t, nc, name);

  await nats.stop();
  const err = await t.throwsAsync(metadata.createQueue(queueMeta('orders')));

  t.true(isWharfError(err, ErrorCode.Unavailable), String(err));
  t.true(err?.cause !== undefined);
});

test('the watches survive a nats-server restart: changes made after it still arrive', async (t) => {
  const { nats, nc, name } = await setup(t);
  const writer = await open(t, nc, name);
  const reader = await open(t, await client(t, nats), name);
  const { entry } = await writer.createQueue(queueMeta('before'));
  await reader.waitFor(() => reader.queue('before') !== undefined, WAIT_MS);

  await nats.restart();
  // JetStream takes a moment to come back after the clients reconnect; retrying is the caller's job.
  const created = await eventually(async () => (await writer.createQueue(queueMeta('after'))).entry, {
    timeoutMs: 20_000,
    intervalMs: 100,
    message: 'a write after the restart',
  });
  const updated = await writer.updateQueue(queueMeta('before', { modifiedAt: 7 }), entry.revision);
  await writer.putNode(nodeRecord('n9'));

  await reader.waitFor(
    () =>
      reader.queue('after')?.revision === created.revision &&
      reader.queue('before')?.revision === updated &&
      reader.node('n9') !== undefined,
    20_000,
  );
  t.is(reader.queue('before')?.value.modifiedAt, 7);
});

test('the watches come back when the restarted server lost their consumers', async (t) => {
  // A server that comes back without the watches' ephemeral consumers (as when the client fails
  // over to another server of a cluster) delivers nothing to the old watches and says nothing:
  // only re-watching on reconnect notices. Simulated by removing the consumers from the store
  // while the server is down; 2.9 keeps them across a plain restart.
  const { nats, nc, name } = await setup(t);
  const writer = await open(t, nc, name);
  const reader = await open(t, await client(t, nats), name);
  await writer.createQueue(queueMeta('before'));
  await reader.waitFor(() => reader.queue('before') !== undefined, WAIT_MS);

  await nats.stop();
  const streams = join(nats.dir, 'js', 'jetstream', '$G', 'streams');
  const removed: string[] = [];
  for (const bucket of metadataBuckets(name)) {
    const obs = join(streams, `KV_${bucket}`, 'obs');
    removed.push(...(await readdir(obs)));
    await rm(obs, { recursive: true });
  }
  t.true(removed.length >= 8, `consumers removed: ${removed.join(', ')}`);
  await nats.restart();
  const created = await eventually(async () => (await writer.createQueue(queueMeta('after'))).entry, {
    timeoutMs: 20_000,
    intervalMs: 100,
    message: 'a write after the restart',
  });

  await reader.waitFor(() => reader.queue('after')?.revision === created.revision, 20_000);
  t.pass();
});

test('a record that vanished without a delete marker leaves the cache at the next re-watch', async (t) => {
  // An operator's stream purge removes a key with no marker, so no watch event tells of it; the
  // snapshot of the watch made after a reconnect does.
  const { nats, nc, name } = await setup(t);
  const metadata = await open(t, nc, name);
  await metadata.createQueue(queueMeta('doomed'));
  await metadata.createQueue(queueMeta('kept'));
  const jsm = await jetstreamManager(nc);
  const bucket = buckets(name).queues;
  const purged = await jsm.streams.purge(`KV_${bucket}`, { filter: `$KV.${bucket}.doomed` });
  t.is(purged.purged, 1);

  await nats.restart();

  await metadata.waitFor(() => metadata.queue('doomed') === undefined, 20_000);
  t.truthy(metadata.queue('kept'));
});

test('a delete of a key that is not a valid KV key is refused', async (t) => {
  const { nc, name } = await setup(t);
  const metadata = await open(t, nc, name);

  const err = await t.throwsAsync(metadata.deleteQueue('orders.>'));

  t.true(isWharfError(err, ErrorCode.InvalidName), String(err));
});

test('writes are announced on the metadata change subject with the revision the bucket gave them', async (t) => {
  const { nc, name } = await setup(t);
  const writer = await open(t, nc, name, true);
  const heard: MetaChangeFrame[] = [];
  const sub = nc.subscribe(subjects(clusterName(name)).metaChanges, { callback: (_err, msg) => void heard.push(decodeMetaChange(msg.data)) });
  t.teardown(() => sub.unsubscribe());
  await nc.flush();

  const written = await writer.casAssignment(assignment('orders', 0), 0);
  const deleted = await writer.deleteAssignment('orders', 0, written);
  t.true(deleted);

  await eventually(async () => (heard.length >= 2 ? true : undefined), { timeoutMs: WAIT_MS, message: 'two announcements' });
  t.like(heard[0], { bucket: 'partitions', key: assignmentKey('orders', 0), revision: written });
  t.truthy(heard[0]?.value, 'a put carries the record');
  t.like(heard[1], { bucket: 'partitions', key: assignmentKey('orders', 0) });
  t.is(heard[1]?.value, undefined, 'a delete carries none');
  t.true((heard[1]?.revision ?? 0) > (written ?? 0));
});

// An announcement reaches the cache without the watch: these name a key no bucket holds, at
// revisions the bucket never gave, so only the change subject can have brought them.
test('an announced change is applied when newer than the cache, ignored when older or malformed', async (t) => {
  const { nc, name } = await setup(t);
  const sharing = await open(t, nc, name, true);
  const apart = await open(t, nc, name);
  const subject = subjects(clusterName(name)).metaChanges;
  const announce = (revision: number, epoch?: number) =>
    nc.publish(
      subject,
      encodeMetaChange({
        bucket: 'partitions',
        key: assignmentKey('ghost', 0),
        revision,
        ...(epoch === undefined ? {} : { value: encodeRecord(ASSIGNMENT, assignment('ghost', 0, { epoch })).bytes }),
      }),
    );

  announce(10_000, 7);
  await sharing.waitFor(() => sharing.assignment('ghost', 0)?.value.epoch === 7, WAIT_MS);
  t.is(sharing.assignment('ghost', 0)?.revision, 10_000);
  t.is(apart.assignment('ghost', 0), undefined, 'a copy that does not share changes ignores them');

  announce(9_999, 6); // older: ignored
  nc.publish(subject, new TextEncoder().encode('not a change')); // malformed: ignored
  nc.publish(subject, encodeMetaChange({ bucket: 'partitions', key: assignmentKey('ghost', 0), revision: 20_000, value: new TextEncoder().encode('{"queue":1}') }));
  announce(10_001, 8);
  await sharing.waitFor(() => sharing.assignment('ghost', 0)?.value.epoch === 8, WAIT_MS);
  t.is(sharing.assignment('ghost', 0)?.revision, 10_001, 'the malformed record at 20,000 changed nothing');

  announce(10_002); // a delete
  await sharing.waitFor(() => sharing.assignment('ghost', 0) === undefined, WAIT_MS);
  t.pass();
});
