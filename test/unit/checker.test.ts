/**
 * The chaos checker on hand-made histories: every anomaly it claims to detect is planted once and
 * must be reported, and a clean history must pass; so a green chaos run means something. A property
 * test runs random command sequences through a correct in-memory queue and expects no anomaly, and
 * that planting one in such a history is always caught.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import fc from 'fast-check';
import { errors as natsErrors } from '@nats-io/nats-core';
import { ErrorCode, WharfError } from '../../src/errors.ts';
import { check, parseValue, summaryLine } from '../chaos/checker.ts';
import { HistoryBuilder } from '../chaos/history-builder.ts';
import { History, HistoryWriter, outcomeOf, parseHistory, readHistory, type HistoryOp } from '../chaos/history.ts';
import { runModel, type ModelCommand } from '../chaos/queue-model.ts';

/** p1 sends three values, c1 receives and deletes them, the drain finds nothing more. */
function clean(): HistoryBuilder {
  return new HistoryBuilder()
    .send('p1', 'p1-0', 'ok', { at: 0 })
    .send('p1', 'p1-1', 'ok', { at: 10 })
    .send('p1', 'p1-2', 'ok', { at: 20 })
    .receive('c1', [['p1-0', 'a'], ['p1-1', 'b'], ['p1-2', 'c']], { at: 30 })
    .delete('c1', 'p1-0', 'a', 'ok', { at: 40 })
    .delete('c1', 'p1-1', 'b', 'ok', { at: 40 })
    .delete('c1', 'p1-2', 'c', 'ok', { at: 40 })
    .receive('drain', [], { at: 50 });
}

test('a clean history is valid and its figures add up', (t) => {
  const r = check(clean().ops);
  t.true(r.valid, r.problems.join('; '));
  t.like(r, { attempts: 3, acknowledged: 3, failed: 0, indeterminate: 0, receivedUnique: 3, deliveries: 3, recovered: 0 });
  t.is(r.lost.count, 0);
  t.is(r.duplicates.extraDeliveries, 0);
  t.regex(summaryLine('clean', r), /^clean: acknowledged 3\/3, received 3, lost 0 .* valid$/);
});

test('lost values are split per producer into prefix, middle and postfix', (t) => {
  const h = new HistoryBuilder();
  for (let i = 0; i < 6; i++) h.send('p1', `p1-${i}`, 'ok', { at: i });
  h.send('p2', 'p2-0', 'ok', { at: 7 });
  h.receive('c1', ['p1-1', 'p1-3'], { at: 10 });
  const r = check(h.ops);
  t.false(r.valid);
  t.like(r.lost, { count: 5, prefix: 1, middle: 1, postfix: 3, afterDelivery: 0 });
  t.deepEqual(r.lost.byProducer['p1'], { prefix: ['p1-0'], middle: ['p1-2'], postfix: ['p1-4', 'p1-5'] });
  // Nothing of p2 was read: its loss counts as postfix (maybe only slow).
  t.deepEqual(r.lost.byProducer['p2'], { prefix: [], middle: [], postfix: ['p2-0'] });
  t.regex(r.problems.join(), /5 acknowledged messages lost/);
});

test('a message received, never deleted and missed by the final drain is lost after delivery', (t) => {
  const base = () => new HistoryBuilder().send('p1', 'p1-0', 'ok', { at: 0 }).receive('c1', [['p1-0', 'a']], { at: 10 }, 1);
  t.is(check(base().receive('drain', [], { at: 5000 }).ops).lost.afterDelivery, 1);
  t.true(check(base().receive('drain', [['p1-0', 'b']], { at: 5000 }).ops).valid, 'the drain found it');
  t.true(check(base().delete('c1', 'p1-0', 'a', 'ok', { at: 20 }).receive('drain', [], { at: 5000 }).ops).valid, 'it was deleted');
  t.true(check(base().delete('c1', 'p1-0', 'a', 'info', { at: 20 }).receive('drain', [], { at: 5000 }).ops).valid, 'its delete may have happened');
  t.true(check(base().ops).valid, 'without a drain there is nothing to go by');
});

test('an unacknowledged send is not lost; a received one of unknown outcome is recovered', (t) => {
  const h = new HistoryBuilder()
    .send('p1', 'p1-0', 'info', { at: 0 })
    .send('p1', 'p1-1', 'pending', { at: 1 })
    .send('p1', 'p1-2', 'info', { at: 2 })
    .receive('c1', ['p1-0', 'p1-1'], { at: 10 });
  const r = check(h.ops);
  t.true(r.valid, r.problems.join('; '));
  t.like(r, { indeterminate: 3, recovered: 2, acknowledged: 0 });
});

