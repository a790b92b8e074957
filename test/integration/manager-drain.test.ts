/**
 * A drain that could never finish, on three real node processes: with replication factor 3 there
 * is no fourth node to take the draining node's copies, so `wharf cluster drain` is refused at once
 * with `drain_blocked`, naming every partition that cannot move and why, and the node stays
 * active. A node that is draining anyway (its record says so) shows the same in `manager.status`
 * and in `wharf cluster`, until `wharf cluster drain --cancel` makes it active again.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { startWharfCluster } from '../helpers/cluster.ts';
import { eventually } from '../helpers/eventually.ts';
import { watchManager } from '../helpers/manager-watch.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

test('draining a node of three under replication factor 3 is refused, with the partitions that cannot move', async (t) => {
  t.timeout(120_000);
  const cluster = await startWharfCluster(t, { nodes: 3 });
  const watch = await watchManager(t, cluster.nats.url, cluster.cluster);
  const wharf = (...args: string[]) =>
    new Promise<Run>((resolve) => {
      const argv = ['--import', 'tsx', 'src/cli/main.ts', ...args, '--server', cluster.nats.url, '--cluster', cluster.cluster];
      execFile(process.execPath, argv, { cwd: ROOT, timeout: 60_000 }, (err, stdout, stderr) => {
        resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
      });
    });
  const client = await cluster.connect();
  await eventually(() => client.createQueue('orders', { partitions: 2 }), { timeoutMs: 30_000, message: 'queue created' });
  await eventually(() => watch.metadata.assignments('orders').filter((a) => a.value.replicas.length === 3).length === 2, {
    message: 'both partitions on all three nodes',
  });

  const refused = await wharf('cluster', 'drain', 'n3');
  t.is(refused.code, 2, refused.stderr);
  t.regex(refused.stderr, /^error drain_blocked: node n3 cannot be drained: 2 partitions cannot move: orders\.0 needs 3 copies and n[12], n[12] already hold it/m);
  t.regex(refused.stderr, /^ {2}orders\.1 needs 3 copies .*start another node first\)$/m);
  t.is(watch.metadata.node('n3')?.value.state, 'active', 'a refused drain changes nothing');

  const json = await wharf('cluster', 'drain', 'n3', '--json');
  t.is(json.code, 2);
  const reply = JSON.parse(json.stdout) as { ok: boolean; error: { code: string; blocked: Array<{ queue: string; partition: number; code: string }> } };
  t.false(reply.ok);
  t.is(reply.error.code, 'drain_blocked');
  t.deepEqual(
    reply.error.blocked.map((b) => [b.queue, b.partition, b.code]),
    [
      ['orders', 0, 'drain_blocked'],
      ['orders', 1, 'drain_blocked'],
    ],
  );

  // A node draining anyway — its record says so, as after a restart during a drain.
  const record = watch.metadata.node('n3')!.value;
  await watch.metadata.putNode({ ...record, state: 'draining' });
  const status = await eventually(
    async () => {
      const s = await watch.status();
      return s.drains.length > 0 ? s : undefined;
    },
    { message: 'manager.status lists the drain' },
  );
  t.deepEqual(
    status.drains.map((d) => [d.node, d.blocked.map((b) => `${b.queue}.${b.partition}`)]),
    [['n3', ['orders.0', 'orders.1']]],
  );
  const view = await wharf('cluster');
  t.is(view.code, 0, view.stderr);
  t.regex(view.stdout, /^drain of n3 cannot finish: 2 partition\(s\) cannot move$/m);
  t.regex(view.stdout, /^ {2}orders\.0 needs 3 copies/m);
  const again = await wharf('cluster', 'drain', 'n3');
  t.is(again.code, 2, 'asked again, it still says why');
  t.regex(again.stderr, /drain_blocked/);

  // Cancelled, the node is active again and the manager lists no drain.
  const cancelled = await wharf('cluster', 'drain', 'n3', '--cancel');
  t.is(cancelled.code, 0, cancelled.stderr);
  t.regex(cancelled.stdout, /^n3: active$/m);
  await eventually(() => watch.metadata.node('n3')?.value.state === 'active', { message: 'n3 active again in the metadata' });
  await eventually(async () => (await watch.status()).drains.length === 0, { message: 'manager.status lists no drain' });
  const unknown = await wharf('cluster', 'drain', 'n9', '--cancel');
  t.is(unknown.code, 2);
  t.regex(unknown.stderr, /^error not_found: no node n9 is registered/m);
});
