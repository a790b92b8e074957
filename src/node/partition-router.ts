/**
 * One partition as the front-end sees it: requests go to the partition's primary, on this node
 * (through its PartitionClient) or on another (over NATS), chosen from the metadata cache. A stale
 * cache costs one redirect: a node that is not the primary answers `not_leader` without running
 * anything, and the request waits (bounded) for the assignment to change and goes again.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { PartitionOp, PartitionResult } from '../../actors/partition/partition.events.ts';
import type { MessageRecord } from '../../actors/partition/records.ts';
import type { MessageAttributes } from '../protocol/messages.ts';
import type { Metadata } from '../meta/metadata.ts';
import { ErrorCode, WharfError } from '../errors.ts';
import { decodeReply, encode, encodeOk } from '../protocol/codec.ts';
import { messageExtras, withExtras } from '../storage/records.ts';
import type { Subjects } from '../protocol/subjects.ts';
import type { Counts, PartitionClient, PartitionCounts } from './partition-client.ts';

export interface RouterDeps {
  nc: NatsConnection;
  subjects: Subjects;
  metadata: Metadata;
  self: string;
  /** This node's client of the partition's replica, if it holds one. */
  local: (queue: string, partition: number) => PartitionClient | undefined;
  /** How long a request waits for a primary to appear or change before it answers `unavailable`. */
  failoverWaitMs: number;
  /** Why this node is cut off from its cluster, if it is (peer-watch.ts): a wait for a primary would be in vain. */
  cutOff?: () => string | undefined;
  requestTimeoutMs: number;
}

const notLeader = (result: PartitionResult) => result.type === 'failed' && result.code === 'not_leader';

export class PartitionRouter {
  readonly queue: string;
  readonly index: number;
  private readonly deps: RouterDeps;

  constructor(deps: RouterDeps, queue: string, index: number) {
    this.deps = deps;
    this.queue = queue;
    this.index = index;
  }

  private assignment() {
    return this.deps.metadata.assignment(this.queue, this.index);
  }

  async request(op: PartitionOp): Promise<PartitionResult> {
    const deadline = Date.now() + this.deps.failoverWaitMs;
    for (;;) {
      const current = this.assignment();
      const primary = current?.value.primary ?? null;
      let result: PartitionResult | undefined;
      if (primary === this.deps.self) {
        const local = this.deps.local(this.queue, this.index);
        result = local?.serving ? await local.request(op) : undefined;
      } else if (primary !== null) {
        result = await this.remote(primary, op);
      }
      if (result !== undefined && !notLeader(result)) return result;
      // Cut off, this node would see no new assignment before the split heals: the client moves instead.
      const isolated = this.deps.cutOff?.();
      if (isolated !== undefined) return { type: 'failed', code: ErrorCode.NodeIsolated, message: isolated };
      // Not served where the cache says: wait for the assignment (or the local replica) to move on.
      const left = deadline - Date.now();
      if (left <= 0) {
        return { type: 'failed', code: 'unavailable', message: `partition ${this.index} of queue ${this.queue} has no serving primary; retry shortly` };
      }
      const revision = current?.revision ?? 0;
      await this.deps.metadata
        .waitFor(() => (this.assignment()?.revision ?? 0) !== revision || (primary === this.deps.self && (this.deps.local(this.queue, this.index)?.serving ?? false)), Math.min(left, 1000))
        .catch(() => undefined);
    }
  }

  /** Runs the op on another node; no answer at all (no responders) counts as not served there. */
  private async remote(node: string, op: PartitionOp | { type: 'counts' }): Promise<PartitionResult | undefined> {
    try {
      const reply = await this.deps.nc.request(
        this.deps.subjects.partition(node),
        encode({ queue: this.queue, partition: this.index, op }),
        { timeout: this.deps.requestTimeoutMs },
      );
      return fromWire(decodeReply<WireResult>(reply.data));
    } catch (err) {
      // The node answered with an error: it ran nothing of the request (the frame was refused).
      if (err instanceof WharfError) return { type: 'failed', code: err.code, message: err.message };
      const code = (err as { code?: unknown }).code;
      if (code === '503' || (err as Error).name === 'NoRespondersError' || /no responders/i.test((err as Error).message)) return undefined;
      return { type: 'failed', code: 'timeout', message: `no answer from node ${node}: the outcome is unknown` };
    }
  }

