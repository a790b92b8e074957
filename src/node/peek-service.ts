/**
 * PeekMessages: browse a queue without consuming it. The front-end walks the partitions in order,
 * each from where the cursor says, and asks each partition's primary for a page of its store
 * (src/effects/peek-store.ts): on this node directly, on another over `node.<node>.peek`. A page
 * ends at `limit` messages, at 4 MiB of bodies, or after LIMITS.maxPeekScan stored messages were
 * read, whichever comes first; the cursor says where the next page starts.
 *
 * On a stream (mode stream) the page is its messages by offset, from `offset` if the request gives
 * one, and the reply carries the committed offsets of the consumer groups in the partitions it read.
 *
 * A peek reads each partition from the store as it is at that moment, page by page: a message that
 * changes state between two pages (a delay running out moves it to a new offset) can be seen twice or
 * not at all, as with any scan of a live queue.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { partitionCount, partitionStates } from '../meta/layout.ts';
import { ErrorCode, WharfError } from '../errors.ts';
import type { QueueMeta } from '../meta/records.ts';
import type { Metadata } from '../meta/metadata.ts';
import { decodeReply, encode, encodeOk } from '../protocol/codec.ts';
import { LIMITS } from '../protocol/limits.ts';
import { PEEK_STATES, type PeekedMessage, type PeekedOffset, type Reply, type Request } from '../protocol/messages.ts';
import type { Subjects } from '../protocol/subjects.ts';
import { peekPartition, type PartitionPeek, type PartitionPeekResult, type PeekPosition } from '../effects/peek-store.ts';
import type { Store } from '../storage/store.ts';

export interface PeekDeps {
  nc: NatsConnection;
  subjects: Subjects;
  metadata: Metadata;
  store: Store;
  self: string;
  /** Whether this node's replica of the partition serves as primary now. */
  isPrimary(queue: string, partition: number): boolean;
  now(): number;
  requestTimeoutMs: number;
}

const DEFAULT_LIMIT = 20;
const CURSOR_VERSION = 1;

/** The cursor: which queue incarnation, partition and position the next page starts at. Opaque to clients. */
interface Cursor {
  incarnation: number;
  partition: number;
  from: PeekPosition;
}

export function encodeCursor(c: Cursor): string {
  const pos = c.from.phase === 'm' ? ['m', c.from.offset] : ['d', c.from.due, c.from.seq];
  return Buffer.from(JSON.stringify([CURSOR_VERSION, c.incarnation, c.partition, ...pos])).toString('base64url');
}

export function decodeCursor(text: string): Cursor {
  const bad = () => new WharfError(ErrorCode.InvalidParameter, 'PeekMessages: cursor is not one a PeekMessages reply gave');
  let a: unknown;
  try {
    a = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw bad();
  }
  const nat = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
  if (!Array.isArray(a) || a[0] !== CURSOR_VERSION || !nat(a[1]) || !nat(a[2])) throw bad();
  if (a[3] === 'm' && a.length === 5 && nat(a[4])) return { incarnation: a[1], partition: a[2], from: { phase: 'm', offset: a[4] } };
  if (a[3] === 'd' && a.length === 6 && nat(a[4]) && nat(a[5])) return { incarnation: a[1], partition: a[2], from: { phase: 'd', due: a[4], seq: a[5] } };
  throw bad();
}

