/**
 * The RocksDB key layout, version 2. No other module builds or parses a key.
 *
 *   meta/layout                          → layout version (checked at open)
 *   meta/store-id                        → the store's random identity, written when it is created (UTF-8)
 *   meta/store-generation                → how many times the store was opened (a copy restored from a backup has fewer)
 *   meta/probe                           → written and deleted to check that a reopened store takes writes again
 *   q/<queue>                            → QueueRecord (attributes, timestamps)
 *   x/<queue>                            → incarnation of a queue whose data is being deleted
 *   e/<queue>/<pp>                       → ReplicaMeta (highest epoch seen, epoch history, log end, applied index)
 *   r/<queue>/<pp>/<index>               → LogEntry (epoch, the batch of key changes it makes)
 *   u/<queue>/<pp>/<expires>/<tag>       → DedupGroup (a send request's deduplication ids and message ids)
 *   s/<queue>/<pp>                       → PartitionRecord (next offset, delivery sequence, counts)
 *   m/<queue>/<pp>/<offset>              → MessageRecord, ready or in flight, in order of visibility
 *   l/<queue>/<pp>/<group>               → DeliveryGroup (the delivery records of one receive batch)
 *   d/<queue>/<pp>/<due>/<seq>           → MessageRecord waiting out a delay until <due>
 *   k/<queue>/<pp>/<offset>              → DeadLetterMark: the message at <offset> is on its way to the DLQ
 *   h/<queue>/<pp>/<offset>/<n>          → Attempt number <n> of a message delivered more than once
 *   t/<queue>/<pp>                       → StreamRecord (stream mode: first stored offset, bytes stored, last sentAt)
 *   o/<queue>/<pp>/<group>               → OffsetRecord (stream mode: a consumer group's committed offset, generation, metadata, time)
 *
 * <pp> is 4 hex digits; <offset>, <due> and <seq> are 13 hex digits (up to 2^52): fixed width, so byte
 * order is numeric order and a range scan returns offsets (or due times) in order. A queue name never
 * holds '/' (names.ts), so a prefix cannot run into another queue's; nor does a group name (codec.ts).
 * t/ and o/ came after layout 2 was fixed: a store without them reads as a stream with nothing
 * committed, so the layout version did not change.
 */
import type { QueueName } from '../names.ts';

export const LAYOUT_VERSION = 2;

const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');
const pp = (p: number) => hex(p, 4);
const n13 = (n: number) => hex(n, 13);

export interface Range {
  gte: string;
  lt: string;
}

/** All keys that start with `prefix`: `lt` is the prefix with its last character incremented. */
function prefixRange(prefix: string): Range {
  const last = prefix.charCodeAt(prefix.length - 1);
  return { gte: prefix, lt: prefix.slice(0, -1) + String.fromCharCode(last + 1) };
}

