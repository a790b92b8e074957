/**
 * Dead letters as pure decisions: the ledger's marks (max receives, TTL, overflow), attempts kept
 * per message and their bound, what survives a restart; the move task's rate window and takeover
 * rule; the record encodings (old records still read); the attribute checks.
 */
import test from 'ava';
import { MAX_ATTEMPTS_KEPT } from '../../actors/partition/dead-letter.ts';
import { allowance, mayTakeOver, moved, type RateWindow } from '../../actors/move/move-task.ts';
import { encode } from '../../src/protocol/codec.ts';
import { creationAttributes, updatedAttributes } from '../../src/protocol/attributes.ts';
import { ErrorCode, WharfError } from '../../src/errors.ts';
import { decodeMessage, decodeState, encodeMessage } from '../../src/storage/records.ts';
import { ledgerOnDisk, message } from './partition-fakes.ts';

const T0 = 1_700_000_000_000;
const FOREVER = 1e13;
const harness = () => ledgerOnDisk(T0);

test('a message received maxReceives times is marked at its next receive, with its attempts; deadLettered then removes it', (t) => {
  const h = harness();
  h.ledger.append([{ record: message(T0), delayMs: 0 }], T0);
  const [d] = h.ledger.receive(1, Infinity, 1000, T0, FOREVER, undefined, 'c1', 1);
  t.is(d?.delivery.count, 1);
  h.ledger.tick(T0 + 1000, FOREVER); // the lease runs out
  t.deepEqual(h.ledger.receive(1, Infinity, 1000, T0 + 1001, FOREVER, undefined, 'c2', 1), [], 'dead-lettered, not delivered');
  h.commit();
  t.deepEqual(h.disk.marks.get(0), { reason: 'max-receives', receiveCount: 1, attempts: 1, at: T0 + 1001 });
  t.like(h.disk.attempts.get('0/1'), { n: 1, at: T0, endedAt: T0 + 1000, consumer: 'c1', ended: 'lease-expired' });
  t.like(h.ledger.counts(), { visible: 0, inflight: 0 });
  t.is(h.ledger.pendingDeadLetters, 1);
  t.is(h.ledger.deadLetteredCount, 1);
  t.true(h.disk.messages.has(0), 'the body stays until it is in the DLQ');

  h.restart(T0 + 2000);
  t.is(h.ledger.pendingDeadLetters, 1, 'marks survive a restart');
  t.deepEqual(h.ledger.receive(10, Infinity, 1000, T0 + 2000, FOREVER), [], 'a marked message is never paged back in');
  t.deepEqual(h.ledger.deadLettered([0]), ['ok']);
  t.deepEqual(h.ledger.deadLettered([0]), ['stale']);
  h.commit();
  t.false(h.disk.messages.has(0));
  t.is(h.disk.marks.size, 0);
  t.is(h.disk.attempts.size, 0);
  t.is(h.disk.state.deadLettered, 1);
});

test('every attempt keeps its delivery time across a restart while it is in flight (the time is in the stored delivery record)', (t) => {
  const h = harness();
  h.ledger.append([{ record: message(T0), delayMs: 0 }], T0);
  h.ledger.receive(1, Infinity, 1000, T0, FOREVER, undefined, 'c1', 2);
  h.ledger.tick(T0 + 1000, FOREVER);
  t.is(h.ledger.receive(1, Infinity, 5000, T0 + 1500, FOREVER, undefined, 'c2', 2).length, 1);
  h.commit();
  h.restart(T0 + 2000); // as a new primary would load it
  h.ledger.tick(T0 + 6500, FOREVER); // the second lease runs out there
  t.deepEqual(h.ledger.receive(1, Infinity, 1000, T0 + 7000, FOREVER, undefined, 'c3', 2), [], 'dead-lettered');
  h.commit();
  t.like(h.disk.attempts.get('0/1'), { n: 1, at: T0, endedAt: T0 + 1000, consumer: 'c1' });
  t.like(h.disk.attempts.get('0/2'), { n: 2, at: T0 + 1500, endedAt: T0 + 6500, consumer: 'c2', ended: 'lease-expired' });
});

