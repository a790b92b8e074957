/**
 * Cluster-wide running totals of messages sent, received and deleted per queue, from the nodes'
 * counters (each node counts what its own front-end answered, from 0 at its start). The page turns
 * successive totals into rates.
 *
 * A node's counters restart at 0 with the node (a new `boot`), so totals add each node's increase
 * since its previous answer, all of its count after a restart, and nothing on its first answer
 * (which only sets where it stands): a node joining, or the inspector starting, is no burst of
 * messages. A node that does not answer one round adds its increase at the next.
 */
import type { CountersReply, MessageCounters } from '../protocol.ts';

const ZERO: Readonly<MessageCounters> = Object.freeze({ sent: 0, received: 0, deleted: 0 });
const FIELDS = ['sent', 'received', 'deleted'] as const;

export class MessageTotals {
  private readonly nodes = new Map<string, { boot: string; last: Record<string, MessageCounters> }>();
  private readonly totals = new Map<string, MessageCounters>();

  /** Takes one node's answer. */
  add(reply: CountersReply): void {
    const before = this.nodes.get(reply.node);
    this.nodes.set(reply.node, { boot: reply.boot, last: reply.queues });
    if (before === undefined) return;
    const restarted = before.boot !== reply.boot;
    for (const [queue, now] of Object.entries(reply.queues)) {
      const then = restarted ? ZERO : (before.last[queue] ?? ZERO);
      const total = this.totals.get(queue) ?? { ...ZERO };
      // A counter below its last value means the node restarted unseen: count it from 0.
      for (const f of FIELDS) total[f] += now[f] >= then[f] ? now[f] - then[f] : now[f];
      this.totals.set(queue, total);
    }
  }

  /** The queue's totals since the inspector started listening (0 until a node counted twice). */
  of(queue: string): MessageCounters {
    return { ...(this.totals.get(queue) ?? ZERO) };
  }

  /** Forgets queues that no longer exist, and nodes no longer in the cluster. */
  keep(queues: ReadonlySet<string>, nodes: ReadonlySet<string>): void {
    for (const queue of this.totals.keys()) if (!queues.has(queue)) this.totals.delete(queue);
    for (const node of this.nodes.keys()) if (!nodes.has(node)) this.nodes.delete(node);
  }
}
