/**
 * Frames on the wire: MessagePack (@msgpack/msgpack), so bodies stay bytes without base64. Every request is
 * checked here against its action's schema (valibot, strict objects: unknown fields are errors);
 * code behind the codec trusts the types.
 */
import { Decoder, Encoder } from '@msgpack/msgpack';
import * as v from 'valibot';
import { ErrorCode, WharfError, type WireError } from '../errors.ts';
import { LIMITS, MESSAGE_GROUP_ID } from './limits.ts';
import { PEEK_STATES, PERMISSIONS, PROTOCOL_VERSION, type Action, type Envelope, type LeaseHeartbeat, type Request } from './messages.ts';

// No extension types are registered, so decoding builds nothing but maps, arrays, strings, numbers,
// booleans, nil and byte arrays (a `__proto__` key is refused by the decoder).
const encoder = new Encoder({ ignoreUndefined: true });
const decoder = new Decoder();

export function encode(value: unknown): Uint8Array {
  return encoder.encode(value);
}

/** Decodes a frame; any malformed input becomes `invalid_request`. */
export function decode(bytes: Uint8Array): unknown {
  if (bytes.length === 0) throw new WharfError(ErrorCode.InvalidRequest, 'empty frame');
  try {
    return decoder.decode(bytes);
  } catch (err) {
    throw new WharfError(ErrorCode.InvalidRequest, 'frame is not valid MessagePack', { cause: err });
  }
}

/** A MessagePack map: valibot's record alone would also take an array. */
const isMap = (x: unknown) => typeof x === 'object' && x !== null && !Array.isArray(x) && !(x instanceof Uint8Array);
// valibot's record skips these keys silently; a name that would be dropped is refused instead.
const RESERVED_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const aMap = v.custom<Record<string, unknown>>(
  (x) => isMap(x) && !Object.keys(x as object).some((k) => RESERVED_KEYS.has(k)),
  'expected a map without the keys __proto__, constructor or prototype',
);
const int = (min: number, max: number) => v.pipe(v.number(), v.integer(), v.minValue(min), v.maxValue(max));
const id = v.pipe(v.string(), v.minLength(1), v.maxLength(LIMITS.maxIdLength), v.regex(/^[A-Za-z0-9_-]+$/));
const queue = v.pipe(v.string(), v.maxLength(200));
const bytes = v.instance(Uint8Array);
// Shapes only: SQS's rules on names, values and their number are message-attributes.ts's, which
// answers invalid_message_attribute (per entry in a batch). The bounds here only keep a frame sane.
const attributeValue = v.variant('type', [
  v.strictObject({ type: v.literal('string'), value: v.pipe(v.string(), v.maxLength(LIMITS.maxBatchBytes)) }),
  v.strictObject({ type: v.literal('number'), value: v.pipe(v.string(), v.maxLength(1024)) }),
  v.strictObject({ type: v.literal('binary'), value: bytes }),
]);
const messageAttributes = v.pipe(
  aMap,
  v.record(v.pipe(v.string(), v.maxLength(1024)), attributeValue),
  v.check((r) => Object.keys(r).length <= 1000, 'too many message attributes'),
);
// Tag keys and values are checked by tags.ts (invalid_tag, too_many_tags); here only their shape.
const tagMap = v.pipe(
  aMap,
  v.record(v.pipe(v.string(), v.maxLength(1024)), v.pipe(v.string(), v.maxLength(1024))),
  v.check((r) => Object.keys(r).length <= 1000, 'too many tags'),
);
const tagKeys = v.pipe(v.array(v.pipe(v.string(), v.maxLength(1024))), v.maxLength(1000));
const outgoing = {
  body: bytes,
  attributes: v.optional(messageAttributes),
  delaySeconds: v.optional(int(0, LIMITS.maxDelaySeconds)),
  producedAt: v.optional(int(0, 8.64e15)),
  deduplicationId: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(128), v.regex(/^[A-Za-z0-9_-]+$/))),
  ttlSeconds: v.optional(int(1, LIMITS.maxTtlSeconds)),
  messageGroupId: v.optional(v.pipe(v.string(), v.regex(MESSAGE_GROUP_ID, 'a message group id is 1-128 letters, digits and ASCII punctuation'))),
};
// Attribute names and values are checked by attributes.ts (invalid_attribute), which knows each one.
const attributes = v.pipe(
  aMap,
  v.record(v.pipe(v.string(), v.maxLength(64)), v.unknown()),
  v.check((r) => Object.keys(r).length <= 32, 'too many attributes'),
);
/** A consumer's name: printable ASCII, so host names, ports and pids fit. */
const consumerName = v.pipe(v.string(), v.regex(/^[\x21-\x7e]{1,128}$/, 'a consumer name is 1-128 printable ASCII characters'));
const receipt = v.pipe(v.string(), v.minLength(1), v.maxLength(256));
const entries = <T extends v.ObjectEntries>(shape: T) =>
  v.pipe(v.array(v.strictObject({ id, ...shape })), v.maxLength(LIMITS.maxBatchEntries));