test('attempts are kept for the last 32 deliveries only, and go with the message', (t) => {
  const h = harness();
  h.ledger.append([{ record: message(T0), delayMs: 0 }], T0);
  let now = T0;
  let last;
  for (let i = 0; i < 40; i++) {
    [last] = h.ledger.receive(1, Infinity, 10, now, FOREVER, undefined, `c${i}`);
    now += 10;
    h.ledger.tick(now, FOREVER);
    h.commit();
  }
  t.is(h.disk.attempts.size, MAX_ATTEMPTS_KEPT);
  t.true(h.disk.attempts.has('0/40') && !h.disk.attempts.has('0/8'));
  [last] = h.ledger.receive(1, Infinity, 10_000, now, FOREVER);
  t.is(h.ledger.remove(0, last?.delivery.seq ?? -1), 'ok');
  h.commit();
  t.is(h.disk.attempts.size, 0, 'a deleted message leaves no attempts behind');
});

test('a visibility change to 0 ends the attempt as released and makes the message receivable at once', (t) => {
  const h = harness();
  h.ledger.append([{ record: message(T0), delayMs: 0 }], T0);
  const [d] = h.ledger.receive(1, Infinity, 30_000, T0, FOREVER, undefined, 'c1');
  t.is(h.ledger.changeVisibility(0, d?.delivery.seq ?? -1, 0, T0 + 5), 'ok');
  h.ledger.tick(T0 + 10, FOREVER);
  h.commit();
  t.like(h.disk.attempts.get('0/1'), { ended: 'released', consumer: 'c1', endedAt: T0 + 5 });
  t.is(h.disk.attempts.size, 1, 'recorded once, not again as an expiry');
  t.is(h.ledger.receive(1, Infinity, 1000, T0 + 10, FOREVER)[0]?.delivery.count, 2);
});

test('a TTL that ran out deletes the message, or marks it when deadLetterOnExpiry', (t) => {
  for (const deadLetter of [false, true]) {
    const h = harness();
    h.ledger.deadLetterOnExpiry = deadLetter;
    h.ledger.append([{ record: { ...message(T0), expiresAt: T0 + 500 }, delayMs: 0 }, { record: message(T0), delayMs: 0 }], T0);
    h.commit();
    h.ledger.tick(T0 + 500, FOREVER);
    h.commit();
    t.is(h.disk.messages.has(0), deadLetter, deadLetter ? 'kept until moved' : 'deleted');
    t.is(h.disk.marks.get(0)?.reason, deadLetter ? 'ttl' : undefined);
    t.is(h.ledger.counts().visible, 1);
    t.is(h.ledger.receive(5, Infinity, 1000, T0 + 500, FOREVER).length, 1, 'only the other message is delivered');
  }
});

test('overflow: reject refuses, drop-oldest deletes the oldest ready message, dead-letter marks the new one; repeats take no room', (t) => {
  const send = (policy: 'reject' | 'drop-oldest' | 'dead-letter') => {
    const h = harness();
    h.ledger.append([{ record: message(T0, 8, 'a'), delayMs: 0, dedupId: 'da' }, { record: message(T0, 8, 'b'), delayMs: 0 }], T0);
    const out = h.ledger.appendLimited(
      [{ record: message(T0, 8, 'c'), delayMs: 0 }, { record: message(T0, 8, 'a2'), delayMs: 0, dedupId: 'da' }],
      T0,
      { limit: { maxLength: 2, overflow: policy } },
    );
    h.commit();
    return { h, out };
  };
  const reject = send('reject');
  t.deepEqual(reject.out, { ids: ['', 'a'], rejected: [0], overStoredBytes: [] });
  t.is(reject.h.disk.messages.size, 2);

  const drop = send('drop-oldest');
  t.deepEqual(drop.out.rejected, []);
  t.deepEqual([...drop.h.disk.messages.values()].map((m) => m.id).sort(), ['b', 'c']);

  const dead = send('dead-letter');
  t.deepEqual(dead.out, { ids: ['c', 'a'], rejected: [], overStoredBytes: [] });
  t.is(dead.h.disk.marks.get(2)?.reason, 'overflow');
  t.is(dead.h.ledger.counts().visible, 2);
});

test('the rate window allows at most `rate` moves per second, whatever the batches and calls', (t) => {
  let window: RateWindow = { start: 0, moved: 0 };
  const perSecond = new Map<number, number>();
  for (let now = 1000; now < 11_000; now += 37) {
    const a = allowance(5, window, now, 3);
    window = moved(a.window, a.allowed);
    const second = Math.floor((a.window.start - 1000) / 1000);
    perSecond.set(second, (perSecond.get(second) ?? 0) + a.allowed);
    if (a.allowed === 0) t.true(a.waitMs > 0 && a.waitMs <= 1000);
  }
  t.true([...perSecond.values()].every((n) => n <= 5));
  t.is([...perSecond.values()].reduce((a, b) => a + b, 0), 50, 'and it moves that many: 10 windows of 5');
  t.is(allowance(undefined, window, 0, 100).allowed, 100, 'no rate: a whole batch');
});

