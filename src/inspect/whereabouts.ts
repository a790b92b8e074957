/**
 * Where a message is: ready, in flight (until when, delivered how often) or delayed (until when).
 * Answered from the partition primary's store, read-only: what is on disk is what was acknowledged.
 *
 * A receipt handle names its partition and offset, so that is two point reads. A message id is a
 * random UUID that no key holds, so a search by id scans the partitions' ready, in-flight and delayed
 * messages up to SCAN_LIMIT and says how many it looked at. Partitions whose primary is on another
 * node are asked there (the same request, narrowed to the partition).
 *
 * A delivery records the consumer name its receive carried (the SDK always sends one): that is the
 * lease owner. Receives that named no consumer leave `leaseOwner` absent.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import * as v from 'valibot';
import type { Metadata } from '../meta/metadata.ts';
import { partitionCount, servedPartitions } from '../meta/layout.ts';
import type { QueueName } from '../names.ts';
import { decodeReceipt } from '../protocol/receipt.ts';
import type { Subjects } from '../protocol/subjects.ts';
import { keys, type Range } from '../storage/keys.ts';
import { decodeAttempt, decodeMessage } from '../storage/records.ts';
import { MAX_ATTEMPTS_KEPT } from '../../actors/partition/dead-letter.ts';
import type { MessageRecord } from '../../actors/partition/records.ts';
import { hlcText, unpackHlc } from '../../actors/hosts/hlc.ts';
import { storedDelivery } from '../effects/partition-store.ts';
import type { Store } from '../storage/store.ts';
import {
  decodeJson,
  encodeJson,
  INSPECT_REQUEST_TIMEOUT_MS,
  inspectErrorSchema,
  messageReplySchema,
  type InspectError,
  type MessageQuery,
  type MessageReply,
} from './protocol.ts';

/** Messages one search by id looks at, over all partitions. */
export const SCAN_LIMIT = 100_000;
const PAGE = 1000;
const PAGE_BYTES = 4 * 1024 * 1024;

export interface WhereaboutsDeps {
  nc: NatsConnection;
  subs: Subjects;
  self: string;
  metadata: Metadata;
  store: Store;
  /** Whether this node's replica of the partition is serving as primary now. */
  isPrimary(queue: string, partition: number): boolean;
  /** Wall clock, ms (lease deadlines are wall times). */
  now(): number;
}

type Found = Extract<MessageReply, { found: true }>;

export async function findMessage(deps: WhereaboutsDeps, query: MessageQuery): Promise<MessageReply | InspectError> {
  const meta = deps.metadata.queue(query.queue)?.value;
  if (!meta) return { error: `no queue named ${query.queue}` };
  const queue = meta.name as QueueName;
  let offset: number | undefined;
  let partitions: number[];
  if (query.receiptHandle !== undefined) {
    let receipt;
    try {
      receipt = decodeReceipt(query.receiptHandle);
    } catch (err) {
      return { error: (err as Error).message };
    }
    if (receipt.incarnation !== meta.incarnation) return { found: false, searched: 0 };
    offset = receipt.offset;
    partitions = [receipt.partition];
  } else if (query.id !== undefined) {
    partitions = query.partition !== undefined ? [query.partition] : servedPartitions(meta);
  } else {
    return { error: 'give a message id or a receipt handle' };
  }
  if (partitions.some((p) => p < 0 || p >= partitionCount(meta))) return { error: `queue ${queue} has no such partition` };

  let searched = 0;
  let truncated = false;
  const errors: string[] = [];
  for (const partition of partitions) {
    const budget = SCAN_LIMIT - searched;
    if (budget <= 0) {
      truncated = true;
      break;
    }
    let reply: MessageReply | InspectError;
    if (deps.isPrimary(queue, partition)) {
      reply = await searchLocal(deps, queue, partition, offset, query.id, budget);
    } else if (query.partition !== undefined && query.receiptHandle === undefined) {
      // Already forwarded here: asking on would loop while the assignment moves.
      const primary = deps.metadata.assignment(queue, partition)?.value.primary;
      return { error: `not the primary of ${queue}/${partition}`, ...(primary ? { primary } : {}) };
    } else {
      reply = await forward(deps, query, partition);
    }
    if ('error' in reply) {
      errors.push(reply.error);
      continue;
    }
    searched += reply.searched;
    if (reply.found) return { ...reply, searched };
    if (reply.truncated) truncated = true;
  }
  if (errors.length > 0 && searched === 0) return { error: errors.join('; ') };
  return { found: false, searched, ...(truncated ? { truncated } : {}) };
}

async function forward(deps: WhereaboutsDeps, query: MessageQuery, partition: number): Promise<MessageReply | InspectError> {
  const primary = deps.metadata.assignment(query.queue, partition)?.value.primary;
  if (!primary) return { error: `partition ${partition} of ${query.queue} has no primary now` };
  if (primary === deps.self) return { error: `partition ${partition} of ${query.queue} is not loaded here yet`, primary };
  try {
    const msg = await deps.nc.request(deps.subs.inspectRequest(primary), encodeJson({ ...query, partition }), {
      timeout: INSPECT_REQUEST_TIMEOUT_MS,
    });
    return decodeJson(v.union([messageReplySchema, inspectErrorSchema]), msg.data);
  } catch (err) {
    return { error: `node ${primary} did not answer: ${(err as Error).message}`, primary };
  }
}