export const keys = {
  layout: 'meta/layout',
  /** The store's identity: a node that comes back with another one lost its replicas' data. */
  storeId: 'meta/store-id',
  storeGeneration: 'meta/store-generation',
  probe: 'meta/probe',
  queue: (q: QueueName) => `q/${q}`,
  queues: prefixRange('q/'),
  deleting: (q: QueueName) => `x/${q}`,
  allDeleting: prefixRange('x/'),
  partition: (q: QueueName, p: number) => `s/${q}/${pp(p)}`,
  message: (q: QueueName, p: number, offset: number) => `m/${q}/${pp(p)}/${n13(offset)}`,
  /** Messages of a partition with offsets in [from, end). */
  messagesBetween: (q: QueueName, p: number, from: number, end: number): Range => ({
    gte: `m/${q}/${pp(p)}/${n13(from)}`,
    lt: `m/${q}/${pp(p)}/${n13(end)}`,
  }),
  messages: (q: QueueName, p: number) => prefixRange(`m/${q}/${pp(p)}/`),
  delivery: (q: QueueName, p: number, offset: number) => `l/${q}/${pp(p)}/${n13(offset)}`,
  deliveries: (q: QueueName, p: number) => prefixRange(`l/${q}/${pp(p)}/`),
  /** Delivery records of a partition with offsets in [from, end). */
  deliveriesBetween: (q: QueueName, p: number, from: number, end: number): Range => ({
    gte: `l/${q}/${pp(p)}/${n13(from)}`,
    lt: `l/${q}/${pp(p)}/${n13(end)}`,
  }),
  delayed: (q: QueueName, p: number, due: number, seq: number) => `d/${q}/${pp(p)}/${n13(due)}/${n13(seq)}`,
  /** Delayed messages of a partition from (due, seq) on, in due order. */
  delayedFrom: (q: QueueName, p: number, due: number, seq: number): Range => ({
    gte: `d/${q}/${pp(p)}/${n13(due)}/${n13(seq)}`,
    lt: prefixRange(`d/${q}/${pp(p)}/`).lt,
  }),
  delayedAll: (q: QueueName, p: number) => prefixRange(`d/${q}/${pp(p)}/`),
  /** Whether the key's value is a message record (MessageRecord): a message or a delayed message. */
  holdsMessage: (key: string) => key.startsWith('m/') || key.startsWith('d/'),
  stream: (q: QueueName, p: number) => `t/${q}/${pp(p)}`,
  groupOffset: (q: QueueName, p: number, group: string) => `o/${q}/${pp(p)}/${group}`,
  groupOffsets: (q: QueueName, p: number) => prefixRange(`o/${q}/${pp(p)}/`),
  replica: (q: QueueName, p: number) => `e/${q}/${pp(p)}`,
  allReplicas: prefixRange('e/'),
  mark: (q: QueueName, p: number, offset: number) => `k/${q}/${pp(p)}/${n13(offset)}`,
  marks: (q: QueueName, p: number) => prefixRange(`k/${q}/${pp(p)}/`),
  attempt: (q: QueueName, p: number, offset: number, n: number) => `h/${q}/${pp(p)}/${n13(offset)}/${n13(n)}`,
  /** The attempts of one message, oldest first. */
  attemptsOf: (q: QueueName, p: number, offset: number) => prefixRange(`h/${q}/${pp(p)}/${n13(offset)}/`),
  attempts: (q: QueueName, p: number) => prefixRange(`h/${q}/${pp(p)}/`),
  /** Offset and number of an attempt key. */
  attemptOf(key: string): { offset: number; n: number } {
    const parts = key.split('/');
    return { offset: parseInt(parts[3] ?? '', 16), n: parseInt(parts[4] ?? '', 16) };
  },
  dedupGroup: (q: QueueName, p: number, expires: number, tag: string) => `u/${q}/${pp(p)}/${n13(expires)}/${tag}`,
  dedupGroups: (q: QueueName, p: number) => prefixRange(`u/${q}/${pp(p)}/`),
  /** Queue and partition of a replica key. */
  replicaOf(key: string): { queue: string; partition: number } {
    const [, queue = '', p = ''] = key.split('/');
    return { queue, partition: parseInt(p, 16) };
  },
  logEntry: (q: QueueName, p: number, index: number) => `r/${q}/${pp(p)}/${n13(index)}`,
  /** Every log entry of a partition. */
  log: (q: QueueName, p: number) => prefixRange(`r/${q}/${pp(p)}/`),
  /** Log entries of a partition with indexes in [from, end). */
  logBetween: (q: QueueName, p: number, from: number, end: number): Range => ({
    gte: `r/${q}/${pp(p)}/${n13(from)}`,
    lt: `r/${q}/${pp(p)}/${n13(end)}`,
  }),
  /** Every key of a queue, partition records included, for DeleteQueue. */
  queueRanges: (q: QueueName): Range[] =>
    ['s', 'm', 'l', 'd', 'e', 'r', 'u', 't', 'o', 'k', 'h'].map((kind) => prefixRange(`${kind}/${q}/`)),
  /** The stored state of one partition replica (everything its log's entries write). */
  stateRanges: (q: QueueName, p: number): Range[] => ['s', 'm', 'l', 'd', 'u', 't', 'o', 'k', 'h'].map((kind) => prefixRange(`${kind}/${q}/${pp(p)}`)),
  /** Every key of one partition replica: its state and its log. */
  partitionRanges: (q: QueueName, p: number): Range[] =>
    ['s', 'm', 'l', 'd', 'e', 'r', 'u', 't', 'o', 'k', 'h'].map((kind) => prefixRange(`${kind}/${q}/${pp(p)}`)),

  queueOf(key: string): QueueName {
    return key.slice(2) as QueueName;
  },
  /** The offset at the end of a message or delivery key. */
  offsetOf(key: string): number {
    return parseInt(key.slice(key.lastIndexOf('/') + 1), 16);
  },
  /** The group of a committed-offset key. */
  groupOf(key: string): string {
    return key.slice(key.lastIndexOf('/') + 1);
  },
  /** Due time and sequence of a delayed key. */
  delayedOf(key: string): { due: number; seq: number } {
    const parts = key.split('/');
    return { due: parseInt(parts[3] ?? '', 16), seq: parseInt(parts[4] ?? '', 16) };
  },
} as const;
