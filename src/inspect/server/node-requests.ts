/**
 * The page's questions to the nodes, over their inspection request subject
 * (subjects.ts `inspectRequest`, src/inspect/protocol.ts): a node's actors, a machine's
 * definition, and where a message is. Every answer is checked against the protocol's schemas.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import * as v from 'valibot';
import { decodeReceipt } from '../../protocol/receipt.ts';
import type { Subjects } from '../../protocol/subjects.ts';
import {
  actorsReplySchema,
  countersReplySchema,
  decodeJson,
  encodeJson,
  inspectErrorSchema,
  INSPECT_REQUEST_TIMEOUT_MS,
  machineReplySchema,
  messageReplySchema,
  type ActorsReply,
  type CountersReply,
  type InspectRequest,
  type MachineReply,
  type MessageQuery,
  type MessageReply,
} from '../protocol.ts';
import type { ClusterMapView } from './cluster-map.ts';

/** A node answered with an error, or not at all: shown to the user as it is. */
export class NodeRequestError extends Error {
  override name = 'NodeRequestError';
  readonly node: string;
  /** The node named the partition's primary as the one to ask. */
  readonly primary: string | undefined;

  constructor(message: string, node: string, primary?: string) {
    super(message);
    this.node = node;
    this.primary = primary;
  }
}

export interface MessageSearch {
  /** The nodes asked, in order. */
  asked: string[];
  reply: MessageReply;
}

export class NodeRequests {
  private readonly nc: NatsConnection;
  private readonly subjects: Subjects;
  private readonly timeoutMs: number;

  constructor(nc: NatsConnection, subjects: Subjects, timeoutMs = INSPECT_REQUEST_TIMEOUT_MS) {
    this.nc = nc;
    this.subjects = subjects;
    this.timeoutMs = timeoutMs;
  }

  actors(node: string): Promise<ActorsReply> {
    return this.ask(node, { op: 'actors' }, actorsReplySchema);
  }

  /** The node's message counters per queue. */
  counters(node: string): Promise<CountersReply> {
    return this.ask(node, { op: 'counters' }, countersReplySchema);
  }

  machine(node: string, machine: string): Promise<MachineReply> {
    return this.ask(node, { op: 'machine', machine }, machineReplySchema);
  }

  /**
   * Asks each partition's primary about its own partition (only the receipt handle's partition
   * for a handle) and follows a node that names another as the primary, once. The first that
   * found the message answers.
   */
  async message(query: MessageQuery, map: ClusterMapView): Promise<MessageSearch> {
    const targets = messageTargets(query, map);
    if (targets.length === 0) throw new NodeRequestError(`queue ${query.queue} has no partition`, '');
    const asked: string[] = [];
    const askOne = async ({ node, partition }: Target): Promise<MessageReply | NodeRequestError> => {
      if (node === null) return new NodeRequestError(`${query.queue}/${partition} has no primary: an election is under way`, '');
      const request: MessageQuery = { ...query, partition };
      asked.push(node);
      try {
        return await this.ask(node, request, messageReplySchema);
      } catch (err) {
        if (!(err instanceof NodeRequestError)) throw err;
        if (err.primary === undefined || err.primary === node) return err;
        asked.push(err.primary);
        return this.ask(err.primary, request, messageReplySchema).catch((e: unknown) => (e instanceof NodeRequestError ? e : Promise.reject(e)));
      }
    };
    const replies = await Promise.all(targets.map(askOne));
    const found = replies.find((r): r is MessageReply => !(r instanceof Error) && r.found);
    if (found) return { asked, reply: found };
    const answered = replies.filter((r): r is MessageReply => !(r instanceof Error));
    const failed = replies.find((r): r is NodeRequestError => r instanceof Error);
    if (failed) throw failed;
    return {
      asked,
      reply: {
        found: false,
        searched: answered.reduce((sum, r) => sum + r.searched, 0),
        ...(answered.some((r) => !r.found && r.truncated === true) ? { truncated: true } : {}),
      },
    };
  }

  private async ask<T>(node: string, request: InspectRequest, schema: v.GenericSchema<unknown, T>): Promise<T> {
    let data: Uint8Array;
    try {
      data = (await this.nc.request(this.subjects.inspectRequest(node), encodeJson(request), { timeout: this.timeoutMs })).data;
    } catch (err) {
      throw new NodeRequestError(`node ${node} did not answer: ${err instanceof Error ? err.message : String(err)}`, node);
    }
    const failure = v.safeParse(inspectErrorSchema, safeJson(data));
    if (failure.success) throw new NodeRequestError(`node ${node}: ${failure.output.error}`, node, failure.output.primary);
    try {
      return decodeJson(schema, data);
    } catch (err) {
      throw new NodeRequestError(`node ${node}: ${err instanceof Error ? err.message : String(err)}`, node);
    }
  }
}

interface Target {
  /** Null while the partition has no primary. */
  node: string | null;
  partition: number;
}

function messageTargets(query: MessageQuery, map: ClusterMapView): Target[] {
  const queue = map.queues.find((q) => q.name === query.queue);
  if (queue === undefined) return [];
  const wanted = query.receiptHandle === undefined ? undefined : decodeReceipt(query.receiptHandle).partition;
  const partitions = queue.partitions.filter((p) => wanted === undefined || p.partition === wanted);
  return partitions.map((p) => ({ node: p.primary, partition: p.partition }));
}

function safeJson(data: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(data)) as unknown;
  } catch {
    return undefined;
  }
}