test('a received value no send carried is unexpected', (t) => {
  const r = check(clean().receive('c2', ['p9-0', 'garbage'], { at: 60 }).ops);
  t.false(r.valid);
  t.deepEqual(r.unexpected, ['p9-0', 'garbage']);
});

test('a definitely failed send that is delivered is reported', (t) => {
  const r = check(clean().send('p1', 'p1-3', 'fail', { at: 25 }).receive('c1', ['p1-3'], { at: 60 }).ops);
  t.false(r.valid);
  t.deepEqual(r.failedButDelivered, ['p1-3']);
  t.is(r.failed, 1);
});

test('a redelivery after the lease ran out is a legit duplicate', (t) => {
  const r = check(
    new HistoryBuilder()
      .send('p1', 'p1-0', 'ok', { at: 0 })
      .receive('c1', [['p1-0', 'a']], { at: 10, takes: 5 }, 2)
      .receive('c2', [['p1-0', 'b']], { at: 2011 }, 2).ops,
  );
  t.true(r.valid, r.problems.join('; '));
  t.like(r.duplicates, { messages: 1, extraDeliveries: 1, legit: 1, underLiveLease: [] });
});

test('a redelivery while the earlier lease is certainly live is a double delivery', (t) => {
  const r = check(
    new HistoryBuilder()
      .send('p1', 'p1-0', 'ok', { at: 0 })
      .receive('c1', [['p1-0', 'a']], { at: 10, takes: 5 }, 2)
      .receive('c2', [['p1-0', 'b']], { at: 1000, takes: 1000 }, 2).ops,
  );
  t.false(r.valid);
  t.is(r.duplicates.legit, 0);
  t.like(r.duplicates.underLiveLease[0], { value: 'p1-0', earlier: { process: 'c1', receipt: 'a' }, later: { process: 'c2', receipt: 'b' } });
});

test('the live-lease bound is conservative: a reply completing after the earliest deadline is legit', (t) => {
  // The lease of `a` ends at 10 + 2000 at the earliest; `b` may have been handed out at 2010 or later.
  const r = check(
    new HistoryBuilder()
      .send('p1', 'p1-0', 'ok', { at: 0 })
      .receive('c1', [['p1-0', 'a']], { at: 10, takes: 5 }, 2)
      .receive('c2', [['p1-0', 'b']], { at: 1000, takes: 1010 }, 2).ops,
  );
  t.true(r.valid, r.problems.join('; '));
  t.is(r.duplicates.legit, 1);
});

test('a release (visibility 0) ends the lease; a failed release or a failed delete does not', (t) => {
  const history = (more: (h: HistoryBuilder) => HistoryBuilder) =>
    more(new HistoryBuilder().send('p1', 'p1-0', 'ok', { at: 0 }).receive('c1', [['p1-0', 'a']], { at: 10 }, 30))
      .receive('c2', [['p1-0', 'b']], { at: 500 }, 30).ops;
  t.true(check(history((h) => h.visibility('c1', 'p1-0', 'a', 0, 'ok', { at: 100 }))).valid, 'acknowledged release');
  t.true(check(history((h) => h.visibility('c1', 'p1-0', 'a', 0, 'info', { at: 100 }))).valid, 'release of unknown outcome');
  t.is(check(history((h) => h.visibility('c1', 'p1-0', 'a', 0, 'fail', { at: 100 }))).duplicates.underLiveLease.length, 1);
  t.is(check(history((h) => h.delete('c1', 'p1-0', 'a', 'fail', { at: 100 }))).duplicates.underLiveLease.length, 1);
  // A release invoked after the redelivery completed cannot explain it.
  const late = new HistoryBuilder()
    .send('p1', 'p1-0', 'ok', { at: 0 })
    .receive('c1', [['p1-0', 'a']], { at: 10 }, 30)
    .receive('c2', [['p1-0', 'b']], { at: 500 }, 30)
    .visibility('c1', 'p1-0', 'a', 0, 'ok', { at: 600 });
  t.is(check(late.ops).duplicates.underLiveLease.length, 1);
});

test('the same receipt handed back twice (a retried receive attempt) is one delivery', (t) => {
  const r = check(
    new HistoryBuilder()
      .send('p1', 'p1-0', 'ok', { at: 0 })
      .receive('c1', [['p1-0', 'a']], { at: 10 }, 30)
      .receive('c1', [['p1-0', 'a']], { at: 20 }, 30).ops,
  );
  t.true(r.valid);
  t.is(r.deliveries, 1);
});