  /** The partition's counts from its primary; undefined while it has none. */
  async counts(): Promise<PartitionCounts | undefined> {
    const primary = this.assignment()?.value.primary ?? null;
    if (primary === null) return undefined;
    if (primary === this.deps.self) return this.deps.local(this.queue, this.index)?.fullCounts();
    const result = (await this.remote(primary, { type: 'counts' })) as unknown as { type: string } & Partial<PartitionCounts> | undefined;
    if (result?.type !== 'counts') return undefined;
    return {
      visible: result.visible ?? 0,
      inflight: result.inflight ?? 0,
      delayed: result.delayed ?? 0,
      deadLettered: result.deadLettered ?? 0,
      storedBytes: result.storedBytes ?? 0,
      oldestAgeMs: result.oldestAgeMs ?? 0,
    };
  }

  /** Counts when this node is the primary (for metrics, which must not wait on the network). */
  localCounts(): Counts | undefined {
    return this.assignment()?.value.primary === this.deps.self ? this.deps.local(this.queue, this.index)?.counts() : undefined;
  }

  get servingHere(): boolean {
    return this.deps.local(this.queue, this.index)?.serving ?? false;
  }
}

/** Answers one forwarded partition request on the primary's node. */
export async function servePartitionRequest(
  local: PartitionClient | undefined,
  op: PartitionOp | { type: 'counts' },
): Promise<Uint8Array> {
  if (!local?.serving) return encodeOk({ type: 'failed', code: 'not_leader', message: 'not the primary of this partition' });
  if (op.type === 'counts') {
    const counts = await local.fullCounts();
    return encodeOk(counts ? { type: 'counts', ...counts } : { type: 'failed', code: 'not_leader', message: 'loading' });
  }
  return encodeOk(toWire(await local.request(op)));
}

/**
 * A delivery as a forwarded answer carries it: positional, so a receive of 500 messages is not 500
 * maps of a dozen keys to encode and decode again. [offset, count, deadline, seq, first, size,
 * sentAt, message id, body, message sentAt, attributes?, message group?, extras? (storage/records.ts)]
 * (nil for an absent attributes or group when something follows)
 */
type WireDelivery = [number, number, number, number, number, number, number, string, Uint8Array, number, (MessageAttributes | null)?, (string | null)?, unknown?];
type WireResult = Exclude<PartitionResult, { type: 'received' }> | { type: 'received'; rows: WireDelivery[] };

function toWire(result: PartitionResult): WireResult {
  if (result.type !== 'received') return result;
  return {
    type: 'received',
    rows: result.deliveries.map(({ offset, delivery: d, record: r }): WireDelivery => {
      const row: WireDelivery = [offset, d.count, d.deadline, d.seq, d.first, d.size, d.sentAt, r.id, r.body, r.sentAt];
      const extras = messageExtras(r);
      if (r.attributes !== undefined || r.group !== undefined || extras !== undefined) row.push(r.attributes ?? null);
      if (r.group !== undefined || extras !== undefined) row.push(r.group ?? null);
      if (extras !== undefined) row.push(extras);
      return row;
    }),
  };
}

function fromWire(result: WireResult): PartitionResult {
  if (result.type !== 'received') return result;
  return {
    type: 'received',
    deliveries: result.rows.map(([offset, count, deadline, seq, first, size, sentAt, id, body, recordSentAt, attributes, group, extras]) => {
      const record: MessageRecord = { id, body, sentAt: recordSentAt };
      if (attributes !== undefined && attributes !== null) record.attributes = attributes;
      if (group !== undefined && group !== null) record.group = group;
      if (extras !== undefined) withExtras(record, extras);
      const delivery = group === undefined || group === null ? { count, deadline, seq, first, size, sentAt } : { count, deadline, seq, first, size, sentAt, group };
      return { offset, delivery, record };
    }),
  };
}
