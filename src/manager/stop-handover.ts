/**
 * The stopping node's side of a graceful hand-over: before it stops serving, it asks the active
 * cluster manager (`manager.handover`) to move its primaries to caught-up followers, and waits —
 * boundedly — until the metadata names another primary for each partition the manager said it
 * would move. Its partitions then fail over in about one heartbeat and one election, instead of
 * after the failure timeout. Nothing here is needed for safety: if no manager answers, or the wait
 * runs out, the node stops anyway and the failure detector does the rest.
 */
import { errors, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { Metadata } from '../meta/metadata.ts';
import { assignmentKey } from '../meta/records.ts';
import type { Subjects } from '../protocol/subjects.ts';

/** Between two hand-over requests that found no active manager. */
const ASK_AGAIN_MS = 200;

export interface HandoverOptions {
  nc: NatsConnection;
  subjects: Subjects;
  metadata: Pick<Metadata, 'assignments' | 'waitFor' | 'lease'>;
  self: string;
  log: Logger;
  /** How long to wait for the answer and then for the new primaries, ms. */
  timeoutMs: number;
}

interface HandoverReply {
  ok: boolean;
  moving?: Array<{ partition: string; to: string }>;
  staying?: Array<{ partition: string; reason: string }>;
  error?: { code: string; message: string };
}

/** A partition handed over to another node's primary. */
export interface HandedOver {
  queue: string;
  partition: number;
}

/**
 * Resolves when the partitions the manager moves have another primary (elected), or when it gives
 * up, with those that moved to another node: their new primaries will ask this node to release the
 * lease (src/replication/releases.ts).
 */
export async function handOverPrimaries(o: HandoverOptions): Promise<HandedOver[]> {
  const mine = () => o.metadata.assignments().filter((a) => a.value.primary === o.self);
  if (o.nc.isClosed() || mine().length === 0) return [];
  const started = Date.now();
  let reply: HandoverReply | undefined;
  // No active manager for a moment (the last one stopped, a standby is taking its lease over): ask
  // again until the wait runs out, in a cluster that has a manager at all.
  while (reply === undefined) {
    try {
      const msg = await o.nc.request(o.subjects.manager('handover'), JSON.stringify({ node: o.self }), {
        timeout: Math.min(o.timeoutMs, 2000),
      });
      reply = JSON.parse(new TextDecoder().decode(msg.data)) as HandoverReply;
    } catch (err) {
      const noManagerYet = err instanceof errors.NoRespondersError || (err instanceof errors.RequestError && err.isNoResponders());
      // A cluster where no manager ever took the lease (all of them disabled) has nobody to wait for.
      if (!noManagerYet || o.metadata.lease() === undefined || Date.now() - started + ASK_AGAIN_MS >= o.timeoutMs) {
        o.log.warn({ err }, 'no cluster manager answered the hand-over request: primaries fail over after the failure timeout');
        return [];
      }
      await new Promise((r) => setTimeout(r, ASK_AGAIN_MS));
    }
  }
  if (!reply.ok) {
    o.log.warn({ error: reply.error }, 'the cluster manager refused the hand-over: primaries fail over after the failure timeout');
    return [];
  }
  const moving = new Set((reply.moving ?? []).map((m) => m.partition));
  for (const s of reply.staying ?? []) o.log.warn({ partition: s.partition, reason: s.reason }, 'primary not handed over');
  const epochs = new Map(mine().map((a) => [assignmentKey(a.value.queue, a.value.partition), a.value.epoch]));
  // Elected again at a newer epoch: the successor went away meanwhile (every node is stopping), so
  // there is nothing more to wait for.
  const stillMine = () =>
    o.metadata.assignments().filter(({ value: a }) => {
      const key = assignmentKey(a.queue, a.partition);
      if (!moving.has(key)) return false;
      return a.primary === null || (a.primary === o.self && a.epoch <= (epochs.get(key) ?? Infinity));
    });
  const remaining = Math.max(0, o.timeoutMs - (Date.now() - started));
  try {
    await o.metadata.waitFor(() => stillMine().length === 0, remaining);
    o.log.info({ moved: moving.size }, 'primaries handed over');
  } catch {
    o.log.warn({ left: stillMine().map((a) => assignmentKey(a.value.queue, a.value.partition)) }, 'hand-over not finished in time: stopping anyway');
  }
  return o.metadata
    .assignments()
    .filter(({ value: a }) => moving.has(assignmentKey(a.queue, a.partition)) && a.primary !== null && a.primary !== o.self)
    .map(({ value: a }) => ({ queue: a.queue, partition: a.partition }));
}
