/**
 * The partition actor in stream mode, with the real storage effect over an in-memory store and a
 * simulated clock: appends are stamped, commits are written in the batch and fenced, reads stop at
 * the settled end, the head is trimmed by size through the reader's scans, and a reload keeps it all.
 */
import test from 'ava';
import { createActor, SimulatedClock } from 'xstate';
import { partitionMachine } from '../../actors/partition/partition.machine.ts';
import type { PartitionOp, PartitionReply, PartitionResult } from '../../actors/partition/partition.events.ts';
import { partitionStore } from '../../src/effects/partition-store.ts';
import { serveStreamRead } from '../../src/node/stream-reads.ts';
import { flush, MemStore, message } from './partition-fakes.ts';

const T0 = 1_700_000_000_000;

function start(store: MemStore, retentionBytes: number) {
  const clock = new SimulatedClock();
  clock.set(T0);
  const actor = createActor(partitionMachine.provide({ actors: partitionStore(store, true) }), {
    clock,
    input: {
      queue: 's1',
      partition: 0,
      limits: { windowMessages: 1, windowBytes: 1, maxInflight: 100, timerWindow: 16 },
      tickMs: 100,
      retentionMs: 60_000,
      retentionCheckMs: 1000,
      now: () => clock.now(),
      stream: { retentionBytes, maxGroups: 10 },
    },
  });
  const replies: PartitionReply[] = [];
  actor.on('replies', (e) => void replies.push(...e.replies));
  actor.start();
  let next = 1;
  const request = async (op: PartitionOp): Promise<PartitionResult> => {
    const id = next++;
    actor.send({ type: 'requests', items: [{ id, op }] });
    for (let i = 0; i < 50; i++) {
      const found = replies.find((r) => r.id === id);
      if (found) return found.result;
      await flush(5);
    }
    throw new Error(`no reply to ${op.type}`);
  };
  const read = (op: Parameters<typeof serveStreamRead>[4]) => {
    const { context } = actor.getSnapshot();
    return serveStreamRead(store, 's1', 0, { stream: context.streamLog, end: context.committedOffset }, op);
  };
  const advance = async (ms: number) => {
    for (let done = 0; done < ms; done += 100) {
      clock.increment(100);
      await flush(5);
    }
  };
  return { actor, clock, request, read, advance };
}

const send = (n: number, size = 100) => ({ type: 'send' as const, messages: Array.from({ length: n }, () => ({ record: message(0, size), delayMs: 0 })) });

test('appends get the primary time, commits are fenced, reads stop at the settled end', async (t) => {
  const store = new MemStore();
  const p = start(store, 0);
  await flush(20);
  t.like(await p.request(send(3)), { type: 'sent' });
  const read = await p.read({ type: 'read', from: 0, max: 10, maxBytes: 1 << 20 });
  if (read.type !== 'read') throw new Error(read.type);
  t.deepEqual(read.messages.map(([o]) => o), [0, 1, 2]);
  t.true(read.messages.every(([, r]) => r.sentAt === T0), 'sentAt is the partition clock');
  t.is(read.end, 3);
  t.deepEqual(await p.read({ type: 'read', from: 1, max: 1, maxBytes: 1 }), { ...read, messages: read.messages.slice(1, 2) });

  t.deepEqual(await p.request({ type: 'commitOffset', group: 'g', offset: 2, generation: 3 }), { type: 'committed', result: 'ok' });
  t.deepEqual(await p.request({ type: 'commitOffset', group: 'g', offset: 3, generation: 2 }), { type: 'committed', result: 'stale_generation' });
  t.like(await p.read({ type: 'offsets', group: 'g' }), { type: 'offsets', start: 0, end: 3, committed: { offset: 2, generation: 3 } });
  t.deepEqual(await p.read({ type: 'groups' }), { type: 'groups', groups: ['g'] });

  // A reload (a restart, a new primary) finds the same stream.
  p.actor.stop();
  const again = start(store, 0);
  await flush(20);
  t.like(await again.read({ type: 'offsets', group: 'g' }), { start: 0, end: 3, committed: { offset: 2, generation: 3 } });
  t.like(await again.request(send(1)), { type: 'sent' });
  t.like(await again.read({ type: 'findOffset', timestamp: T0 }), { type: 'offset', offset: 0 });
  t.like(await again.read({ type: 'findOffset', timestamp: T0 + 1 }), { type: 'offset', offset: 4 });
  again.actor.stop();
});

test('the reader trims the head to retentionBytes and the start moves with it', async (t) => {
  const store = new MemStore();
  const p = start(store, 450);
  await flush(20);
  await p.request(send(10, 100));
  await p.advance(2000);
  const offsets = await p.read({ type: 'offsets' });
  t.like(offsets, { type: 'offsets', start: 6, end: 10 });
  const read = await p.read({ type: 'read', from: 0, max: 100, maxBytes: 1 << 20 });
  if (read.type !== 'read') throw new Error(read.type);
  t.deepEqual(read.messages.map(([o]) => o), [6, 7, 8, 9], 'a read below the start starts at the start');
  t.is(p.actor.getSnapshot().context.ledger?.partitionState.stored, 4);
  p.actor.stop();
});