export async function peekMessages(deps: PeekDeps, meta: QueueMeta, request: Request<'PeekMessages'>): Promise<Reply<'PeekMessages'>> {
  // Every partition id the queue has given (auto-scaling adds ids); retired ones hold nothing.
  const partitions = partitionCount(meta);
  const retired = partitionStates(meta).map((s) => s === 'retired');
  if (request.partition !== undefined && request.partition >= partitions) {
    throw new WharfError(ErrorCode.InvalidParameter, `PeekMessages: queue ${meta.name} has partitions 0 to ${partitions - 1}`);
  }
  const stream = meta.attributes.mode === 'stream';
  checkStreamOptions(meta, request, stream);
  let position: Cursor = { incarnation: meta.incarnation, partition: request.partition ?? 0, from: { phase: 'm', offset: request.offset ?? 0 } };
  if (request.cursor !== undefined) {
    position = decodeCursor(request.cursor);
    if (position.incarnation !== meta.incarnation || position.partition >= partitions) {
      throw new WharfError(ErrorCode.InvalidParameter, `PeekMessages: the cursor belongs to another queue (or an earlier queue named ${meta.name})`);
    }
    if (request.partition !== undefined && position.partition !== request.partition) {
      throw new WharfError(ErrorCode.InvalidParameter, 'PeekMessages: the cursor is of another partition than `partition`');
    }
  }
  const last = request.partition ?? partitions - 1;
  const limit = request.limit ?? DEFAULT_LIMIT;
  const messages: PeekedMessage[] = [];
  const committed: PeekedOffset[] = [];
  let scanned = 0;
  let bytes = 0;
  // Stream pages carry the committed offsets of the partitions they read.
  const reply = (cursor: Cursor | undefined): Reply<'PeekMessages'> => ({
    messages,
    ...(cursor === undefined ? {} : { cursor: encodeCursor(cursor) }),
    scanned,
    ...(stream ? { committed } : {}),
  });
  for (let p = position.partition; p <= last; p++) {
    if (retired[p] === true) continue;
    const input: PartitionPeek = {
      queue: meta.name,
      partition: p,
      from: p === position.partition ? position.from : { phase: 'm', offset: 0 },
      states: request.states ?? PEEK_STATES,
      limit: limit - messages.length,
      budget: LIMITS.maxPeekScan - scanned,
      maxBytes: Math.max(1, LIMITS.maxReceiveBytes - bytes),
      body: request.body === true,
      ...(request.messageId === undefined ? {} : { messageId: request.messageId }),
      ...(request.attribute === undefined ? {} : { attribute: request.attribute }),
      retentionMs: meta.attributes.retentionPeriod * 1000,
      ...(stream ? { stream: true } : {}),
    };
    const page = await peekOne(deps, input);
    messages.push(...page.messages);
    scanned += page.scanned;
    for (const m of page.messages) bytes += m.body?.byteLength ?? 0;
    for (const [group, offset] of page.committed ?? []) committed.push({ partition: p, group, offset });
    if (page.next !== undefined) return reply({ incarnation: meta.incarnation, partition: p, from: page.next });
    const done = messages.length >= limit || scanned >= LIMITS.maxPeekScan || (request.body === true && bytes >= LIMITS.maxReceiveBytes);
    if (done && p < last) return reply({ incarnation: meta.incarnation, partition: p + 1, from: { phase: 'm', offset: 0 } });
  }
  return reply(undefined);
}

/** A stream's messages are all `stored` (no states to choose); `offset` is a stream's, in one partition. */
function checkStreamOptions(meta: QueueMeta, request: Request<'PeekMessages'>, stream: boolean): void {
  if (stream && request.states !== undefined) {
    throw new WharfError(ErrorCode.InvalidParameter, `PeekMessages: ${meta.name} is a stream: its messages are all stored until retention removes them (states applies to queues)`);
  }
  if (request.offset === undefined) return;
  if (!stream) throw new WharfError(ErrorCode.InvalidParameter, `PeekMessages: offset applies to streams (mode stream); ${meta.name} is a queue`);
  if (request.partition === undefined) throw new WharfError(ErrorCode.InvalidParameter, 'PeekMessages: offset needs the partition it is an offset of');
  if (request.cursor !== undefined) throw new WharfError(ErrorCode.InvalidParameter, 'PeekMessages: offset starts a browse; a cursor continues one (give one of them)');
}

/** One partition's page, from its primary. */
async function peekOne(deps: PeekDeps, input: PartitionPeek): Promise<PartitionPeekResult> {
  if (deps.isPrimary(input.queue, input.partition)) return peekPartition(deps.store, input, deps.now());
  const primary = deps.metadata.assignment(input.queue, input.partition)?.value.primary ?? null;
  if (primary === null || primary === deps.self) {
    throw new WharfError(ErrorCode.Unavailable, `partition ${input.partition} of queue ${input.queue} has no serving primary now; retry shortly`);
  }
  try {
    const msg = await deps.nc.request(deps.subjects.peek(primary), encode(input), { timeout: deps.requestTimeoutMs });
    return decodeReply<PartitionPeekResult>(msg.data);
  } catch (err) {
    if (err instanceof WharfError) throw err;
    throw new WharfError(ErrorCode.Unavailable, `node ${primary} did not answer a peek of partition ${input.partition}: ${(err as Error).message}`, { cause: err });
  }
}

/** Answers a forwarded partition page on the primary's node; refused when it is not the primary (any more). */
export async function servePeek(deps: Pick<PeekDeps, 'store' | 'isPrimary' | 'now'>, input: PartitionPeek): Promise<Uint8Array> {
  if (!deps.isPrimary(input.queue, input.partition)) {
    throw new WharfError(ErrorCode.Unavailable, `not the primary of ${input.queue}/${input.partition} any more; retry shortly`);
  }
  return encodeOk(await peekPartition(deps.store, input, deps.now()));
}
