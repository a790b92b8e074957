/**
 * A primary–secondary cluster's report of itself to its deployment (src/deployment/cluster-report.ts),
 * the receipt handles of split queues (src/protocol/part-receipt.ts), and the checks on a route read
 * back from the deployment's metadata.
 */
import test from 'ava';
import { primaryClusterRecord } from '../../src/deployment/cluster-report.ts';
import { isWharfError } from '../../src/errors.ts';
import { ROUTE } from '../../src/meta/deployment-records.ts';
import { checkRecord } from '../../src/meta/schemas.ts';
import type { ManagerStatus } from '../../src/manager/status.ts';
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
