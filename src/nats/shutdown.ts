/**
 * Ending a NATS connection Wharf owns. `drain()` lets replies in flight arrive and then closes, but
 * on a connection that is reconnecting (its server just went away) it was seen to resolve with the
 * connection still open: it went on reconnecting and pinging, and kept its process alive. So a
 * drain that did not close the connection, or failed, is followed by a close.
 */
import type { NatsConnection } from '@nats-io/transport-node';

export async function drainAndClose(nc: NatsConnection): Promise<void> {
  await nc.drain().catch(() => undefined);
  if (!nc.isClosed()) await nc.close().catch(() => undefined);
}