test('a value stored as two messages is a copy; its two leases are not one message delivered twice', (t) => {
  const h = new HistoryBuilder().send('p1', 'p1-0', 'ok', { at: 0 });
  const delivery = (messageId: string, receipt: string, at: number, process: string): HistoryOp[] => [
    { type: 'invoke', op: at, process, time: at, f: 'receive', value: null, visibilityTimeout: 30 },
    { type: 'ok', op: at, process, time: at + 1, f: 'receive', value: [{ value: 'p1-0', messageId, receipt, receiveCount: 1 }], visibilityTimeout: 30 },
  ];
  const deleteA: HistoryOp[] = [
    { type: 'invoke', op: 50, process: 'c1', time: 50, f: 'delete', value: 'p1-0', receipt: 'a' },
    { type: 'ok', op: 50, process: 'c1', time: 51, f: 'delete', value: 'p1-0', receipt: 'a' },
  ];
  const r = check([...h.ops, ...delivery('m1', 'a', 10, 'c1'), ...delivery('m2', 'b', 20, 'c2'), ...deleteA, ...delivery('m2', 'c', 100, 'c2')]);
  t.deepEqual(r.duplicates.copies, ['p1-0']);
  t.deepEqual(r.duplicates.underLiveLease.length, 1, 'm2 delivered again while its first lease lives');
  t.deepEqual(r.resurrected, [], 'deleting m1 says nothing about m2');
  t.regex(r.problems.join(), /1 values stored more than once/);
});

test('a delivery after an acknowledged delete is a resurrection', (t) => {
  const r = check(clean().receive('drain', [['p1-1', 'z']], { at: 100 }).ops);
  t.false(r.valid);
  t.is(r.resurrected.length, 1);
  t.like(r.resurrected[0], { value: 'p1-1', deleted: { process: 'c1', receipt: 'b' }, later: { process: 'drain', receipt: 'z' } });
  t.is(r.duplicates.legit, 0, 'a resurrection is not also a legit duplicate');
});

test('a delete that completed after the receive was issued is not a resurrection', (t) => {
  const r = check(
    new HistoryBuilder()
      .send('p1', 'p1-0', 'ok', { at: 0 })
      .receive('c1', [['p1-0', 'a']], { at: 10 }, 1)
      .receive('c2', [['p1-0', 'b']], { at: 1500, takes: 100 }, 1)
      .delete('c1', 'p1-0', 'a', 'ok', { at: 1450, takes: 100 }).ops,
  );
  t.deepEqual(r.resurrected, []);
});

test('replicas that disagree after the run are reported per partition and value', (t) => {
  const replicas = [
    { node: 'n1', partition: 'q.0', values: ['p1-0', 'p1-1'] },
    { node: 'n2', partition: 'q.0', values: ['p1-0'] },
    { node: 'n3', partition: 'q.0', values: ['p1-0', 'p1-1'] },
    { node: 'n1', partition: 'q.1', values: [] },
    { node: 'n2', partition: 'q.1', values: [] },
  ];
  const r = check(clean().ops, { replicas });
  t.false(r.valid);
  t.deepEqual(r.divergence, [{ partition: 'q.0', value: 'p1-1', presentOn: ['n1', 'n3'], missingOn: ['n2'] }]);
  t.true(check(clean().ops, { replicas: replicas.filter((x) => x.node !== 'n2') }).valid);
});

test('a replica still storing a value after its delete was acknowledged is reported', (t) => {
  // clean(): p1-1's delete completes at 41.
  const replicas = [
    { node: 'n1', partition: 'q.0', values: ['p1-1'], at: 45 },
    { node: 'n2', partition: 'q.0', values: ['p1-1'], at: 30 },
  ];
  const r = check(clean().ops, { replicas });
  t.deepEqual(r.storedAfterDelete, [{ node: 'n1', partition: 'q.0', value: 'p1-1' }]);
  t.false(r.valid);
});

