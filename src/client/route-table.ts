/**
 * Where the client sends a queue's requests: the node of the partition's primary, as the route
 * hints in answers (src/protocol/route.ts) last told it, or any node (undefined) when it does not
 * know. A guess only saves the front-end's forwarding: a node that does not serve the partition
 * forwards the request and its answer carries a fresher hint.
 *
 * Hints from different nodes can disagree for a moment (their caches lag differently), so a
 * partition's entry only moves forward in epoch. A node that did not answer a direct request is
 * avoided for the queue's partitions it held until a hint names another node or a newer epoch, or
 * `avoidMs` has passed (it may only have been slow).
 */
import { decodeReceipt, type Receipt } from '../protocol/receipt.ts';
import { decodeRoute, partitionOfId, type PartitionRoute } from '../protocol/route.ts';

interface Entry extends PartitionRoute {
  /** A node that did not answer, not to be used at this epoch before `until`. */
  avoid?: { node: string; until: number };
}

interface QueueRoutes {
  incarnation: number;
  partitions: Entry[];
  /** Rotates receives over the partitions. */
  next: number;
}

export class RouteTable {
  private readonly queues = new Map<string, QueueRoutes>();
  private readonly avoidMs: number;
  private readonly now: () => number;

  constructor(options: { avoidMs?: number; now?: () => number } = {}) {
    this.avoidMs = options.avoidMs ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  /** Takes in the hint of an answer about `queue` (a header value; what does not parse is ignored). */
  learn(queue: string, header: string): void {
    const hint = decodeRoute(header);
    if (hint === undefined) return;
    const known = this.queues.get(queue);
    if (known === undefined || known.incarnation !== hint.incarnation || known.partitions.length !== hint.partitions.length) {
      this.queues.set(queue, { incarnation: hint.incarnation, partitions: hint.partitions.map((p) => ({ ...p })), next: 0 });
      return;
    }
    const now = this.now();
    hint.partitions.forEach((p, i) => {
      const entry = known.partitions[i] as Entry;
      // Within an epoch a partition only gains a primary: a hint without one is older news.
      const stale =
        p.epoch < entry.epoch ||
        (p.epoch === entry.epoch && (p.node === null || p.node === entry.node || (p.node === entry.avoid?.node && now < entry.avoid.until)));
      // A state only moves forward (active, draining, retired), whatever the epoch says.
      const state = rank(p.state) >= rank(entry.state) ? p.state : entry.state;
      const { state: _old, ...next } = stale ? entry : { ...p };
      known.partitions[i] = state === undefined ? next : { ...next, state };
    });
  }

  /** The node that did not answer a direct request: the queue's partitions it held are asked of any node for a while. */
  unreachable(queue: string, node: string): void {
    const known = this.queues.get(queue);
    if (known === undefined) return;
    const until = this.now() + this.avoidMs;
    known.partitions = known.partitions.map((p) => (p.node === node ? { ...p, node: null, avoid: { node, until } } : p));
  }

  /** The node serving the partition a receipt handle names; undefined when unknown or not a handle. */
  nodeOfReceipt(queue: string, receiptHandle: string): string | undefined {
    const known = this.queues.get(queue);
    if (known === undefined) return undefined;
    let receipt: Receipt;
    try {
      receipt = decodeReceipt(receiptHandle);
    } catch {
      return undefined;
    }
    return receipt.incarnation === known.incarnation ? (known.partitions[receipt.partition]?.node ?? undefined) : undefined;
  }

  /** Entries of a receipt-handle batch by the node to ask (undefined: any node), in entry order within each. */
  byNode<E extends { receiptHandle: string }>(queue: string, entries: readonly E[]): Map<string | undefined, E[]> {
    const known = this.queues.get(queue);
    // One partition: every handle of the queue goes to its node, no need to read them.
    if (known?.partitions.length === 1 && known.partitions[0]?.state === undefined) return new Map([[known.partitions[0]?.node ?? undefined, [...entries]]]);
    const groups = new Map<string | undefined, E[]>();
    for (const e of entries) {
      const node = this.nodeOfReceipt(queue, e.receiptHandle);
      const group = groups.get(node);
      if (group) group.push(e);
      else groups.set(node, [e]);
    }
    return groups;
  }

  /**
   * Where a send goes: the front-end puts it in the partition its key names — the message group on
   * a FIFO queue, else the deduplication id.
   */
  nodeForSend(queue: string, key: string | undefined): string | undefined {
    const known = this.queues.get(queue);
    if (known === undefined || key === undefined) return undefined;
    const active = known.partitions.filter((p) => p.state === undefined);
    return active.length === 0 ? undefined : (active[partitionOfId(key, active.length)]?.node ?? undefined);
  }

  /**
   * Where a receive goes: the node of the next partition in turn that has a known primary. That
   * front-end asks the partitions it serves first, then the others.
   */
  nodeForReceive(queue: string): string | undefined {
    const known = this.queues.get(queue);
    if (known === undefined) return undefined;
    const n = known.partitions.length;
    for (let i = 0; i < n; i++) {
      const entry = known.partitions[(known.next + i) % n];
      const node = entry?.state === 'retired' ? undefined : entry?.node;
      if (node) {
        known.next = (known.next + i + 1) % n;
        return node;
      }
    }
    return undefined;
  }

  forget(queue: string): void {
    this.queues.delete(queue);
  }
}

/** A partition's state only moves forward: active (undefined), draining, retired. */
function rank(state: PartitionRoute['state']): number {
  return state === undefined ? 0 : state === 'draining' ? 1 : 2;
}
