/**
 * Receipt handles (src/protocol/receipt.ts): `r1.<incarnation>.<partition>.<offset>.<seq>`, base 36.
 */
import test from 'ava';
import fc from 'fast-check';
import { ErrorCode, WharfError } from '../../src/errors.ts';
import { decodeReceipt, encodeReceipt, type Receipt } from '../../src/protocol/receipt.ts';

const MAX = 2 ** 52 - 1;

test('the format is r1 and four base-36 fields', (t) => {
  const r: Receipt = { incarnation: 1_700_000_000_000, partition: 35, offset: 36, seq: 0 };
  t.is(encodeReceipt(r), `r1.${(1_700_000_000_000).toString(36)}.z.10.0`);
  t.deepEqual(decodeReceipt(encodeReceipt(r)), r);
});

test('round trip for every field value up to 2^52', (t) => {
  const field = fc.oneof(fc.integer({ min: 0, max: MAX }), fc.constantFrom(0, 1, 35, 36, MAX, 2 ** 32));
  fc.assert(
    fc.property(field, fc.integer({ min: 0, max: 63 }), field, field, (incarnation, partition, offset, seq) => {
      const r = { incarnation, partition, offset, seq };
      const handle = encodeReceipt(r);
      return /^r1(\.[0-9a-z]{1,11}){4}$/.test(handle) && JSON.stringify(decodeReceipt(handle)) === JSON.stringify(r);
    }),
  );
  t.pass();
});

test('different deliveries have different handles', (t) => {
  const base: Receipt = { incarnation: 1, partition: 2, offset: 3, seq: 4 };
  const handles = new Set([
    encodeReceipt(base),
    encodeReceipt({ ...base, incarnation: 2 }),
    encodeReceipt({ ...base, partition: 3 }),
    encodeReceipt({ ...base, offset: 4 }),
    encodeReceipt({ ...base, seq: 5 }),
  ]);
  t.is(handles.size, 5);
});

test('malformed handles are invalid_receipt_handle', (t) => {
  const bad = [
    '',
    'r1',
    'r1.1.2.3',
    'r1.1.2.3.4.5',
    'r2.1.2.3.4',
    'R1.1.2.3.4',
    'r1.1.2.3.',
    'r1..2.3.4',
    'r1.1.2.3.-4',
    'r1.1.2.3.4 ',
    'r1.A.2.3.4',
    'r1.1.2.3.zzzzzzzzzzzz', // 12 digits
    'r1.1.2.3.4\n',
    'r1.1_2.3.4.5',
  ];
  for (const handle of bad) {
    const err = t.throws(() => decodeReceipt(handle), { instanceOf: WharfError }, JSON.stringify(handle));
    t.is(err?.code, ErrorCode.InvalidReceiptHandle, JSON.stringify(handle));
  }
});

test('decodeReceipt never throws anything but invalid_receipt_handle', (t) => {
  fc.assert(
    fc.property(fc.string({ maxLength: 80 }), (s) => {
      try {
        const r = decodeReceipt(s);
        return [r.incarnation, r.partition, r.offset, r.seq].every((n) => Number.isInteger(n) && n >= 0);
      } catch (err) {
        return err instanceof WharfError && err.code === ErrorCode.InvalidReceiptHandle;
      }
    }),
  );
  t.pass();
});
