/**
 * The node's HTTP endpoint: Prometheus metrics that agree with the API's counts, and the liveness
 * and readiness probes.
 */
import { readFileSync } from 'node:fs';
import test from 'ava';
import { eventually } from '../helpers/eventually.ts';
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

test('/readyz answers 503 while the node is disconnected from NATS, and 200 once it reconnected', async (t) => {
  const { node, nats } = await startWharf(t);
  const readyz = async () => {
    const res = await fetch(`http://127.0.0.1:${node.httpPort}/readyz`);
    return { status: res.status, text: await res.text() };
  };

  await nats.stop();
  const down = await eventually(async () => {
    const r = await readyz();
    return r.status === 503 ? r : undefined;
  }, { timeoutMs: 20_000, message: '/readyz answers 503 with the server down' });
  t.regex(down.text, /disconnected from NATS/);

  await nats.restart();
  await eventually(async () => ((await readyz()).status === 200 ? true : undefined), { timeoutMs: 30_000, message: '/readyz answers 200 after the reconnect' });
  t.pass();
});

/** Every sample of the Prometheus text format: name, labels and value; HELP and TYPE lines by name. */
function parseExposition(text: string): { samples: Array<{ name: string; labels: Record<string, string>; value: number }>; types: Map<string, string> } {
  const samples: Array<{ name: string; labels: Record<string, string>; value: number }> = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1] ?? '', type[2] ?? '');
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[k ?? ''] = v ?? '';
    samples.push({ name: m[1] ?? '', labels, value: Number(m[3]) });
  }
  return { samples, types };
}

test('/metrics has every documented metric, and partition, redelivery and age values that match the API', async (t) => {
  const { client, node } = await startWharf(t);
  await client.createQueue('watched', { partitions: 2 });
  const started = Date.now();
  await client.sendMessage('watched', 'old');
  await client.sendMessage('watched', 'new');
  // Received with no lease, so a later receive delivers it again.
  let deliveries = (await client.receive('watched', { maxMessages: 10, visibilityTimeout: 0 })).length;
  let redelivered = 0;
  await eventually(async () => {
    const got = await client.receive('watched', { maxMessages: 10, visibilityTimeout: 60 });
    deliveries += got.length;
    redelivered += got.filter((m) => m.receiveCount > 1).length;
    return redelivered > 0;
  });

  const { samples, types } = parseExposition(await (await fetch(`http://127.0.0.1:${node.httpPort}/metrics`)).text());
  const value = (name: string, labels: Record<string, string>) =>
    samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

  const documented = [...readFileSync(new URL('../../docs/metrics.md', import.meta.url), 'utf8').matchAll(/^\| `(wharf_[a-z_]+)` \|/gm)].map((m) => m[1] ?? '');
  t.true(documented.length >= 20);
  for (const name of documented) t.true(types.has(name), `${name} is exported`);
  for (const name of types.keys()) {
    if (!/^wharf_(process|nodejs)_/.test(name)) t.true(documented.includes(name), `${name} is documented`);
  }

  const { counts } = await client.getQueueAttributes('watched');
  t.is(value('wharf_queue_messages', { queue: 'watched' }), counts.approximateNumberOfMessages);
  t.is(value('wharf_queue_messages_in_flight', { queue: 'watched' }), counts.approximateNumberOfMessagesNotVisible);
  t.is(value('wharf_messages_received_total', { queue: 'watched' }), deliveries);
  t.is(value('wharf_messages_redelivered_total', { queue: 'watched' }), redelivered);
  t.is(value('wharf_messages_dead_lettered_total', { queue: 'watched' }), 0);
  const age = value('wharf_queue_oldest_message_age_seconds', { queue: 'watched' }) ?? -1;
  t.true(age > 0 && age <= (Date.now() - started) / 1000 + 1, `age ${age}`);
  for (const partition of ['0', '1']) {
    t.is(value('wharf_partition_role', { queue: 'watched', partition, role: 'primary' }), 1);
    t.is(value('wharf_partition_role', { queue: 'watched', partition, role: 'follower' }), 0);
    t.true((value('wharf_partition_epoch', { queue: 'watched', partition }) ?? 0) >= 1);
    t.is(value('wharf_partition_in_sync_replicas', { queue: 'watched', partition }), 1);
    t.is(value('wharf_partition_replication_lag_entries', { queue: 'watched', partition }), 0);
  }
  t.is(value('wharf_partition_log_end', { queue: 'watched', partition: '0' }), node.reports().find((r) => r.queue === 'watched' && r.partition === 0)?.logEnd);
  t.is(value('wharf_elections_total', { queue: 'watched' }), 2, 'the new queue’s two partitions elected this node');
});