const partition = int(0, 63);
const offset = int(0, Number.MAX_SAFE_INTEGER);
/** Group and member names follow the queue-name rule: they are key segments. */
const groupName = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{1,80}$/, 'expected 1-80 characters of A-Z a-z 0-9 - _'));
const memberId = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{1,80}$/, 'expected 1-80 characters of A-Z a-z 0-9 - _'));
const generation = int(0, Number.MAX_SAFE_INTEGER);

const streamSchemas = {
  ReadStream: v.strictObject({
    queue,
    partition,
    offset,
    maxMessages: v.optional(int(1, LIMITS.maxReceiveMessages)),
    maxBytes: v.optional(int(1, LIMITS.maxReceiveBytes)),
    waitTimeSeconds: v.optional(int(0, LIMITS.maxWaitTimeSeconds)),
  }),
  FindOffset: v.strictObject({ queue, partition, timestamp: int(0, Number.MAX_SAFE_INTEGER) }),
  GetOffsets: v.strictObject({ queue, group: v.optional(groupName) }),
  CommitOffsets: v.strictObject({
    queue,
    group: groupName,
    memberId: v.optional(memberId),
    generation: v.optional(generation),
    offsets: v.pipe(
      v.array(v.strictObject({ partition, offset, metadata: v.optional(v.pipe(v.string(), v.maxLength(LIMITS.maxOffsetMetadata))) })),
      v.minLength(1),
      v.maxLength(64),
      v.check((o) => new Set(o.map((e) => e.partition)).size === o.length, 'each partition at most once'),
    ),
  }),
  JoinGroup: v.strictObject({
    queue,
    group: groupName,
    memberId: v.optional(memberId),
    sessionTimeoutMs: v.optional(int(LIMITS.minSessionTimeoutMs, LIMITS.maxSessionTimeoutMs)),
  }),
  GroupHeartbeat: v.strictObject({ queue, group: groupName, memberId, generation }),
  LeaveGroup: v.strictObject({ queue, group: groupName, memberId }),
  DescribeGroup: v.strictObject({ queue, group: groupName }),
  ListGroups: v.strictObject({ queue }),
};

const principal = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{1,64}$/, 'a principal name is 1-64 of A-Z, a-z, 0-9, _ and -'));
/** A grant's queue pattern: a queue name, optionally ending in `*` (a prefix); `*` alone is every queue. */
const queuePattern = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{0,80}\*?$/), v.minLength(1));
export const principalPolicy = v.strictObject({
  name: principal,
  tenant: v.optional(v.pipe(v.string(), v.regex(/^[A-Za-z0-9-]{1,32}$/, 'a tenant name is 1-32 of A-Z, a-z, 0-9 and -'))),
  admin: v.optional(v.boolean()),
  grants: v.pipe(
    v.array(v.strictObject({ queues: queuePattern, permissions: v.pipe(v.array(v.picklist(PERMISSIONS)), v.minLength(1), v.maxLength(PERMISSIONS.length)) })),
    v.maxLength(LIMITS.maxGrants),
  ),
});

const principalSchemas = {
  PutPrincipal: v.strictObject({ policy: principalPolicy }),
  DeletePrincipal: v.strictObject({ name: principal }),
  ListPrincipals: v.strictObject({}),
  WhoAmI: v.strictObject({}),
};

