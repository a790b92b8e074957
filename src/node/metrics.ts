/**
 * The node's Prometheus metrics (prom-client, one registry per node so several nodes can share a
 * process). Queue gauges are read from the actors when scraped, so they cost the hot path nothing;
 * counters and the latency histogram are updated once per request, not per message.
 *
 * | metric                                   | type      | labels            | meaning                                   |
 * | ---------------------------------------- | --------- | ----------------- | ----------------------------------------- |
 * | wharf_queue_messages                     | gauge     | queue             | messages receivable now                   |
 * | wharf_queue_messages_in_flight           | gauge     | queue             | messages received and not deleted         |
 * | wharf_queue_messages_delayed             | gauge     | queue             | messages waiting out a delay              |
 * | wharf_queue_partitions_serving           | gauge     | queue             | partitions loaded and serving             |
 * | wharf_messages_sent_total                | counter   | queue             | messages accepted                         |
 * | wharf_messages_received_total            | counter   | queue             | deliveries (redeliveries included)        |
 * | wharf_messages_deleted_total             | counter   | queue             | messages deleted by receipt handle        |
 * | wharf_requests_total                     | counter   | action, code      | API requests by outcome (`ok` or a code)  |
 * | wharf_request_duration_seconds           | histogram | action            | time from request to reply                |
 * | (default process and Node.js metrics)    |           |                   | prom-client's collectDefaultMetrics       |
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface QueueGauges {
  name: string;
  counts(): { visible: number; inflight: number; delayed: number } | undefined;
  serving(): number;
}

export class NodeMetrics {
  readonly registry = new Registry();
  readonly sent: Counter<'queue'>;
  readonly received: Counter<'queue'>;
  readonly deleted: Counter<'queue'>;
  readonly requests: Counter<'action' | 'code'>;
  readonly duration: Histogram<'action'>;

  constructor(queues: () => Iterable<QueueGauges>) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'wharf_' });
    const gauge = (name: string, help: string, pick: (c: { visible: number; inflight: number; delayed: number }) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['queue'],
        registers,
        collect() {
          this.reset();
          for (const q of queues()) {
            const c = q.counts();
            if (c) this.set({ queue: q.name }, pick(c));
          }
        },
      });
    gauge('wharf_queue_messages', 'Messages receivable now.', (c) => c.visible);
    gauge('wharf_queue_messages_in_flight', 'Messages received and not yet deleted.', (c) => c.inflight);
    gauge('wharf_queue_messages_delayed', 'Messages waiting out a delay.', (c) => c.delayed);
    new Gauge({
      name: 'wharf_queue_partitions_serving',
      help: 'Partitions of the queue loaded and serving.',
      labelNames: ['queue'],
      registers,
      collect() {
        this.reset();
        for (const q of queues()) this.set({ queue: q.name }, q.serving());
      },
    });
    this.sent = new Counter({ name: 'wharf_messages_sent_total', help: 'Messages accepted.', labelNames: ['queue'], registers });
    this.received = new Counter({ name: 'wharf_messages_received_total', help: 'Deliveries, redeliveries included.', labelNames: ['queue'], registers });
    this.deleted = new Counter({ name: 'wharf_messages_deleted_total', help: 'Messages deleted by receipt handle.', labelNames: ['queue'], registers });
    this.requests = new Counter({ name: 'wharf_requests_total', help: 'API requests by outcome.', labelNames: ['action', 'code'], registers });
    this.duration = new Histogram({
      name: 'wharf_request_duration_seconds',
      help: 'Time from an API request to its reply.',
      labelNames: ['action'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25],
      registers,
    });
  }
}