async function searchLocal(
  deps: WhereaboutsDeps,
  queue: QueueName,
  partition: number,
  offset: number | undefined,
  id: string | undefined,
  budget: number,
): Promise<MessageReply> {
  if (offset !== undefined) {
    const found = await atOffset(deps, queue, partition, offset);
    return found ?? { found: false, searched: 1 };
  }
  let searched = 0;
  const ready = await scan(deps.store, keys.messages(queue, partition), budget, (_key, value) => decodeMessage(value).id === id);
  searched += ready.searched;
  if (ready.key !== undefined) {
    const found = await atOffset(deps, queue, partition, keys.offsetOf(ready.key));
    if (found) return { ...found, searched };
  }
  if (ready.truncated) return { found: false, searched, truncated: true };
  let delayed: { key: string; sentAt: number; size: number; hlc?: string } | undefined;
  const late = await scan(deps.store, keys.delayedAll(queue, partition), budget - searched, (key, value) => {
    const record = decodeMessage(value);
    if (record.id !== id) return false;
    delayed = { key, sentAt: record.sentAt, size: record.body.byteLength, ...hlcOf(record) };
    return true;
  });
  searched += late.searched;
  if (delayed) {
    return {
      found: true,
      node: deps.self,
      messageId: id as string,
      partition,
      state: 'delayed',
      receiveCount: 0,
      delayedUntil: keys.delayedOf(delayed.key).due,
      sentAt: delayed.sentAt,
      ...(delayed.hlc === undefined ? {} : { hlc: delayed.hlc }),
      size: delayed.size,
      searched,
    };
  }
  return { found: false, searched, ...(late.truncated ? { truncated: true } : {}) };
}

/** A hosts cluster's message timestamp, as text (`<physical ms>.<counter>`, sortable). */
function hlcOf(record: MessageRecord): { hlc?: string } {
  const hlc = record.hlc === undefined ? undefined : unpackHlc(record.hlc);
  return hlc === undefined ? {} : { hlc: hlcText(hlc) };
}

/** The message at an offset, with its delivery state; undefined when it is gone (deleted or expired). */
async function atOffset(deps: WhereaboutsDeps, queue: QueueName, partition: number, offset: number): Promise<Found | undefined> {
  const [message] = await deps.store.getMany([keys.message(queue, partition, offset)]);
  if (message === undefined) return undefined;
  const record = decodeMessage(message);
  const base = {
    found: true as const,
    node: deps.self,
    messageId: record.id,
    partition,
    offset,
    sentAt: record.sentAt,
    ...hlcOf(record),
    size: record.body.byteLength,
    searched: 1,
    ...(await history(deps.store, queue, partition, offset, record)),
  };
  // Delivery records are stored in groups (one key per receive batch): the partition store finds the current one.
  const d = await storedDelivery(deps.store, queue, partition, offset);
  if (d === undefined) return { ...base, state: 'ready', receiveCount: 0 };
  // A lease that ran out leaves the message ready for redelivery until the next receive.
  if (d.deadline > deps.now()) {
    return { ...base, state: 'inflight', receiveCount: d.count, leaseUntil: d.deadline, ...(d.consumer === undefined ? {} : { leaseOwner: d.consumer }) };
  }
  return { ...base, state: 'ready', receiveCount: d.count };
}

/**
 * A message's delivery history: a dead letter carries it (with where it came from and why); a
 * message redelivered here has the attempts recorded so far (h/ keys).
 */
async function history(store: Store, queue: QueueName, partition: number, offset: number, record: MessageRecord): Promise<Pick<Found, 'attempts' | 'deadLetter'>> {
  if (record.deadLetter !== undefined) {
    const { attempts, ...deadLetter } = record.deadLetter;
    return { attempts, deadLetter };
  }
  const attempts = (await store.scan(keys.attemptsOf(queue, partition, offset), MAX_ATTEMPTS_KEPT)).map(([, v]) => decodeAttempt(v));
  return attempts.length > 0 ? { attempts } : {};
}

/** Scans a range in pages from one point-in-time view until `match`, or `limit` entries. */
async function scan(
  store: Store,
  range: Range,
  limit: number,
  match: (key: string, value: Uint8Array) => boolean,
): Promise<{ searched: number; key?: string; truncated: boolean }> {
  const view = store.view([range]);
  let searched = 0;
  try {
    while (searched < limit) {
      const page = await view.next(Math.min(PAGE, limit - searched), PAGE_BYTES);
      if (page.length === 0) return { searched, truncated: false };
      for (const [key, value] of page) {
        searched++;
        if (match(key, value)) return { searched, key, truncated: false };
      }
    }
    return { searched, truncated: true };
  } finally {
    await view.close();
  }
}
