/**
 * A cluster's report of itself to its deployment (src/deployment/cluster-report.ts) in both models,
 * which host of an independent-hosts cluster writes it,
 * the receipt handles of split queues (src/protocol/part-receipt.ts), and the checks on a route read
 * back from the deployment's metadata.
 */
import test from 'ava';
import { buildView, DEFAULT_DECISION_OPTIONS, keyOf, type AssignmentView, type Heard } from '../../actors/manager/view.ts';
import { rank } from '../../actors/hosts/rendezvous.ts';
import { hostsClusterRecord, hostsReporter, primaryClusterRecord } from '../../src/deployment/cluster-report.ts';
import { isWharfError } from '../../src/errors.ts';
import { ROUTE } from '../../src/meta/deployment-records.ts';
import { checkRecord } from '../../src/meta/schemas.ts';
import type { ManagerStatus } from '../../src/manager/status.ts';
import type { Assignment } from '../../src/meta/records.ts';
import { creationAttributes } from '../../src/protocol/attributes.ts';
import { parsePartReceipt, partReceipt } from '../../src/protocol/part-receipt.ts';

function status(alive: string[], assignments: Array<{ primary: string | null; isr: string[] }>): ManagerStatus {
  const ids = ['n1', 'n2', 'n3'];
  return {
    manager: 'n1',
    active: true,
    holder: 'n1',
    term: 1,
    nodes: ids.map((id) => ({ id, state: 'active', liveness: alive.includes(id) ? 'alive' : 'dead', silentMs: 0, boot: null, store: null, stopping: false })),
    assignments: assignments.map((a, partition) => ({
      queue: 'q',
      partition,
      incarnation: 1,
      replicas: ids,
      learners: [],
      primary: a.primary,
      epoch: 1,
      isr: a.isr,
      leaving: [],
      updatedAt: 0,
      revision: 1,
      reports: [{ node: a.primary ?? 'n1', role: 'primary', epoch: 1, lastEpoch: 1, logEnd: 10, commitIndex: 7, lag: 0, newStore: false }],
    })),
    drains: [],
  };
}

test('a cluster is healthy, degraded or failing as its manager sees its nodes and partitions', (t) => {
  const all = ['n1', 'n2', 'n3'];
  const healthy = primaryClusterRecord('c', status(all, [{ primary: 'n1', isr: all }]), 1, 5);
  t.like(healthy, { name: 'c', model: 'primary', health: 'healthy', reason: '', nodes: 3, alive: 3, queues: 1, partitions: 1, committed: 7, reporter: 'n1', reportedAt: 5 });

  const degraded = primaryClusterRecord('c', status(['n1', 'n2'], [{ primary: 'n1', isr: ['n1', 'n2'] }]), 1, 5);
  t.like(degraded, { health: 'degraded', alive: 2, underReplicated: 1 });
  t.regex(degraded.reason, /2 of 3 nodes alive/);

  const leaderless = primaryClusterRecord('c', status(all, [{ primary: null, isr: all }]), 1, 5);
  t.like(leaderless, { health: 'failing', leaderless: 1 });

  const minority = primaryClusterRecord('c', status(['n1'], [{ primary: 'n1', isr: ['n1'] }]), 1, 5);
  t.like(minority, { health: 'failing' });
  t.regex(minority.reason, /1 of 3 nodes alive/);
});

test('a part receipt names the cluster that issued the handle, and nothing else parses as one', (t) => {
  const handle = 'r1.abc.0.1z.2';
  t.deepEqual(parsePartReceipt(partReceipt('cluster-a', handle)), { cluster: 'cluster-a', handle });
  for (const bad of ['', 'r1.abc.0.1z.2', 'p1.', 'p1.cluster', 'p1.cluster.', 'p1..x']) {
    t.true(isWharfError(t.throws(() => parsePartReceipt(bad)), 'invalid_receipt_handle'), bad);
  }
});

