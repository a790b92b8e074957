/**
 * A node that hears no other node for the failure timeout and holds no manager lease answers every
 * client request with `node_isolated` (src/node/peer-watch.ts), and serves again once it hears a
 * peer. Three real nodes on one nats-server, without managers (test/helpers/replicated-cluster.ts):
 * stopping two of them leaves the third alone. A client that gets the answer moves to another NATS
 * server; that part is test/chaos-netns/split-client.test.ts, under a real split.
 */
import test from 'ava';
import { connect } from '@nats-io/transport-node';
import { WharfError } from '../../src/errors.ts';
import { clusterName } from '../../src/names.ts';
import { decodeReply, encodeRequest } from '../../src/protocol/codec.ts';
import type { Reply } from '../../src/protocol/messages.ts';
import { subjects } from '../../src/protocol/subjects.ts';
import { eventually } from '../helpers/eventually.ts';
import { createReplicatedQueue, startCluster } from '../helpers/replicated-cluster.ts';

test('a node alone without a manager lease answers node_isolated, and serves again once a peer is back', async (t) => {
  const c = await startCluster(t);
  const nc = await connect({ servers: c.nats.url });
  t.teardown(() => nc.close());
  const subs = subjects(clusterName(c.cluster));
  /** The answer of n1, asked directly, or through the subject every node serves: 'ok' or the error's code. */
  const ask = async (subject: string) => {
    try {
      decodeReply<Reply<'ListQueues'>>((await nc.request(subject, encodeRequest({}), { timeout: 5_000 })).data);
      return 'ok';
    } catch (err) {
      return err instanceof WharfError ? err.code : String(err);
    }
  };
  const direct = subs.nodeApi('n1', 'ListQueues');
  t.is(await ask(direct), 'ok', 'with its peers heard');

  await c.nodes.get('n2')?.stop();
  await c.nodes.get('n3')?.stop();
  await eventually(async () => (await ask(direct)) === 'node_isolated', { timeoutMs: 15_000, intervalMs: 50, message: 'n1 answers node_isolated' });
  t.is(await ask(subs.api('ListQueues')), 'node_isolated', 'on the subject every node serves too (n1 is the only one left)');
  const reply = await nc.request(direct, encodeRequest({}), { timeout: 5_000 });
  const error = t.throws(() => decodeReply(reply.data), { instanceOf: WharfError });
  t.true(error?.retryable, 'the error is retryable');
  t.regex(error?.message ?? '', /node n1 has heard no other node for \d+ ms/);
  const n1 = c.nodes.get('n1');
  const metrics = async () => (await fetch(`http://127.0.0.1:${n1?.httpPort ?? 0}/metrics`)).text();
  t.regex(await metrics(), /^wharf_node_cut_off 1$/m);

  await c.start('n2');
  await eventually(async () => (await ask(direct)) === 'ok', { timeoutMs: 15_000, intervalMs: 50, message: 'n1 serves again' });
  t.regex(await metrics(), /^wharf_node_cut_off 0$/m);
});

test('a request waiting for a primary on a node that finds itself cut off ends with node_isolated', async (t) => {
  const c = await startCluster(t);
  await createReplicatedQueue(c, 'orders', 'sync', ['n2']);
  const nc = await connect({ servers: c.nats.url });
  t.teardown(() => nc.close());
  const subs = subjects(clusterName(c.cluster));
  const send = async () => {
    const reply = await nc.request(subs.nodeApi('n1', 'SendMessage'), encodeRequest({ queue: 'orders', body: new TextEncoder().encode('x') }), { timeout: 30_000 });
    try {
      decodeReply<Reply<'SendMessage'>>(reply.data);
      return 'ok';
    } catch (err) {
      return err instanceof WharfError ? err.code : String(err);
    }
  };
  await eventually(async () => (await send()) === 'ok', { timeoutMs: 15_000, intervalMs: 50, message: 'a send through n1 to the primary n2' });

  await c.nodes.get('n2')?.stop();
  await c.nodes.get('n3')?.stop();
  // Sent before n1 is cut off (its failure timeout is 1 s): n1 forwards it, finds no primary and
  // waits for a new one. Without the cut-off check that wait lasts 10 s and ends `unavailable`.
  t.is(await send(), 'node_isolated');
});
