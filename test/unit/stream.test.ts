/**
 * The stream part of a partition (actors/partition/stream.ts): sentAt stamping, byte accounting,
 * head trimming by age and size, purges, and the generation fence of committed offsets.
 */
import test from 'ava';
import { EMPTY_PARTITION, recordSize, type MessageRecord } from '../../actors/partition/records.ts';
import { Stream, withRetention } from '../../actors/partition/stream.ts';
import { Ledger, type NewMessage } from '../../actors/partition/ledger.ts';

const message = (id: string, size = 10, sentAt = 0): NewMessage => ({ record: { id, body: new Uint8Array(size), sentAt }, delayMs: 0 });
const fresh = (maxGroups = 10) => new Stream({ state: { ...EMPTY_PARTITION } }, maxGroups);

test('sentAt is the primary clock and never decreases along the offsets', (t) => {
  const s = fresh();
  const first = s.stamp([message('a', 10, 5)], 1000);
  s.appended(first, ['a']);
  t.is(first[0]?.record.sentAt, 1000);
  // A clock that went back (another node's, or a step) does not make a later message older.
  const second = s.stamp([message('b')], 900);
  t.is(second[0]?.record.sentAt, 1000);
});

test('bytes count stored messages only: a duplicate answered with another id stores nothing', (t) => {
  const s = fresh();
  const batch = s.stamp([message('a', 10), message('b', 20)], 1);
  s.appended(batch, ['a', 'x']);
  t.is(s.bytes, recordSize(batch[0]?.record as MessageRecord));
  const changes = s.takeChanges();
  t.deepEqual(changes, [{ kind: 'putStream', record: { start: 0, bytes: 10, lastSentAt: 1 } }]);
  t.deepEqual(s.takeChanges(), []);
});

test('age retention trims the head up to the first message inside the period', (t) => {
  const s = fresh();
  s.appended(s.stamp([message('a')], 100), ['a']);
  s.appended(s.stamp([message('b')], 200), ['b']);
  s.appended(s.stamp([message('c')], 300), ['c']);
  const gone = s.trimHead([[0, 100, 10], [1, 200, 10], [2, 300, 10]], 1250, 1000, 0);
  t.deepEqual(gone, [0, 1]);
  t.is(s.start, 2);
  t.is(s.bytes, 10);
});

test('size retention removes the oldest until the partition holds at most retentionBytes', (t) => {
  const s = fresh();
  const rows: Array<[number, number, number]> = [];
  for (let i = 0; i < 10; i++) {
    s.appended(s.stamp([message(`m${i}`, 100)], 1), [`m${i}`]);
    rows.push([i, 1, 100]);
  }
  t.true(s.overSize(450));
  const gone = s.trimHead(rows, 2, 60_000, 450);
  t.deepEqual(gone, [0, 1, 2, 3, 4, 5]);
  t.is(s.bytes, 400);
  t.false(s.overSize(450));
  t.is(s.start, 6);
});

test('a purge moves the start to the end and empties the byte count', (t) => {
  const s = fresh();
  s.appended(s.stamp([message('a', 50)], 1), ['a']);
  s.purged(1);
  t.is(s.start, 1);
  t.is(s.bytes, 0);
});

test('commits are fenced by generation, bounded in offset and in groups', (t) => {
  const s = fresh(2);
  t.is(s.commit('g', 3, 5, 'meta', 10, 10), 'ok');
  t.deepEqual(s.committed('g'), { offset: 3, generation: 5, metadata: 'meta', committedAt: 10 });
  t.is(s.commit('g', 4, 4, undefined, 11, 10), 'stale_generation', 'an older generation cannot move the offset');
  t.is(s.committed('g')?.offset, 3);
  t.is(s.commit('g', 2, 5, undefined, 12, 10), 'ok', 'the same generation may move it back (a seek)');
  t.is(s.commit('g', 11, 6, undefined, 12, 10), 'out_of_range');
  t.is(s.commit('h', 0, 0, undefined, 12, 10), 'ok');
  t.is(s.commit('i', 0, 0, undefined, 12, 10), 'over_limit');
  t.deepEqual(
    s.takeChanges().map((c) => c.kind),
    ['putOffset', 'putOffset', 'putOffset'],
  );
});

test('a loaded stream keeps its counters and offsets; the start never lies below a purge', (t) => {
  const s = new Stream(
    {
      state: { ...EMPTY_PARTITION, nextOffset: 20, purgedOffset: 12 },
      stream: { start: 5, bytes: 70, lastSentAt: 99 },
      offsets: [['g', { offset: 15, generation: 2, committedAt: 1 }]],
    },
    10,
  );
  t.is(s.start, 12);
  t.is(s.committed('g')?.generation, 2);
  t.is(s.stamp([message('x')], 50)[0]?.record.sentAt, 99);
});

test('withRetention changes the size limit of a stream only', (t) => {
  t.deepEqual(withRetention({ retentionMs: 1 }, { retentionMs: 2, retentionBytes: 5 }), { retentionMs: 2 });
  t.deepEqual(withRetention({ retentionMs: 1, stream: { retentionBytes: 0, maxGroups: 3 } }, { retentionMs: 2, retentionBytes: 5 }), {
    retentionMs: 2,
    stream: { retentionBytes: 5, maxGroups: 3 },
  });
});

test('the ledger trims a stream head without remembering anything per message', (t) => {
  const ledger = new Ledger({ state: { ...EMPTY_PARTITION }, deliveries: [] }, { windowMessages: 1, windowBytes: 1, maxInflight: 10, timerWindow: 10 }, 0);
  ledger.append(['a', 'b', 'c', 'd', 'e'].map((id) => message(id)), 0);
  ledger.takeChanges();
  ledger.trimStream([0, 1, 2]);
  const changes = ledger.takeChanges();
  t.deepEqual(
    changes.filter((c) => c.kind === 'delMessage').map((c) => (c.kind === 'delMessage' ? c.offset : -1)),
    [0, 1, 2],
  );
  t.is(ledger.partitionState.stored, 2);
  t.is(ledger.summary()['window'], 0, 'the one message the window held went with the head');
});
