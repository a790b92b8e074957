/**
 * Whether this node is cut off from its cluster, as far as it can tell.
 *
 * A network split can leave a NATS server on the minority side with a Wharf node still connected
 * to it, and clients too. The node answers those clients, but every answer it can give is a wait
 * for a primary or a quorum on the other side: the clients' requests stall until the split heals,
 * although the majority elected new primaries seconds after it began. A node that knows it is cut
 * off says so instead (`node_isolated`, retryable), and the SDK moves to another NATS server.
 *
 * Cut off means both:
 * - no heartbeat from any other registered node (active or draining) for the failure timeout, the
 *   same silence after which the cluster manager declares a node dead; and
 * - this node's cluster manager is not active. A node whose peers all died while its NATS cluster
 *   still works takes the manager lease, a metadata write that needs the metadata's quorum, and
 *   keeps serving; on the minority side of a split that write cannot succeed.
 *
 * A cluster of one node, or a node whose peers are all removed, is never cut off. Time is the
 * monotonic clock: a wall-clock jump neither hides a silence nor makes one.
 */
export interface PeerWatchOptions {
  self: string;
  failureTimeoutMs: number;
  /** Monotonic milliseconds. */
  now: () => number;
  /** How many other registered nodes are active or draining. */
  peers: () => number;
  /** Whether this node's cluster manager holds the lease (false on a node without a manager). */
  managerActive: () => boolean;
}

export class PeerWatch {
  private readonly options: PeerWatchOptions;
  private lastHeard: number;

  constructor(options: PeerWatchOptions) {
    this.options = options;
    // A node just started has not had the time to hear anybody.
    this.lastHeard = options.now();
  }

  /** A heartbeat arrived from `node`. */
  heard(node: string): void {
    if (node !== this.options.self) this.lastHeard = this.options.now();
  }

  /** Reconnected to NATS: heartbeats missed while disconnected say nothing about the peers. */
  reset(): void {
    this.lastHeard = this.options.now();
  }

  /** Why this node considers itself cut off from its cluster, or undefined when it does not. */
  cutOff(): string | undefined {
    const { self, failureTimeoutMs, now, peers, managerActive } = this.options;
    const silentMs = Math.round(now() - this.lastHeard);
    if (silentMs <= failureTimeoutMs || peers() === 0 || managerActive()) return undefined;
    return `node ${self} has heard no other node for ${silentMs} ms and holds no manager lease: its NATS server may be cut off from the cluster; ask through another server`;
  }
}
