/**
 * The node's HTTP endpoint: Prometheus metrics that agree with the API's counts, and the liveness
 * and readiness probes.
 */
import test from 'ava';
import { startWharf } from '../helpers/wharf.ts';

/** The value of one sample of the Prometheus text format, or undefined. */
function sample(text: string, name: string, labels: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

test('/metrics reports each queue as GetQueueAttributes counts it, and the message counters', async (t) => {
  const { client, node } = await startWharf(t);
  await client.createQueue('metered');
  await client.sendMessageBatch('metered', [1, 2, 3].map((i) => ({ id: `m${i}`, body: new Uint8Array([i]) })));
  const [received] = await client.receive('metered');
  await client.sendMessage('metered', 'four');
  t.truthy(received);

  const text = await (await fetch(`http://127.0.0.1:${node.httpPort}/metrics`)).text();
  const { counts } = await client.getQueueAttributes('metered');

  t.is(sample(text, 'wharf_queue_messages', 'queue="metered"'), counts.approximateNumberOfMessages);
  t.is(sample(text, 'wharf_queue_messages_in_flight', 'queue="metered"'), counts.approximateNumberOfMessagesNotVisible);
  t.is(sample(text, 'wharf_queue_messages_delayed', 'queue="metered"'), 0);
  t.is(sample(text, 'wharf_messages_sent_total', 'queue="metered"'), 4);
  t.is(sample(text, 'wharf_messages_received_total', 'queue="metered"'), 1);
  t.is(sample(text, 'wharf_queue_partitions_serving', 'queue="metered"'), 1);
  t.is(sample(text, 'wharf_requests_total', 'action="SendMessageBatch",code="ok"'), 1);
  t.true((sample(text, 'wharf_request_duration_seconds_count', 'action="ReceiveMessage"') ?? 0) >= 1);
});

test('/metrics counts failed requests by error code', async (t) => {
  const { client, node } = await startWharf(t);

  await t.throwsAsync(client.getQueueAttributes('missing'));

  const text = await (await fetch(`http://127.0.0.1:${node.httpPort}/metrics`)).text();
  t.is(sample(text, 'wharf_requests_total', 'action="GetQueueAttributes",code="queue_not_found"'), 1);
});

test('/healthz answers 200 and /readyz answers 200 once the node serves', async (t) => {
  const { node } = await startWharf(t);

  const health = await fetch(`http://127.0.0.1:${node.httpPort}/healthz`);
  const ready = await fetch(`http://127.0.0.1:${node.httpPort}/readyz`);

  t.is(health.status, 200);
  t.is(ready.status, 200);
});

test('/readyz answers 503 once the node lost its NATS connection', async (t) => {
  const { node } = await startWharf(t);

  await node.nc.close();
  const ready = await fetch(`http://127.0.0.1:${node.httpPort}/readyz`);

  t.is(ready.status, 503);
  t.regex(await ready.text(), /NATS/);
});
