/**
 * Frames between broker nodes (never from clients): log fetches of followers, partition requests
 * forwarded by front-ends to the node of a partition's primary, readiness notices and metadata
 * changes. MessagePack,
 * replies in the same envelope as the client API (codec.ts). Each request is checked here, so a
 * malformed frame from anywhere is answered with an error instead of reaching an actor.
 */
import * as v from 'valibot';
import type { FetchRequest } from '../../actors/replica/followers.ts';
import { MAX_EPOCH, type SnapshotRequest } from '../../actors/replica/replica.machine.ts';
import type { PartitionOp } from '../../actors/partition/partition.events.ts';
import type { PartitionPeek } from '../effects/peek-store.ts';
import { PEEK_STATES } from './messages.ts';
import { ErrorCode, WharfError } from '../errors.ts';
import { decode, encode } from './codec.ts';
import { KV_KEY, METADATA_BUCKETS, type MetadataBucket } from '../meta/records.ts';

const nat = v.pipe(v.number(), v.integer(), v.minValue(0));
const epoch = v.pipe(nat, v.maxValue(MAX_EPOCH));
const name = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{1,80}$/));
const bytes = v.instance(Uint8Array);

const fetchSchema = v.strictObject({
  queue: name,
  partition: nat,
  follower: v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{1,64}$/)),
  epoch,
  from: nat,
  lastEpoch: epoch,
  token: v.number(),
  learner: v.boolean(),
});

export type FetchFrame = FetchRequest & { queue: string; partition: number };

/** A page of a snapshot copy (replica.machine.ts SnapshotRequest): on the same subject as fetches. */
const snapshotSchema = v.strictObject({
  queue: name,
  partition: nat,
  follower: v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{1,64}$/)),
  epoch,
  copy: v.pipe(v.string(), v.maxLength(64)),
  page: nat,
});

export type SnapshotFrame = SnapshotRequest & { queue: string; partition: number };

/**
 * A new primary asks the primary of the epoch before whether it served `released` and has stopped
 * for good (src/replication/releases.ts); on the same subject as fetches. Answered `{ released }`.
 */
/** Which partition of which queue incarnation a question between replicas is about. */
const aboutPartition = { queue: name, partition: nat, incarnation: nat };

const releaseSchema = v.strictObject({ ...aboutPartition, released: epoch });

export type ReleaseFrame = { queue: string; partition: number; incarnation: number; released: number };

/**
 * A new primary of epoch `silentBelow` asks a voter how long ago it last heard from a primary of an
 * earlier epoch (src/replication/releases.ts, "Silence"); on the same subject as fetches. Answered
 * `{ silentMs, epoch }` (the epoch it last heard from) once the voter persisted that epoch, `{}` before.
 */
const silenceSchema = v.strictObject({ ...aboutPartition, silentBelow: epoch });

export type SilenceFrame = { queue: string; partition: number; incarnation: number; silentBelow: number };

const record = v.object({
  id: v.string(),
  body: bytes,
  sentAt: v.number(),
  group: v.optional(v.string()),
  attributes: v.optional(v.record(v.string(), v.object({ type: v.picklist(['string', 'number', 'binary']), value: v.union([v.string(), bytes]) }))),
  expiresAt: v.optional(v.number()),
  // A dead-lettered message's history: checked field by field when it is stored (storage/records.ts).
  deadLetter: v.optional(v.looseObject({ sourceQueue: v.string(), reason: v.string(), attempts: v.array(v.unknown()) })),
});
const handle = v.strictObject({ offset: nat, seq: nat });
const opSchema = v.variant('type', [
  v.strictObject({ type: v.literal('send'), messages: v.array(v.strictObject({ record, delayMs: nat, dedupId: v.optional(v.string()), notBefore: v.optional(nat) })),
    limit: v.optional(v.strictObject({ maxLength: nat, overflow: v.picklist(['reject', 'drop-oldest', 'dead-letter']) })),
    maxStoredBytes: v.optional(nat),
  }),
  v.strictObject({
    type: v.literal('receive'),
    max: nat,
    maxBytes: nat,
    visibilityMs: nat,
    attemptId: v.optional(v.string()),
    consumer: v.optional(v.string()),
    maxReceives: v.optional(nat),
    heartbeat: v.optional(v.boolean()),
    principal: v.optional(v.string()),
  }),
  v.strictObject({ type: v.literal('deadLettered'), offsets: v.array(nat) }),
  v.strictObject({ type: v.literal('delete'), items: v.array(handle) }),
  v.strictObject({ type: v.literal('changeVisibility'), items: v.array(v.strictObject({ offset: nat, seq: nat, visibilityMs: nat })) }),
  v.strictObject({ type: v.literal('purge') }),
  v.strictObject({ type: v.literal('commitOffset'), group: name, offset: nat, generation: nat, metadata: v.optional(v.string()) }),
  v.strictObject({ type: v.literal('read'), from: nat, max: nat, maxBytes: nat }),
  v.strictObject({ type: v.literal('findOffset'), timestamp: nat }),
  v.strictObject({ type: v.literal('offsets'), group: v.optional(name) }),
  v.strictObject({ type: v.literal('groups') }),
]);

