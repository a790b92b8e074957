/**
 * The stored form of delivery groups (src/storage/records.ts): what is encoded decodes to the same
 * records (consumer names included), groups and single records of stores written before read as
 * they were written, and a corrupt value is reported.
 */
import test from 'ava';
import fc from 'fast-check';
import { encode } from '../../src/protocol/codec.ts';
import { decodeDeliveryGroup, decodeMessage, encodeDeliveryGroup, encodeMessage } from '../../src/storage/records.ts';
import type { DeliveryGroup, DeliveryRecord } from '../../actors/partition/records.ts';

const time = fc.integer({ min: 1_600_000_000_000, max: 1_900_000_000_000 });
const record: fc.Arbitrary<DeliveryRecord> = fc.record(
  {
    count: fc.integer({ min: 1, max: 1000 }),
    deadline: time,
    seq: fc.integer({ min: 1, max: 2 ** 50 }),
    first: time,
    size: fc.integer({ min: 0, max: 1 << 20 }),
    sentAt: time,
    // A few names, so that records of one group share them.
    consumer: fc.oneof(fc.constantFrom('worker-1', 'host:4242:ab12cd34'), fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 128 })),
    // FIFO message groups share the names table with consumers (a group may equal a consumer's name).
    group: fc.oneof(fc.constantFrom('g1', 'worker-1'), fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 128 })),
    // When the delivery was made: never after its lease's deadline.
    at: time,
  },
  { requiredKeys: ['count', 'deadline', 'seq', 'first', 'size', 'sentAt'] },
).map((r) => (r.at !== undefined && r.at > r.deadline ? { ...r, at: r.deadline } : r));

test('a delivery group decodes to the records it was encoded from, in order', (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 2 ** 50 }), fc.array(fc.tuple(fc.integer({ min: 0, max: 2 ** 50 }), record), { maxLength: 50 }), (id, entries) => {
      const group: DeliveryGroup = { id, entries };
      t.deepEqual(decodeDeliveryGroup(encodeDeliveryGroup(group), id), group);
    }),
  );
});

test('500 records of one receive take about a dozen bytes each', (t) => {
  const now = 1_800_000_000_000;
  const entries = Array.from({ length: 500 }, (_, i): [number, DeliveryRecord] => [
    1000 + i,
    { count: 1, deadline: now + 30_000, seq: 2 ** 32 + 7 + i, first: now, at: now, size: 1024, sentAt: now - 5000 + i, consumer: 'host-17:31337:9f2c4e1a' },
  ]);
  const bytes = encodeDeliveryGroup({ id: 2 ** 32, entries }).byteLength;
  t.true(bytes < 500 * 12, `${bytes} bytes`);
});

test('a delivery group written before consumer names reads with none', (t) => {
  // 0x01, base 1000, then one record: offset 5, seq 9, sentAt −10, deadline +30, first +0, count 1, size 64 (zigzag).
  const bytes = new Uint8Array([0x01, 0xd0, 0x0f, 10, 18, 19, 60, 0, 2, 128, 1]);
  t.deepEqual(decodeDeliveryGroup(bytes, 3), {
    id: 3,
    entries: [[5, { count: 1, deadline: 1030, seq: 9, first: 1000, size: 64, sentAt: 990 }]],
  });
});

test('a single delivery record of a store written before groups reads as a group of one under its offset', (t) => {
  const bytes = encode([2, 1_800_000_030_000, 77, 1_800_000_000_000, 1024, 1_799_999_990_000]);
  t.deepEqual(decodeDeliveryGroup(bytes, 42), {
    id: 42,
    entries: [[42, { count: 2, deadline: 1_800_000_030_000, seq: 77, first: 1_800_000_000_000, size: 1024, sentAt: 1_799_999_990_000 }]],
  });
});

test('a value that is no delivery group is reported as corrupt', (t) => {
  for (const value of [[1, 5, 1, 2, 3], ['x'], { a: 1 }, [3, 0, 0, 0, 0, 0, 0, 0, 0]]) {
    t.throws(() => decodeDeliveryGroup(encode(value), 1), { message: /corrupt delivery/ });
  }
  // A group cut short: a record missing its last fields, a varint missing its last byte.
  for (const bytes of [[1, 2, 2, 2, 2, 2, 2], [1, 0x80], [2, 2, 2, 2, 2, 2, 2, 2, 2, 2], [2, 0, 2, 200, 65]]) {
    t.throws(() => decodeDeliveryGroup(new Uint8Array(bytes), 1), { message: /corrupt delivery/ });
  }
});

test('a message record keeps its FIFO group, with or without attributes; a record without one reads as before', (t) => {
  const body = new Uint8Array([1, 2, 3]);
  const plain = { id: 'm1', sentAt: 1_700_000_000_000, body };
  const grouped = { ...plain, group: 'customer-42' };
  const both = { ...grouped, attributes: { kind: { type: 'string' as const, value: 'x' } } };
  for (const r of [plain, grouped, both]) t.deepEqual(decodeMessage(encodeMessage(r)), r);
  t.deepEqual(decodeMessage(encode([plain.id, plain.sentAt, body])), plain, 'the layout of records written before groups');
});
