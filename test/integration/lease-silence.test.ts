/**
 * Silence (src/replication/releases.ts) between three real nodes, with the assignments written by
 * the test: the primary goes away without releasing its lease; once the followers have persisted
 * the fenced epoch and not heard from the old primary for a lease, the new primary serves without
 * waiting a lease after its own first commit.
 */
import test from 'ava';
import type { WharfNode } from '../../src/node/node.ts';
import type { SilenceFrame } from '../../src/protocol/internal.ts';
import { eventually } from '../helpers/eventually.ts';
import { createReplicatedQueue, report, startCluster, t_ok, replicaQuestions } from '../helpers/replicated-cluster.ts';

const LEASE_MS = 3_000;
const text = (b: Uint8Array) => new TextDecoder().decode(b);

test('a new primary whose predecessor is gone serves as soon as the voters have been silent towards it for a lease', async (t) => {
  t.timeout(120_000);
  const c = await startCluster(t, { leaseMs: LEASE_MS, failureTimeoutMs: 2 * LEASE_MS });
  const meta = await createReplicatedQueue(c, 'orders');
  const node = (id: string) => c.nodes.get(id) as WharfNode;
  await eventually(() => report(node('n1'), 'orders')?.role === 'primary', { message: 'n1 serves' });
  await c.client.sendMessage('orders', 'before');
  await eventually(() => ['n2', 'n3'].every((id) => report(node(id), 'orders')?.logEnd === report(node('n1'), 'orders')?.logEnd), {
    message: 'n2 and n3 caught up',
  });

  const ask = await replicaQuestions(t, c);
  const silence = async (id: string, below: number) => {
    const frame: SilenceFrame = { queue: 'orders', partition: 0, incarnation: meta.incarnation, silentBelow: below };
    return ask<{ silentMs?: number; epoch?: number }>(id, frame);
  };
  t.deepEqual(await silence('n2', 2), {}, 'epoch 2 not persisted: n2 could still extend the lease of epoch 1');

  // n1 goes away; nobody is left to release its lease.
  await node('n1').stop();
  c.nodes.delete('n1');
  const current = t_ok(c.metadata.assignment('orders', 0));
  const fenced = { ...current.value, primary: null, epoch: 2, previous: { primary: 'n1', epoch: 1 } };
  const revision = t_ok(await c.metadata.casAssignment(fenced, current.revision));
  await eventually(
    async () => {
      const answers = await Promise.all(['n2', 'n3'].map((id) => silence(id, 2)));
      return answers.every((a) => a.epoch === 1 && (a.silentMs ?? 0) > LEASE_MS);
    },
    { message: 'n2 and n3 persisted epoch 2 and last heard from epoch 1 more than a lease ago', timeoutMs: 30_000 },
  );
  t_ok(await c.metadata.casAssignment({ ...fenced, primary: 'n2' }, revision));
  await eventually(() => report(node('n2'), 'orders')?.role === 'primary', { message: 'n2 serves', timeoutMs: 30_000 });

  const metrics = await (await fetch(`http://127.0.0.1:${node('n2').httpPort}/metrics`)).text();
  t.regex(metrics, /wharf_lease_waits_total\{queue="orders",outcome="ended"\} 1/, 'the silences ended the wait, not a lease after the first commit');

  const [message] = await eventually(async () => {
    const got = await c.client.receive('orders', { maxMessages: 10 });
    return got.length > 0 ? got : undefined;
  }, { message: 'the acknowledged message is there' });
  t.is(text(t_ok(message).body), 'before');
});