test('the unavailability window is the longest stretch without an ok, edges included', (t) => {
  const h = new HistoryBuilder()
    .send('p1', 'p1-0', 'ok', { at: 0 })
    .send('p1', 'p1-1', 'ok', { at: 1000 })
    .nemesis('kill', 'n1', { at: 1500 })
    .send('p1', 'p1-2', 'info', { at: 1500, takes: 3000 })
    .send('p1', 'p1-3', 'ok', { at: 4600, takes: 1400 })
    .send('p1', 'p1-4', 'ok', { at: 6100 })
    .receive('c1', ['p1-0', 'p1-1', 'p1-3', 'p1-4'], { at: 7000 })
    .receiveFailed('c1', 'info', { at: 8000, takes: 5000 });
  const r = check(h.ops);
  t.deepEqual(r.unavailability.send, { seconds: 4.999, from: 1.001, to: 6 });
  // Receives: the failed one runs from 8 s to 13 s after the last ok at 7.001 s.
  t.deepEqual(r.unavailability.receive, { seconds: 5.999, from: 7.001, to: 13 });
  t.is(r.lost.count, 0);
});

test('the unavailability window can be measured over the fault phase only, without the drain', (t) => {
  const h = new HistoryBuilder()
    .send('p1', 'p1-0', 'info', { at: 0, takes: 4000 }) // start-up: not measured
    .send('p1', 'p1-1', 'ok', { at: 5000 })
    .send('p1', 'p1-2', 'ok', { at: 7000 })
    .receive('c1', ['p1-1', 'p1-2'], { at: 7500 })
    .receiveFailed('drain', 'info', { at: 20_000, takes: 9000 }) // the drain: not measured
    .receive('drain', [], { at: 30_000 });
  const r = check(h.ops, { measureFrom: 4500, measureTo: 8000 });
  t.is(r.unavailability.send.seconds, 2);
  t.is(r.unavailability.receive.seconds, 0.001);
  t.is(check(h.ops).unavailability.send.seconds, 5.001, 'whole history: the start-up gap counts');
});

test('values parse as producer and counter; producers may contain dashes', (t) => {
  t.deepEqual(parseValue('p1-42'), { producer: 'p1', counter: 42 });
  t.deepEqual(parseValue('run-a-p1-7'), { producer: 'run-a-p1', counter: 7 });
  t.is(parseValue('garbage'), undefined);
  t.is(parseValue('-3'), undefined);
});

test('errors are definite only when they promise nothing happened', (t) => {
  t.is(outcomeOf(new WharfError(ErrorCode.InvalidReceiptHandle, 'stale')), 'fail');
  t.is(outcomeOf(new WharfError(ErrorCode.NotLeader, 'elsewhere')), 'fail');
  t.is(outcomeOf(new WharfError(ErrorCode.StorageFailure, 'disk')), 'fail');
  t.is(outcomeOf(new WharfError(ErrorCode.Timeout, 'slow')), 'info');
  t.is(outcomeOf(new WharfError(ErrorCode.Internal, 'bug')), 'info');
  t.is(outcomeOf(new WharfError(ErrorCode.Unavailable, 'restarting')), 'info', 'a node said unavailable: it may have forwarded');
  t.is(outcomeOf(new WharfError(ErrorCode.Unavailable, 'none', { cause: new natsErrors.NoRespondersError('x') })), 'fail');
  t.is(outcomeOf(new Error('socket closed')), 'info');
  // Sends are retried after timeouts: a final retryable code may follow an attempt that took effect.
  t.is(outcomeOf(new WharfError(ErrorCode.NotLeader, 'elsewhere'), true), 'info');
  t.is(outcomeOf(new WharfError(ErrorCode.MessageTooLarge, 'big'), true), 'fail');
});

test('the writer appends JSON lines the reader parses back; a torn last line is ignored, a bad one is not', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'wharf-history-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'h.jsonl');
  let clock = 0;
  const history = new History(new HistoryWriter(path, { maxBufferBytes: 100 }), () => clock++);
  history.invoke('p1', { f: 'send', value: 'p1-0' }).ok({ messageId: 'm0' });
  history.invoke('c1', { f: 'receive', value: null, visibilityTimeout: 5 }).ok({
    value: [{ value: 'p1-0', messageId: 'm0', receipt: 'r0', receiveCount: 1 }],
  });
  history.invoke('c1', { f: 'delete', value: 'p1-0', receipt: 'r0' }).error(new WharfError(ErrorCode.Timeout, 'slow'));
  await history.nemesis('kill', 'n1', async () => undefined);
  history.close();

  const back = await readHistory(path);
  t.deepEqual(back, history.ops);
  t.deepEqual(back.map((o) => `${o.type}:${o.f}`), [
    'invoke:send', 'ok:send', 'invoke:receive', 'ok:receive', 'invoke:delete', 'info:delete', 'invoke:kill', 'ok:kill',
  ]);
  t.like(back[5], { error: 'timeout', value: 'p1-0', receipt: 'r0' });
  t.deepEqual([...history.acked], ['p1-0']);
  t.deepEqual([...history.consumed], ['p1-0'], 'a delete of unknown outcome may have consumed it');

  const text = await readFile(path, 'utf8');
  t.deepEqual(parseHistory(`${text}{"type":"ok","op":9,`), back);
  await writeFile(path, `${text}{"type":"ok","op":9}\n`);
  await t.throwsAsync(readHistory(path), { message: /line 9: not a history record/ });
  t.throws(() => history.invoke('p1', { f: 'send', value: 'p1-1' }), { message: /closed/ });
});

