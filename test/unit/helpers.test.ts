import anyTest, { type TestFn } from 'ava';
import { OffsetClock } from '../helpers/clock.ts';
import { eventually, EventuallyTimeoutError } from '../helpers/eventually.ts';
import { testLogger } from '../helpers/log.ts';

const test = anyTest as TestFn<unknown>;

test('eventually returns the first value that is neither undefined nor false', async (t) => {
  let calls = 0;

  const value = await eventually(() => {
    calls += 1;
    return calls < 3 ? undefined : calls;
  });

  t.is(value, 3);
  t.is(calls, 3);
});

test('eventually accepts falsy values other than undefined and false', async (t) => {
  t.is(await eventually(() => 0), 0);
  t.is(await eventually(async () => null), null);
  t.is(await eventually(() => ''), '');
});

test('eventually retries through thrown errors', async (t) => {
  let calls = 0;

  const value = await eventually(async () => {
    calls += 1;
    if (calls < 3) throw new Error('not yet');
    return 'done';
  });

  t.is(value, 'done');
});

test('eventually times out with an error naming what it waited for', async (t) => {
  const started = Date.now();

  const error = await t.throwsAsync(eventually(() => false, { timeoutMs: 100, message: 'the queue to drain' }), {
    instanceOf: EventuallyTimeoutError,
  });

  t.regex(error?.message ?? '', /timed out after 100 ms waiting for the queue to drain/);
  t.regex(error?.message ?? '', /last result: false/);
  t.true(Date.now() - started < 1_000);
});

test('eventually reports the last error when it times out', async (t) => {
  const error = await t.throwsAsync(
    eventually(
      () => {
        throw new Error('connection refused');
      },
      { timeoutMs: 50 },
    ),
    { instanceOf: EventuallyTimeoutError },
  );

  t.regex(error?.message ?? '', /last error: connection refused/);
  t.true(error?.cause instanceof Error);
});

test('eventually cuts off an attempt that never settles', async (t) => {
  const started = Date.now();

  await t.throwsAsync(
    eventually(() => new Promise<boolean>(() => undefined), { timeoutMs: 100 }),
    { instanceOf: EventuallyTimeoutError },
  );

  t.true(Date.now() - started < 1_000);
});

test('an offset clock runs with real time and moves forward on advance', (t) => {
  const clock = new OffsetClock();
  const before = Date.now();

  clock.advance(60_000);

  t.is(clock.offset, 60_000);
  t.true(clock.now() >= before + 60_000);
  t.true(clock.now() <= Date.now() + 60_000);
  t.throws(() => clock.advance(-1), { instanceOf: RangeError });
});

test('an offset clock keeps real timers that can be cleared', async (t) => {
  const clock = new OffsetClock();
  let clearedTimerFired = false;
  const handle = clock.setTimeout(() => {
    clearedTimerFired = true;
  }, 1);

  clock.clearTimeout(handle);
  const fired = await new Promise<boolean>((resolve) => clock.setTimeout(() => resolve(true), 20));

  t.true(fired);
  t.false(clearedTimerFired);
});

test('the test logger is silent unless LOG_LEVEL is set', (t) => {
  const log = testLogger({ component: 'test' });

  t.is(log.level, process.env['LOG_LEVEL'] || 'silent');
});
