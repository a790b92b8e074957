/**
 * A node joins and another is drained while the chaos workload runs, on real node processes: the
 * joining node receives replicas (catch-up, then switch), the drained one ends up holding none and
 * is marked removed, and the history checker finds nothing lost and no delivery under a live lease.
 * Catch-up bandwidth is capped low (64 KiB/s, WHARF_CATCH_UP_BYTES_PER_SECOND) so the moves run
 * through the rate limit while the workload's sends keep being acknowledged.
 */
import { connect } from '@nats-io/transport-node';
import test from 'ava';
import { clusterName } from '../../src/names.ts';
import { subjects } from '../../src/protocol/subjects.ts';
import { check } from '../chaos/checker.ts';
import { History, HistoryWriter, readHistory } from '../chaos/history.ts';
import { drain, seededRandom, startWorkload } from '../chaos/workload.ts';
import { startWharfCluster } from '../helpers/cluster.ts';
import { eventually } from '../helpers/eventually.ts';
import { watchManager } from '../helpers/manager-watch.ts';
import { startNodeProcess } from '../helpers/node-process.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const QUEUE = 'moving';
const ENV = { WHARF_CATCH_UP_BYTES_PER_SECOND: String(64 * 1024), WHARF_MAX_MOVES: '1' };

test('a node joins and another drains under load: replicas move by catch-up, nothing lost', async (t) => {
  t.timeout(300_000);
  const cluster = await startWharfCluster(t, { nodes: 3, env: ENV });
  const watch = await watchManager(t, cluster.nats.url, cluster.cluster);
  const admin = await cluster.connect({ timeoutMs: 3_000 });
  await eventually(() => admin.createQueue(QUEUE, { partitions: 3, visibilityTimeout: 5, replicationFactor: 2 }), {
    timeoutMs: 30_000,
    intervalMs: 200,
    message: `queue ${QUEUE} created`,
  });
  const holders = (node: string) => watch.metadata.assignments(QUEUE).filter((a) => a.value.replicas.includes(node) || a.value.learners.includes(node)).length;

  const file = `${await tempDir(t, 'wharf-join-drain-')}/history.jsonl`;
  const history = new History(new HistoryWriter(file));
  t.teardown(() => history.close());
  const workload = await startWorkload({ queue: QUEUE, history, connect: () => cluster.connect({ timeoutMs: 3_000 }), random: seededRandom(7) });
  t.teardown(() => workload.stop());
  const progress = async (count: number) => {
    const target = history.acked.size + count;
    await eventually(() => history.acked.size >= target, { timeoutMs: 60_000, intervalMs: 50, message: `${count} more acknowledged sends` });
  };
  await progress(300);

  // Join: a fourth node, started on its own, receives replicas until counts are within one.
  await startNodeProcess(t, {
    nodeId: 'n4',
    cluster: cluster.cluster,
    natsUrl: cluster.nats.url,
    dataDir: await tempDir(t, 'wharf-data-n4-'),
    logFile: `${await tempDir(t, 'wharf-n4-logs-')}/node-n4.log`,
    env: ENV,
  });
  await eventually(() => watch.metadata.assignments(QUEUE).some((a) => a.value.replicas.includes('n4') && a.value.learners.length === 0), {
    timeoutMs: 120_000,
    intervalMs: 200,
    message: 'n4 votes for a partition after catching up',
  });
  await progress(200);

  // Drain: n1's replicas move to the others, then n1 is removed.
  const nc = await connect({ servers: cluster.nats.url });
  t.teardown(() => nc.close());
  const reply = await nc.request(subjects(clusterName(cluster.cluster)).manager('drain'), JSON.stringify({ node: 'n1' }), { timeout: 5_000 });
  t.like(JSON.parse(new TextDecoder().decode(reply.data)), { ok: true, node: 'n1', state: 'draining' });
  await eventually(() => watch.metadata.node('n1')?.value.state === 'removed', { timeoutMs: 180_000, intervalMs: 200, message: 'n1 drained' });
  t.is(holders('n1'), 0, 'n1 holds nothing');
  await progress(200);
  await workload.stop();

  const drained = await drain({ queue: QUEUE, history, client: admin });
  t.true(drained.complete, `unaccounted for: ${drained.missing.slice(0, 10).join(' ')}`);
  history.close();
  const report = check(await readHistory(file), {});
  t.log(`${report.acknowledged} sends acknowledged, ${report.deliveries} deliveries; replicas: n2 ${holders('n2')}, n3 ${holders('n3')}, n4 ${holders('n4')}`);
  t.is(report.lost.count, 0, `lost: ${report.lost.values.slice(0, 20).join(' ')}`);
  t.deepEqual(report.duplicates.underLiveLease.slice(0, 5), [], 'double deliveries under a live lease');
  t.deepEqual(report.resurrected.slice(0, 5), [], 'deliveries after an acknowledged delete');
  t.deepEqual(report.unexpected.slice(0, 10), [], 'unexpected values');
  t.deepEqual(report.failedButDelivered.slice(0, 10), [], 'definitely failed sends delivered');
  t.true(report.valid, report.problems.join('; '));
});
