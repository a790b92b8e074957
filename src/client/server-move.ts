/**
 * Moving a client's NATS connection off a server that cannot reach the Wharf cluster (a server on
 * the minority side of a network split, design.md "Cut-off nodes").
 *
 * nats.js's reconnect() dials the head of its server pool, and that can be the very server being
 * left: the servers a cluster advertises join the pool behind the ones the client was given. So the
 * connection is opened with `pick` as its `reconnectToServer` handler, which, for the one dial that
 * follows a move, chooses the first other server of the pool; every other dial keeps nats.js's own
 * choice.
 */
import type { NatsConnection, Server } from '@nats-io/nats-core';

/**
 * The shortest time between two moves: nats.js redials a server it left no sooner than its
 * reconnect wait (2 s), so moving more often could only come back to one just tried.
 */
const MOVE_INTERVAL_MS = 2_000;

export class ServerMove {
  /** The server (host:port) a move is leaving, until the dial that follows it. */
  private leaving: string | undefined;
  /** When the last move began (monotonic ms). */
  private movedAt = -Infinity;

  /** For the connection's `reconnectToServer` option. */
  readonly pick = (pool: ReadonlyArray<Server>): Server | null => {
    const leaving = this.leaving;
    this.leaving = undefined;
    return leaving === undefined ? null : (pool.find((s) => s.listen !== leaving) ?? null);
  };

  /** Moves `nc` to another server of its pool; only a clustered server has another, and at most once per interval. */
  move(nc: NatsConnection): void {
    const now = performance.now();
    if (nc.info?.cluster === undefined || now - this.movedAt < MOVE_INTERVAL_MS) return;
    this.movedAt = now;
    this.leaving = nc.getServer();
    // nats.js marks reconnect() experimental: a release without it fails this build, not a client.
    nc.reconnect().catch(() => undefined);
  }
}
