/**
 * The client side of the lease heartbeat: once the client has received with `heartbeat: true`, it
 * publishes a small beat naming its consumer every `intervalMs` on its principal's
 * `lease.heartbeat.<principal>` (the only one NATS lets it publish with authorization on), which every
 * node hears, for as long as it stays open; closing it says goodbye, so the nodes end its leases at
 * once. A client that dies without closing stops beating, and the nodes end its leases after their
 * heartbeat timeout (WHARF_LEASE_HEARTBEAT_TIMEOUT_MS, 5 s by default).
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { encode } from '../protocol/codec.ts';
import { PROTOCOL_VERSION, type LeaseHeartbeat } from '../protocol/messages.ts';

export class LeaseHeartbeats {
  private timer: NodeJS.Timeout | undefined;
  private readonly nc: NatsConnection;
  private readonly subject: string;
  private readonly consumer: string;
  private readonly intervalMs: number;

  constructor(nc: NatsConnection, subject: string, consumer: string, intervalMs: number) {
    this.nc = nc;
    this.subject = subject;
    this.consumer = consumer;
    this.intervalMs = intervalMs;
  }

  /** Starts beating (idempotent); the first beat goes at once. */
  start(): void {
    if (this.timer !== undefined) return;
    this.beat(false);
    this.timer = setInterval(() => this.beat(false), this.intervalMs);
    this.timer.unref();
  }

  /** Stops beating and, if it had started, says goodbye. */
  stop(): void {
    if (this.timer === undefined) return;
    clearInterval(this.timer);
    this.timer = undefined;
    this.beat(true);
  }

  private beat(goodbye: boolean): void {
    // A closed connection (the caller closed it under the client) beats no more: like a crash.
    if (this.nc.isClosed()) return;
    const frame: LeaseHeartbeat = goodbye ? { v: PROTOCOL_VERSION, consumer: this.consumer, goodbye } : { v: PROTOCOL_VERSION, consumer: this.consumer };
    this.nc.publish(this.subject, encode(frame));
  }
}