test('a route read back is checked: attributes as a CreateQueue, one part per cluster, at least one part', (t) => {
  const route = { queue: 'q', attributes: creationAttributes({}), parts: [{ cluster: 'a', state: 'active', since: 1 }], createdAt: 1, updatedAt: 1 };
  t.is(checkRecord(ROUTE, 'q', route).parts.length, 1);
  t.throws(() => checkRecord(ROUTE, 'q', { ...route, parts: [] }));
  t.throws(() => checkRecord(ROUTE, 'q', { ...route, parts: [route.parts[0], route.parts[0]] }), { message: /at most one part/ });
  t.throws(() => checkRecord(ROUTE, 'q', { ...route, attributes: { visibilityTimeout: -1 } }));
  t.throws(() => checkRecord(ROUTE, 'other', route), { message: /belongs under key q/ });
});

const HOSTS = ['h1', 'h2', 'h3'];
const FAILURE_MS = DEFAULT_DECISION_OPTIONS.failureTimeoutMs;

/** A keeper's view at `now` of three hosts, `alive` heard just now and the others silent for the failure timeout, with one shard per host. */
function hostsView(alive: string[], shards: Array<{ primary: string | null; isr: string[] }>) {
  const now = 100_000;
  const heard = new Map<string, Heard>();
  for (const h of HOSTS) {
    const reports = new Map(shards.map((_, partition) => [keyOf({ queue: 'q', partition }), { queue: 'q', partition, role: 'primary' as const, epoch: 1, lastEpoch: 1, logEnd: 10, commitIndex: 4 }]));
    heard.set(h, { boot: `${h}-boot`, state: 'active', at: alive.includes(h) ? now : now - FAILURE_MS, reports });
  }
  const assignments = new Map<string, AssignmentView>();
  shards.forEach((s, partition) => {
    const value: Assignment = { queue: 'q', partition, incarnation: 1, replicas: HOSTS, learners: [], primary: s.primary, epoch: 1, isr: s.isr, leaving: [], updatedAt: 0 };
    assignments.set(keyOf(value), { value, revision: 1, since: 0 });
  });
  return buildView({ now, wall: 5, options: DEFAULT_DECISION_OPTIONS, listeningSince: 0, queues: new Map(), records: new Map(), assignments, heard, moves: new Map() });
}

test('a hosts cluster reports with model hosts: hosts alive, shards without a writer, under-replicated shards', (t) => {
  const healthy = hostsClusterRecord('c', hostsView(HOSTS, [{ primary: 'h1', isr: HOSTS }, { primary: 'h2', isr: HOSTS }]), 'h2', 1, 5);
  t.like(healthy, { name: 'c', model: 'hosts', health: 'healthy', reason: '', nodes: 3, alive: 3, queues: 1, partitions: 2, leaderless: 0, committed: 8, reporter: 'h2', reportedAt: 5 });

  const degraded = hostsClusterRecord('c', hostsView(['h1', 'h2'], [{ primary: 'h1', isr: ['h1', 'h2'] }]), 'h1', 1, 5);
  t.like(degraded, { health: 'degraded', alive: 2, underReplicated: 1 });
  t.is(degraded.reason, '2 of 3 hosts alive; 1 shards under-replicated');

  const writerless = hostsClusterRecord('c', hostsView(['h1', 'h2'], [{ primary: null, isr: HOSTS }]), 'h1', 1, 5);
  t.like(writerless, { health: 'failing', leaderless: 1 });
  t.regex(writerless.reason, /1 shards without a writer/);

  const minority = hostsClusterRecord('c', hostsView(['h3'], [{ primary: 'h3', isr: ['h3'] }]), 'h3', 1, 5);
  t.like(minority, { health: 'failing', alive: 1 });
  t.regex(minority.reason, /1 of 3 hosts alive/);
});

test('one host reports a hosts cluster: the first live one in the rendezvous order of the cluster name', (t) => {
  const order = rank('cluster-x', HOSTS);
  // Every host's view with the same live hosts names the same reporter: exactly one writes.
  t.is(hostsReporter('cluster-x', hostsView(HOSTS, [])), order[0]);
  // The reporter dies: once it is dead in the views, the next live host in the order takes over.
  t.is(hostsReporter('cluster-x', hostsView(order.slice(1), [])), order[1]);
  t.is(hostsReporter('cluster-x', hostsView([order[2] as string], [])), order[2]);
  t.is(hostsReporter('cluster-x', hostsView([], [])), undefined);
  // Other clusters' names spread the reporting over other hosts.
  const reporters = new Set(Array.from({ length: 32 }, (_, i) => hostsReporter(`cluster-${i}`, hostsView(HOSTS, []))));
  t.true(reporters.size > 1);
});