test('a move task is taken over when unowned, when its owner restarted, or when its record went stale', (t) => {
  const self = { node: 'n2', boot: 'b2' };
  t.true(mayTakeOver({}, self, undefined, 0, 5000));
  t.false(mayTakeOver({ owner: 'n2', ownerBoot: 'b2' }, self, 'b2', 60_000, 5000), 'already ours');
  t.true(mayTakeOver({ owner: 'n2', ownerBoot: 'old' }, self, 'b2', 0, 5000), 'our previous process');
  t.true(mayTakeOver({ owner: 'n1', ownerBoot: 'b1' }, self, 'b1-restarted', 0, 5000), 'its owner restarted');
  t.false(mayTakeOver({ owner: 'n1', ownerBoot: 'b1' }, self, 'b1', 4999, 5000), 'a live owner');
  t.true(mayTakeOver({ owner: 'n1', ownerBoot: 'b1' }, self, 'b1', 5000, 5000), 'a silent owner');
});

test('message records and partition states written before dead letters still read; new fields round-trip', (t) => {
  const old = encode(['id-1', T0, new Uint8Array([1]), { k: { type: 'string', value: 'v' } }]);
  t.like(decodeMessage(old), { id: 'id-1', sentAt: T0, attributes: { k: { type: 'string', value: 'v' } } });
  const record = {
    id: 'id-2',
    sentAt: T0,
    body: new Uint8Array([2]),
    expiresAt: T0 + 5,
    deadLetter: { sourceQueue: 'q', reason: 'ttl' as const, receiveCount: 0, deadLetteredAt: T0, totalAttempts: 1, attempts: [{ n: 1, endedAt: T0, ended: 'released' as const }] },
  };
  t.deepEqual({ ...decodeMessage(encodeMessage(record)), body: record.body }, record);
  t.like(decodeState(encode([1, 2, 3, 4, 5, 6, 7])), { nextOffset: 1, purgedDelayedSeq: 7, deadLettered: 0 });
});

test('attribute checks: redrive policy ranges, allow policy shapes, needs-a-DLQ rules, null removes', (t) => {
  const code = (f: () => unknown) => (t.throws(f, { instanceOf: WharfError }) as WharfError).code;
  t.is(code(() => creationAttributes({ redrivePolicy: { deadLetterQueue: 'd', maxReceiveCount: 0 } })), ErrorCode.InvalidAttribute);
  t.is(code(() => creationAttributes({ redrivePolicy: { deadLetterQueue: 'no.dots', maxReceiveCount: 3 } })), ErrorCode.InvalidAttribute);
  t.is(code(() => creationAttributes({ redriveAllowPolicy: { redrivePermission: 'byQueue' } })), ErrorCode.InvalidAttribute);
  t.is(code(() => creationAttributes({ redriveAllowPolicy: { redrivePermission: 'byQueue', sourceQueues: Array.from({ length: 11 }, (_, i) => `q${i}`) } })), ErrorCode.InvalidAttribute);
  t.is(code(() => creationAttributes({ redriveAllowPolicy: { redrivePermission: 'allowAll', sourceQueues: ['a'] } })), ErrorCode.InvalidAttribute);
  t.is(code(() => creationAttributes({ overflowPolicy: 'dead-letter', maxLength: 5 })), ErrorCode.InvalidAttribute);
  t.is(code(() => creationAttributes({ deadLetterOnExpiry: 'yes' })), ErrorCode.InvalidAttribute);
  t.is(code(() => creationAttributes({ maxLength: 0 })), ErrorCode.InvalidAttribute);
  const a = creationAttributes({ redrivePolicy: { deadLetterQueue: 'd', maxReceiveCount: 1000 }, deadLetterOnExpiry: true, maxLength: 10, overflowPolicy: 'drop-oldest' });
  t.like(a, { redrivePolicy: { deadLetterQueue: 'd', maxReceiveCount: 1000 }, deadLetterOnExpiry: true, maxLength: 10 });
  t.is(code(() => updatedAttributes(a, { redrivePolicy: null })), ErrorCode.InvalidAttribute, 'expiry dead-lettering still needs the DLQ');
  const b = updatedAttributes(a, { redrivePolicy: null, deadLetterOnExpiry: null, maxLength: null });
  t.false('redrivePolicy' in b || 'deadLetterOnExpiry' in b || 'maxLength' in b);
  t.is(creationAttributes({}).redrivePolicy, undefined, 'absent by default');
});
