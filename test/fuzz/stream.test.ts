/**
 * Stream actions under bad input, with fast-check, against a real node: valid requests of every
 * stream action (ReadStream, FindOffset, GetOffsets, CommitOffsets, JoinGroup, GroupHeartbeat,
 * LeaveGroup, DescribeGroup, ListGroups) with one field replaced by a value of any type, dropped,
 * or joined by an unknown field, and the same against a work queue and a missing one. Every request
 * gets one well-formed envelope; an error carries a code of ErrorCode, never `internal`, and a
 * client-fault code when the request was built invalid. Afterwards the stream still holds its
 * messages and the offsets committed before.
 */
import test from 'ava';
import fc from 'fast-check';
import { connect } from '@nats-io/transport-node';
import { ErrorCode } from '../../src/errors.ts';
import type { ClusterName } from '../../src/names.ts';
import { decode, encode } from '../../src/protocol/codec.ts';
import { PROTOCOL_VERSION, STREAM_ACTIONS, type StreamAction } from '../../src/protocol/messages.ts';
import { subjects } from '../../src/protocol/subjects.ts';
import { startWharf } from '../helpers/wharf.ts';

const STREAM = 'fz-stream';
const QUEUE = 'fz-queue';
const CODES: ReadonlySet<string> = new Set<string>(Object.values(ErrorCode));
/** What a request built invalid may get: its fault, or the (valid) answer of the target's state. */
const CLIENT_FAULT: ReadonlySet<string> = new Set<string>([
  ErrorCode.InvalidRequest,
  ErrorCode.InvalidName,
  ErrorCode.InvalidParameter,
  ErrorCode.QueueNotFound,
  ErrorCode.WrongQueueMode,
  ErrorCode.UnknownMember,
  ErrorCode.StaleGeneration,
  ErrorCode.UnsupportedVersion,
]);

/** A valid request of each stream action on `queue`. */
function valid(action: StreamAction, queue: string): Record<string, unknown> {
  const base = { v: PROTOCOL_VERSION, queue };
  switch (action) {
    case 'ReadStream':
      return { ...base, partition: 0, offset: 0, maxMessages: 10 };
    case 'FindOffset':
      return { ...base, partition: 1, timestamp: 0 };
    case 'GetOffsets':
      return { ...base, group: 'g' };
    case 'CommitOffsets':
      return { ...base, group: 'fz', offsets: [{ partition: 0, offset: 1, metadata: 'm' }] };
    case 'JoinGroup':
      return { ...base, group: 'fz', sessionTimeoutMs: 10_000 };
    case 'GroupHeartbeat':
      return { ...base, group: 'fz', memberId: 'm1', generation: 1 };
    case 'LeaveGroup':
      return { ...base, group: 'fz', memberId: 'm1' };
    case 'DescribeGroup':
      return { ...base, group: 'fz' };
    case 'ListGroups':
      return base;
    default:
      return action satisfies never;
  }
}

type Case = { action: StreamAction; request: Record<string, unknown>; invalid: boolean };

const strange = fc.oneof(
  fc.anything(),
  fc.constantFrom<unknown>(-1, 1.5, NaN, Infinity, 2 ** 53, '', 'a*b', 'x'.repeat(300), null, [], {}, new Uint8Array(3), '__proto__'),
);

const cases: fc.Arbitrary<Case> = fc.constantFrom(...STREAM_ACTIONS).chain((action) => {
  const request = valid(action, STREAM);
  const fields = Object.keys(request).filter((k) => k !== 'v');
  return fc.oneof(
    // One field replaced by a value of any type: mostly invalid, sometimes still valid.
    fc.tuple(fc.constantFrom(...fields), strange).map(([k, value]): Case => ({ action, request: { ...request, [k]: value }, invalid: false })),
    fc.constantFrom(...fields).map((k): Case => {
      const { [k]: _dropped, ...rest } = request;
      return { action, request: rest, invalid: k === 'queue' || !['maxMessages', 'sessionTimeoutMs', 'group', 'metadata'].includes(k) };
    }),
    // (An undefined value is not encoded: the field would not be there.)
    fc.tuple(fc.string({ minLength: 1, maxLength: 20 }), strange).filter(([k, value]) => !(k in request) && value !== undefined).map(([k, value]): Case => ({ action, request: { ...request, [k]: value }, invalid: true })),
    fc.constantFrom(QUEUE, 'no-such-stream').map((queue): Case => ({ action, request: valid(action, queue), invalid: true })),
  );
});

test('every stream action answers bad input with one well-formed, typed reply, and the stream keeps its data', async (t) => {
  t.timeout(180_000);
  const { client, nats, cluster } = await startWharf(t);
  await client.createQueue(STREAM, { mode: 'stream', partitions: 2 });
  await client.createQueue(QUEUE);
  for (const body of ['a', 'b', 'c']) await client.sendMessage(STREAM, body);
  // Sends spread over the partitions, so commit where a message landed: an offset past a
  // partition's end is refused.
  const held = await Promise.all([0, 1].map(async (partition) => (await client.request('ReadStream', { queue: STREAM, partition, offset: 0, maxMessages: 10 })).messages.length));
  const committed = held[0]! > 0 ? 0 : 1;
  await client.request('CommitOffsets', { queue: STREAM, group: 'g', offsets: [{ partition: committed, offset: 1 }] });
  const nc = await connect({ servers: nats.url });
  t.teardown(() => nc.close());
  const api = subjects(cluster as ClusterName);

  await fc.assert(
    fc.asyncProperty(cases, async ({ action, request, invalid }) => {
      const reply = decode((await nc.request(api.api(action), encode(request), { timeout: 10_000 })).data) as Record<string, unknown>;
      if (reply['v'] !== PROTOCOL_VERSION || typeof reply['ok'] !== 'boolean') throw new Error(`not an envelope: ${JSON.stringify(reply)}`);
      if (reply['ok'] === true) {
        if (invalid) throw new Error(`${action}: invalid request accepted`);
        return;
      }
      const error = reply['error'] as { code?: unknown } | undefined;
      const code = String(error?.code);
      if (!CODES.has(code) || code === ErrorCode.Internal) throw new Error(`${action}: error code ${code}`);
      if (invalid && !CLIENT_FAULT.has(code)) throw new Error(`${action}: ${code} for bad input`);
    }),
    { numRuns: 300 },
  );

  const { messages } = await client.request('ReadStream', { queue: STREAM, partition: 0, offset: 0, maxMessages: 10 });
  const other = await client.request('ReadStream', { queue: STREAM, partition: 1, offset: 0, maxMessages: 10 });
  t.is(messages.length + other.messages.length, 3, 'every message is still there');
  const offsets = await client.request('GetOffsets', { queue: STREAM, group: 'g' });
  t.is(offsets.partitions.find((p) => p.partition === committed)?.committed?.offset, 1, 'the committed offset is unchanged');
});
