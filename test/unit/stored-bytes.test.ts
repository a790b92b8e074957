/**
 * A partition's stored bytes (the queue's maxStoredBytes): counted as messages arrive, are delayed,
 * released, deleted, expired and purged, kept across a restart, and a send past the limit refused
 * per message without storing it.
 */
import test from 'ava';
import { recordSize } from '../../actors/partition/records.ts';
import { ledgerOnDisk, message } from './partition-fakes.ts';

const T0 = 1_700_000_000_000;
const FOREVER = 1e13;
const harness = () => ledgerOnDisk(T0);

const bytesOf = (h: ReturnType<typeof harness>) => h.ledger.storedBytes;

test('stored bytes follow sends, delays, deletes and purges, and survive a restart', (t) => {
  const h = harness();
  const [a, b, c] = [message(T0, 100), message(T0, 200), message(T0, 300)];
  h.ledger.append([{ record: a, delayMs: 0 }, { record: b, delayMs: 0 }, { record: c, delayMs: 5_000 }], T0);
  h.commit();
  const all = recordSize(a) + recordSize(b) + recordSize(c);
  t.is(bytesOf(h), all, 'ready and delayed messages count');

  h.ledger.tick(T0 + 5_000, FOREVER);
  h.commit();
  t.is(bytesOf(h), all, 'a released delay is the same message');

  const [first] = h.ledger.receive(1, Infinity, 30_000, T0 + 5_000, FOREVER);
  t.is(h.ledger.remove(first?.offset ?? -1, first?.delivery.seq ?? -1), 'ok');
  h.commit();
  t.is(bytesOf(h), all - recordSize(a), 'a delete frees its bytes');

  h.restart(T0 + 6_000);
  t.is(bytesOf(h), all - recordSize(a), 'kept in the partition state');

  h.ledger.purge();
  h.commit();
  t.is(bytesOf(h), 0);
});

test('a send past maxStoredBytes is refused per message and stores nothing of the refused ones; repeats take no room', (t) => {
  const h = harness();
  const held = message(T0, 1000);
  h.ledger.append([{ record: held, delayMs: 0, dedupId: 'held' }], T0);
  h.commit();
  const [small, large, last] = [message(T0, 50), message(T0, 500), message(T0, 40)];
  const maxStoredBytes = recordSize(held) + recordSize(small) + recordSize(last) + 10;
  const out = h.ledger.appendLimited(
    [
      { record: small, delayMs: 0 },
      { record: large, delayMs: 0 },
      { record: message(T0, 1000), delayMs: 0, dedupId: 'held' },
      { record: last, delayMs: 0 },
    ],
    T0,
    { maxStoredBytes },
  );
  h.commit();
  t.deepEqual(out, { ids: [small.id, '', held.id, last.id], rejected: [], overStoredBytes: [1] });
  t.deepEqual([...h.disk.messages.values()].map((m) => m.id).sort(), [held.id, small.id, last.id].sort());
  t.true(bytesOf(h) <= maxStoredBytes);

  const again = h.ledger.appendLimited([{ record: message(T0, 100), delayMs: 0 }], T0, { maxStoredBytes });
  t.deepEqual(again.overStoredBytes, [0], 'full');
  const [d] = h.ledger.receive(1, Infinity, 30_000, T0, FOREVER);
  h.ledger.remove(d?.offset ?? -1, d?.delivery.seq ?? -1);
  const room = h.ledger.appendLimited([{ record: message(T0, 100), delayMs: 0 }], T0, { maxStoredBytes });
  t.deepEqual(room.overStoredBytes, [], 'a delete made room');
});

test('a message removed from disk by offset alone takes the mean, and an empty partition holds 0 bytes', (t) => {
  const h = harness();
  h.ledger.append([{ record: message(T0, 100), delayMs: 0 }, { record: message(T0, 300), delayMs: 0 }], T0);
  h.commit();
  const total = bytesOf(h);
  h.restart(T0);
  // Retention from a scan of the head: offset 0 is gone by offset, whatever its size.
  h.ledger.expire([0], T0 + 1);
  t.is(bytesOf(h), Math.round(total / 2));
  h.ledger.expire([1], T0 + 1);
  t.is(bytesOf(h), 0);
});