// ---- properties ----------------------------------------------------------------------------------

const takes = fc.integer({ min: 1, max: 400 });
const command: fc.Arbitrary<ModelCommand> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('send' as const), producer: fc.integer({ min: 0, max: 2 }), outcome: fc.constantFrom('ok' as const, 'ok' as const, 'fail' as const, 'info-applied' as const, 'info-lost' as const), takes }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('receive' as const),
      consumer: fc.integer({ min: 0, max: 2 }),
      max: fc.integer({ min: 1, max: 5 }),
      visibilityTimeout: fc.constantFrom(0, 1, 2, 5),
      at: fc.double({ min: 0, max: 1, noNaN: true }),
      replyLost: fc.boolean(),
      takes,
    }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('delete' as const), pick: fc.nat(), outcome: fc.constantFrom('ok' as const, 'info-applied' as const, 'info-lost' as const), takes }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('release' as const), pick: fc.nat(), takes }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 1, max: 3000 }) }) },
);

test('property: a history written by a correct queue is always valid', (t) => {
  fc.assert(
    fc.property(fc.array(command, { maxLength: 120 }), (commands) => {
      const r = check(runModel(commands));
      if (!r.valid) throw new Error(summaryLine('model', r));
    }),
    { numRuns: 300 },
  );
  t.pass();
});

test('property: dropping every delivery of one acknowledged value is caught as a loss', (t) => {
  fc.assert(
    fc.property(fc.array(command, { minLength: 1, maxLength: 80 }), fc.nat(), (commands, pick) => {
      const ops = runModel(commands);
      const acked = [...new Set(ops.filter((o) => o.type === 'ok' && o.f === 'send').map((o) => (o.f === 'send' ? o.value : '')))];
      fc.pre(acked.length > 0);
      const victim = acked[pick % acked.length];
      const mutated: HistoryOp[] = ops.map((o) =>
        o.f === 'receive' && o.value !== null ? { ...o, value: o.value.filter((d) => d.value !== victim) } : o,
      );
      const r = check(mutated);
      if (!r.lost.values.includes(victim ?? '')) throw new Error(`${victim} not reported lost: ${summaryLine('mutated', r)}`);
    }),
    { numRuns: 200 },
  );
  t.pass();
});

test('property: a second delivery planted inside a live lease is caught', (t) => {
  fc.assert(
    fc.property(fc.array(command, { minLength: 1, maxLength: 80 }), fc.nat(), (commands, pick) => {
      const ops = runModel(commands);
      // Not one whose lease the consumer itself ended with a visibility change.
      const released = new Set(ops.flatMap((o) => (o.f === 'visibility' && o.type !== 'fail' ? [o.receipt] : [])));
      const leased = ops.flatMap((o) =>
        o.type === 'ok' && o.f === 'receive' && o.visibilityTimeout > 0 ? (o.value ?? []).filter((d) => !released.has(d.receipt)).map((d) => ({ d, at: o.time })) : [],
      );
      fc.pre(leased.length > 0);
      const { d, at } = leased[pick % leased.length] as (typeof leased)[number];
      const op = 1_000_000;
      const planted: HistoryOp[] = [
        { type: 'invoke', op, process: 'intruder', f: 'receive', value: null, visibilityTimeout: 1, time: at + 1 },
        { type: 'ok', op, process: 'intruder', f: 'receive', value: [{ ...d, receipt: 'planted' }], visibilityTimeout: 1, time: at + 2 },
      ];
      const r = check([...ops, ...planted]);
      const caught = r.duplicates.underLiveLease.some((x) => x.later.receipt === 'planted') || r.resurrected.some((x) => x.later.receipt === 'planted');
      if (!caught) throw new Error(`planted redelivery of ${d.value} missed: ${summaryLine('planted', r)}`);
    }),
    { numRuns: 200 },
  );
  t.pass();
});
