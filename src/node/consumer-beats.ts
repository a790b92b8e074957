/**
 * The lease heartbeats this node hears: every SDK client that received with `heartbeat: true`
 * publishes its consumer name on its principal's `lease.heartbeat.<principal>` (subjects.ts) every
 * second, and a goodbye when it closes. Every node hears every beat, so whichever node holds a
 * partition's primary knows whether the holders of its heartbeat leases are alive
 * (actors/partition/lease-keeper.ts). A beat counts for the principal its subject names, which
 * NATS lets only that principal publish: a beat under another principal's consumer name is
 * another holder's.
 *
 * Bounded: at most MAX_CONSUMERS holders, the least recently heard forgotten first. A forgotten
 * holder that still has leases simply looks silent: its leases end as if it had stopped.
 */
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { leaseHolder, type BeatsOf } from '../../actors/partition/lease-keeper.ts';
import { leasePrincipalOf } from '../protocol/subjects.ts';
import { decodeLeaseHeartbeat } from '../protocol/codec.ts';

export const MAX_CONSUMERS = 100_000;

export class ConsumerBeats {
  private readonly last = new Map<string, { at: number; goodbye: boolean }>();
  private readonly now: () => number;
  private sub: Subscription | undefined;

  constructor(now: () => number) {
    this.now = now;
  }

  /** Records one beat (or goodbye) of `consumer` of `principal`, heard now. */
  heard(principal: string, consumer: string, goodbye: boolean): void {
    const holder = leaseHolder(principal, consumer);
    // Re-inserted so the map's order is the order of the last beats: the oldest go first.
    this.last.delete(holder);
    this.last.set(holder, { at: this.now(), goodbye });
    if (this.last.size > MAX_CONSUMERS) {
      const oldest = this.last.keys().next().value;
      if (oldest !== undefined) this.last.delete(oldest);
    }
  }

  readonly of: BeatsOf = (holder) => this.last.get(holder);

  listen(nc: NatsConnection, subject: string): void {
    this.sub = nc.subscribe(subject, {
      callback: (err, msg) => {
        if (err) return;
        // A malformed beat is dropped: a publish has nobody to answer.
        const beat = decodeLeaseHeartbeat(msg.data);
        const principal = leasePrincipalOf(msg.subject);
        if (beat !== undefined && principal !== undefined) this.heard(principal, beat.consumer, beat.goodbye === true);
      },
    });
  }

  close(): void {
    this.sub?.unsubscribe();
  }
}
