/**
 * The inspection buffer (src/inspect/buffer.ts): nothing held without a watcher, rate limiting and
 * sampling of busy actors, every state change of a quiet actor kept, bounded memory under a flood.
 */
import test from 'ava';
import { InspectBuffer, type BufferedEntry, type InspectLimits } from '../../src/inspect/buffer.ts';

class FakeClock {
  t = 1_000_000;
  now = () => this.t;
}

const LIMITS: Partial<InspectLimits> = {
  actorEventsPerSecond: 10,
  nodeEventsPerSecond: 1000,
  maxBuffered: 100,
  maxFrameEvents: 50,
  maxSampleKeys: 8,
  maxActors: 16,
  watchTtlMs: 6000,
};

function watchedBuffer(limits: Partial<InspectLimits> = LIMITS) {
  const clock = new FakeClock();
  const buffer = new InspectBuffer<string>(clock, limits);
  buffer.watch();
  return { clock, buffer };
}

const eventsOf = (entries: Array<BufferedEntry<string>>, actor: string) =>
  entries.filter((e): e is Extract<BufferedEntry<string>, { kind: 'event' }> => e.kind === 'event' && e.actor === actor);

test('nothing is held or framed while no inspector watches', (t) => {
  const clock = new FakeClock();
  const buffer = new InspectBuffer<string>(clock, LIMITS);
  buffer.event('a', 'tick');
  buffer.state('a', 'm', 's1');
  buffer.actor({ kind: 'actor', actor: 'a', machine: 'm', status: 'started' });
  t.false(buffer.watched);
  t.is(buffer.take(), undefined);
  t.deepEqual(buffer.size, { queued: 0, pending: 0, samples: 0, actors: 0 });
});

test('a watch lapses after its TTL and what was held goes with it', (t) => {
  const { clock, buffer } = watchedBuffer();
  buffer.event('a', 'tick');
  buffer.state('a', 'm', 's1');
  clock.t += 6000;
  t.false(buffer.watched);
  t.is(buffer.take(), undefined);
  t.is(buffer.size.queued, 0);
  buffer.watch();
  t.true(buffer.watched);
});

test('a busy actor is rate limited; what was sampled away is counted and reported', (t) => {
  const { buffer } = watchedBuffer();
  for (let i = 0; i < 40; i++) buffer.event('busy', 'tick');
  const frame = buffer.take();
  if (!frame) return t.fail('expected a frame');
  const events = eventsOf(frame.entries, 'busy');
  const individual = events.filter((e) => e.sampled === 1);
  t.is(individual.length, 10, 'the per-actor rate lets its burst through, no more');
  t.is(frame.dropped, 30);
  t.is(
    events.reduce((n, e) => n + e.sampled, 0),
    40,
    'the sampled counts add up to every event',
  );
});

test('the rate refills with time', (t) => {
  const { clock, buffer } = watchedBuffer();
  for (let i = 0; i < 20; i++) buffer.event('busy', 'tick');
  buffer.take();
  clock.t += 500; // half a second: five more tokens at 10/s
  for (let i = 0; i < 20; i++) buffer.event('busy', 'tick');
  const frame = buffer.take();
  if (!frame) return t.fail('expected a frame');
  const events = eventsOf(frame.entries, 'busy');
  t.is(events.filter((e) => e.sampled === 1).length, 5, 'five tokens came back, five events went through alone');
  t.is(
    events.reduce((n, e) => n + e.sampled, 0),
    20,
    'the previous frame reported its own samples: this one counts the twenty of now',
  );
});

test('a quiet actor loses no state change while another floods', (t) => {
  const { clock, buffer } = watchedBuffer();
  const seen: string[] = [];
  for (let round = 0; round < 20; round++) {
    for (let i = 0; i < 500; i++) buffer.event('busy', 'tick');
    buffer.state('busy', 'partition', `b${round}`);
    buffer.state('quiet', 'replica', `q${round}`);
    buffer.event('quiet', 'assignment');
    const frame = buffer.take();
    if (!frame) return t.fail('expected a frame');
    const quiet = frame.entries.filter((e) => e.actor === 'quiet' && e.kind === 'state');
    for (const e of quiet) if (e.kind === 'state') seen.push(e.payload);
    clock.t += 100;
  }
  t.deepEqual(
    seen,
    Array.from({ length: 20 }, (_, i) => `q${i}`),
  );
});

test('state changes are coalesced per actor: the latest one goes', (t) => {
  const { buffer } = watchedBuffer();
  buffer.state('a', 'm', 's1');
  buffer.state('a', 'm', 's2');
  buffer.state('b', 'm', 't1');
  const frame = buffer.take();
  t.deepEqual(
    frame?.entries.filter((e) => e.kind === 'state'),
    [
      { kind: 'state', actor: 'a', machine: 'm', payload: 's2' },
      { kind: 'state', actor: 'b', machine: 'm', payload: 't1' },
    ],
  );
});

test('memory stays bounded under a flood of events and actors', (t) => {
  const { buffer } = watchedBuffer({ ...LIMITS, actorEventsPerSecond: 1_000_000, nodeEventsPerSecond: 1_000_000 });
  for (let i = 0; i < 50_000; i++) {
    buffer.event(`actor-${i % 1000}`, `type-${i % 37}`);
    buffer.actor({ kind: 'actor', actor: `actor-${i}`, machine: 'm', status: 'started' });
  }
  const size = buffer.size;
  t.true(size.queued <= 100, `queued ${size.queued}`);
  t.true(size.samples <= 8, `samples ${size.samples}`);
  t.true(size.actors <= 16, `actors ${size.actors}`);
  t.true(buffer.due);
  const frame = buffer.take();
  t.true((frame?.entries.length ?? 0) <= 50 + 8);
  t.true((frame?.dropped ?? 0) >= 99_800);
});

test('the node-wide rate applies across actors', (t) => {
  const { buffer } = watchedBuffer({ ...LIMITS, nodeEventsPerSecond: 25, actorEventsPerSecond: 10 });
  for (let a = 0; a < 10; a++) for (let i = 0; i < 10; i++) buffer.event(`a${a}`, 'tick');
  const frame = buffer.take();
  if (!frame) return t.fail('expected a frame');
  const individual = frame.entries.filter((e) => e.kind === 'event' && e.sampled === 1);
  t.is(individual.length, 25);
  t.is(frame.dropped, 75);
});

test('a stopped actor drops its pending state and the stop goes out', (t) => {
  const { buffer } = watchedBuffer();
  buffer.state('a', 'm', 's1');
  buffer.actor({ kind: 'actor', actor: 'a', machine: 'm', status: 'stopped' });
  t.deepEqual(buffer.take()?.entries, [{ kind: 'actor', actor: 'a', machine: 'm', status: 'stopped' }]);
});

test('recent events keep the last twenty per actor, oldest first', (t) => {
  const { clock, buffer } = watchedBuffer();
  for (let i = 0; i < 25; i++) {
    clock.t += 1;
    buffer.event('a', `e${i}`);
  }
  const recent = buffer.recent('a');
  t.is(recent.length, 20);
  t.is(recent[0]?.type, 'e5');
  t.is(recent[19]?.type, 'e24');
});

test('a frame holds at most maxFrameEvents queued events; the rest follow', (t) => {
  const { buffer } = watchedBuffer({ ...LIMITS, actorEventsPerSecond: 1000 });
  for (let i = 0; i < 80; i++) buffer.event('a', 'tick');
  t.true(buffer.due);
  t.is(buffer.take()?.entries.length, 50);
  t.is(buffer.take()?.entries.length, 30);
  t.is(buffer.take(), undefined);
});
