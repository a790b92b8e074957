/**
 * The lease heartbeats this node hears: every SDK client that received with `heartbeat: true`
 * publishes its consumer name on `lease.heartbeat` (subjects.ts) every second, and a goodbye when it
 * closes. Every node hears every beat, so whichever node holds a partition's primary knows whether
 * the consumers holding its heartbeat leases are alive (actors/partition/lease-keeper.ts).
 *
 * Bounded: at most MAX_CONSUMERS names, the least recently heard forgotten first. A forgotten
 * consumer that still holds leases simply looks silent: its leases end as if it had stopped.
 */
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { BeatsOf } from '../../actors/partition/lease-keeper.ts';
import { decodeLeaseHeartbeat } from '../protocol/codec.ts';

export const MAX_CONSUMERS = 100_000;

export class ConsumerBeats {
  private readonly last = new Map<string, { at: number; goodbye: boolean }>();
  private readonly now: () => number;
  private sub: Subscription | undefined;

  constructor(now: () => number) {
    this.now = now;
  }

  /** Records one beat (or goodbye) of `consumer`, heard now. */
  heard(consumer: string, goodbye: boolean): void {
    // Re-inserted so the map's order is the order of the last beats: the oldest go first.
    this.last.delete(consumer);
    this.last.set(consumer, { at: this.now(), goodbye });
    if (this.last.size > MAX_CONSUMERS) {
      const oldest = this.last.keys().next().value;
      if (oldest !== undefined) this.last.delete(oldest);
    }
  }

  readonly of: BeatsOf = (consumer) => this.last.get(consumer);

  listen(nc: NatsConnection, subject: string): void {
    this.sub = nc.subscribe(subject, {
      callback: (err, msg) => {
        if (err) return;
        // A malformed beat is dropped: a publish has nobody to answer.
        const beat = decodeLeaseHeartbeat(msg.data);
        if (beat !== undefined) this.heard(beat.consumer, beat.goodbye === true);
      },
    });
  }

  close(): void {
    this.sub?.unsubscribe();
  }
}