const schemas = {
  CreateQueue: v.strictObject({ queue, attributes: v.optional(attributes), tags: v.optional(tagMap) }),
  ListQueues: v.strictObject({
    prefix: v.optional(v.pipe(v.string(), v.maxLength(80))),
    limit: v.optional(int(1, LIMITS.maxListQueues)),
    nextToken: v.optional(v.pipe(v.string(), v.maxLength(200))),
  }),
  GetQueueAttributes: v.strictObject({ queue }),
  SetQueueAttributes: v.strictObject({ queue, attributes }),
  DeleteQueue: v.strictObject({ queue }),
  PurgeQueue: v.strictObject({ queue }),
  TagQueue: v.strictObject({ queue, tags: tagMap }),
  UntagQueue: v.strictObject({ queue, tagKeys }),
  ListQueueTags: v.strictObject({ queue }),
  SendMessage: v.strictObject({ queue, ...outgoing }),
  SendMessageBatch: v.strictObject({ queue, entries: entries(outgoing) }),
  ReceiveMessage: v.strictObject({
    queue,
    maxMessages: v.optional(int(1, LIMITS.maxReceiveMessages)),
    waitTimeSeconds: v.optional(int(0, LIMITS.maxWaitTimeSeconds)),
    visibilityTimeout: v.optional(int(0, LIMITS.maxVisibilityTimeout)),
    receiveRequestAttemptId: v.optional(id),
    consumer: v.optional(consumerName),
    heartbeat: v.optional(v.boolean()),
  }),
  DeleteMessage: v.strictObject({ queue, receiptHandle: receipt }),
  DeleteMessageBatch: v.strictObject({ queue, entries: entries({ receiptHandle: receipt }) }),
  ChangeMessageVisibility: v.strictObject({
    queue,
    receiptHandle: receipt,
    visibilityTimeout: int(0, LIMITS.maxVisibilityTimeout),
  }),
  ChangeMessageVisibilityBatch: v.strictObject({
    queue,
    entries: entries({ receiptHandle: receipt, visibilityTimeout: int(0, LIMITS.maxVisibilityTimeout) }),
  }),
  StartMessageMoveTask: v.strictObject({
    sourceQueue: queue,
    destinationQueue: v.optional(queue),
    maxMessagesPerSecond: v.optional(int(1, LIMITS.maxMovesPerSecond)),
  }),
  CancelMessageMoveTask: v.strictObject({ taskId: id }),
  ListMessageMoveTasks: v.strictObject({ sourceQueue: v.optional(queue) }),
  PeekMessages: v.strictObject({
    queue,
    states: v.optional(v.pipe(v.array(v.picklist(PEEK_STATES)), v.minLength(1), v.maxLength(3))),
    partition: v.optional(int(0, 63)),
    cursor: v.optional(v.pipe(v.string(), v.maxLength(200))),
    limit: v.optional(int(1, LIMITS.maxPeekMessages)),
    messageId: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(128))),
    attribute: v.optional(v.strictObject({ name: v.pipe(v.string(), v.minLength(1), v.maxLength(256)), value: v.optional(v.pipe(v.string(), v.maxLength(1024))) })),
    body: v.optional(v.boolean()),
    offset: v.optional(offset),
  }),
  ...streamSchemas,
  ...principalSchemas,
} satisfies Record<Action, v.GenericSchema>;

export function isAction(name: string | undefined): name is Action {
  return name !== undefined && Object.hasOwn(schemas, name);
}

/** Decodes and checks one request frame of `action`. */
export function decodeRequest<A extends Action>(action: A, frame: Uint8Array): Request<A> {
  const value = decode(frame);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new WharfError(ErrorCode.InvalidRequest, 'request must be a map');
  }
  const { v: version, ...fields } = value as Record<string, unknown>;
  if (version !== PROTOCOL_VERSION) {
    const given = typeof version === 'number' ? String(version) : typeof version;
    throw new WharfError(ErrorCode.UnsupportedVersion, `protocol version ${given} is not served; use ${PROTOCOL_VERSION}`);
  }
  return checkRequest(action, fields);
}

/**
 * Checks a request of `action` built in process (the SQS endpoint's): the same schema as a frame's,
 * so a request reaches the front-end checked whichever way it came.
 */
export function checkRequest<A extends Action>(action: A, fields: unknown): Request<A> {
  const result = v.safeParse(schemas[action], fields);
  if (!result.success) {
    const issue = result.issues[0];
    const path = issue.path?.map((p) => String(p.key)).join('.') ?? '';
    throw new WharfError(ErrorCode.InvalidParameter, `${action}: ${path ? `${path}: ` : ''}${issue.message}`);
  }
  return result.output as Request<A>;
}

export function encodeRequest<A extends Action>(request: Request<A>): Uint8Array {
  return encode({ v: PROTOCOL_VERSION, ...request });
}

export function encodeOk<T>(body: T): Uint8Array {
  return encode({ v: PROTOCOL_VERSION, ok: true, body } satisfies Envelope<T>);
}

export function encodeError(error: WireError): Uint8Array {
  return encode({ v: PROTOCOL_VERSION, ok: false, error } satisfies Envelope<never>);
}

/** Decodes a reply frame: the body, or the WharfError it carries. */
export function decodeReply<T>(frame: Uint8Array): T {
  const value = decode(frame) as Partial<Envelope<T>> | null;
  if (typeof value !== 'object' || value === null || typeof value.ok !== 'boolean') {
    throw new WharfError(ErrorCode.InvalidRequest, 'reply is not an envelope');
  }
  if (value.ok) return (value as { body: T }).body;
  throw WharfError.fromWire((value as { error: unknown }).error);
}

const leaseHeartbeatSchema = v.strictObject({ v: v.literal(PROTOCOL_VERSION), consumer: consumerName, goodbye: v.optional(v.boolean()) });

/** A lease heartbeat frame; undefined when it is not one (a publish has nobody to answer). */
export function decodeLeaseHeartbeat(frame: Uint8Array): LeaseHeartbeat | undefined {
  try {
    const result = v.safeParse(leaseHeartbeatSchema, decode(frame));
    return result.success ? (result.output as LeaseHeartbeat) : undefined;
  } catch {
    return undefined;
  }
}