const partitionSchema = v.strictObject({
  queue: name,
  partition: nat,
  /** `counts` asks for the partition's message counts instead of running an op. */
  op: v.union([opSchema, v.strictObject({ type: v.literal('counts') })]),
});

export type PartitionFrame = { queue: string; partition: number; op: PartitionOp | { type: 'counts' } };

function parse<T>(schema: v.GenericSchema, frame: Uint8Array, what: string): T {
  const result = v.safeParse(schema, decode(frame));
  if (!result.success) {
    const issue = result.issues[0];
    const path = issue.path?.map((p) => String(p.key)).join('.') ?? '';
    throw new WharfError(ErrorCode.InvalidRequest, `${what}: ${path ? `${path}: ` : ''}${issue.message}`);
  }
  return result.output as T;
}

/**
 * A request between replicas: a log fetch, a page of a snapshot (it has `page`), a lease release
 * (`released`) or a question about silence (`silentBelow`).
 */
export const decodeReplicaRequest = (frame: Uint8Array) =>
  parse<
    | { kind: 'fetch'; frame: FetchFrame }
    | { kind: 'snapshot'; frame: SnapshotFrame }
    | { kind: 'release'; frame: ReleaseFrame }
    | { kind: 'silence'; frame: SilenceFrame }
  >(
    v.union([
      v.pipe(fetchSchema, v.transform((frame) => ({ kind: 'fetch' as const, frame }))),
      v.pipe(snapshotSchema, v.transform((frame) => ({ kind: 'snapshot' as const, frame }))),
      v.pipe(releaseSchema, v.transform((frame) => ({ kind: 'release' as const, frame }))),
      v.pipe(silenceSchema, v.transform((frame) => ({ kind: 'silence' as const, frame }))),
    ]),
    frame,
    'replica request',
  );
export const decodePartitionFrame = (frame: Uint8Array) => parse<PartitionFrame>(partitionSchema, frame, 'partition request');

/** A PeekMessages page of one partition, forwarded to its primary's node (src/node/peek-service.ts). */
const peekSchema = v.strictObject({
  queue: name,
  partition: nat,
  from: v.variant('phase', [
    v.strictObject({ phase: v.literal('m'), offset: nat }),
    v.strictObject({ phase: v.literal('d'), due: nat, seq: nat }),
  ]),
  states: v.array(v.picklist(PEEK_STATES)),
  limit: nat,
  budget: nat,
  maxBytes: nat,
  body: v.boolean(),
  messageId: v.optional(v.string()),
  attribute: v.optional(v.strictObject({ name: v.string(), value: v.optional(v.string()) })),
  retentionMs: nat,
  stream: v.optional(v.boolean()),
});

export const decodePeekFrame = (frame: Uint8Array) => parse<PartitionPeek>(peekSchema, frame, 'peek request');

/**
 * A metadata write, announced by the node that made it (src/meta/metadata.ts): the bucket, the key,
 * the revision the KV stream's leader gave it, and the record as written (absent: a delete). The
 * record is checked against its bucket's schema by the receiver, as a watched one is.
 */
const metaChangeSchema = v.strictObject({
  bucket: v.picklist(METADATA_BUCKETS),
  key: v.pipe(v.string(), v.maxLength(512), v.regex(KV_KEY)),
  revision: v.pipe(nat, v.minValue(1)),
  value: v.optional(bytes),
});

export interface MetaChangeFrame {
  bucket: MetadataBucket;
  key: string;
  revision: number;
  value?: Uint8Array;
}

export const encodeMetaChange = (change: MetaChangeFrame): Uint8Array => encode(change);
export const decodeMetaChange = (frame: Uint8Array) => parse<MetaChangeFrame>(metaChangeSchema, frame, 'metadata change');
