import test from 'ava';
import fc from 'fast-check';
import { unpackOps } from '../../src/storage/packed-batch.mjs';
import { BufferPool, packOps } from '../../src/storage/write-thread.ts';
import type { WriteOp } from '../../src/storage/store.ts';

const op: fc.Arbitrary<WriteOp> = fc.oneof(
  fc.record({ type: fc.constant('put' as const), key: fc.string({ unit: 'grapheme', maxLength: 40 }), value: fc.uint8Array({ maxLength: 300 }) }),
  fc.record({ type: fc.constant('del' as const), key: fc.string({ unit: 'grapheme', maxLength: 40 }) }),
);

test('a packed batch unpacks to the same operations in the same order', (t) => {
  fc.assert(
    fc.property(fc.array(op, { maxLength: 50 }), (ops) => {
      const out: WriteOp[] = [];
      const text = new TextDecoder();
      unpackOps(
        packOps(ops),
        (key, value) => out.push({ type: 'put', key: text.decode(key), value: new Uint8Array(value) }),
        (key) => out.push({ type: 'del', key: text.decode(key) }),
      );
      t.deepEqual(out, ops.map((o) => (o.type === 'put' ? { ...o, value: new Uint8Array(o.value) } : o)));
    }),
  );
});

test('a packed batch owns its buffer, so it can be transferred', (t) => {
  const packed = packOps([{ type: 'put', key: 'k', value: new Uint8Array([1, 2, 3]) }]);
  t.is(packed.byteOffset, 0);
  t.is(packed.buffer.byteLength, packed.byteLength);
});

test('an unknown operation type is refused, not skipped', (t) => {
  const packed = packOps([{ type: 'del', key: 'k' }]);
  packed[0] = 7;
  t.throws(() => unpackOps(packed, () => undefined, () => undefined), { message: /bad operation type 7/ });
});

test('packing buffers are reused by size class, and only pooled sizes are kept', (t) => {
  const pool = new BufferPool();
  const first = pool.take(70_000);
  t.is(first.byteLength, 128 * 1024);
  pool.give(first);
  t.is(pool.take(100_000), first, 'the returned buffer serves the next batch of its size class');
  t.not(pool.take(100_000), first, 'a buffer is handed out once');
  pool.give(new ArrayBuffer(1000));
  t.is(pool.take(10).byteLength, 64 * 1024, 'small batches use the smallest class; odd sizes are not kept');
});
