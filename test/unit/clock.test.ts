/**
 * The node's wall clock (src/clock.ts) follows the monotonic clock after it started, so a step of the
 * system clock cannot end a lease early or late.
 */
import test from 'ava';
import { steadyClock, systemClock } from '../../src/clock.ts';

test('a step of the system clock does not move the steady clock; the monotonic clock does', (t) => {
  let wall = 1_800_000_000_000;
  let mono = 5_000.25;
  const now = steadyClock(
    () => wall,
    () => mono,
  );
  t.is(now(), 1_800_000_000_000);
  wall += 30_000; // a forward step
  t.is(now(), 1_800_000_000_000);
  mono += 1_500;
  t.is(now(), 1_800_000_001_500);
  wall -= 3_600_000; // a backward step
  mono += 10;
  t.is(now(), 1_800_000_001_510);
});

test('the system clock starts at the wall clock', (t) => {
  t.true(Math.abs(systemClock.now() - Date.now()) < 60_000);
});
