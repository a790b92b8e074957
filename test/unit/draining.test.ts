/**
 * What a draining partition does with a send (actors/partition/draining.ts): remembered retries are
 * answered as duplicates, a FIFO send is taken only for groups the partition still holds, refused
 * (for the front-end to route on) only when it holds none of them, and answered `unavailable`
 * (not to be routed around) when it cannot tell or holds some but not all.
 */
import test from 'ava';
import { drainingSend, type DrainingKnowledge } from '../../actors/partition/draining.ts';
import type { NewMessage } from '../../actors/partition/ledger.ts';
import { message } from './partition-fakes.ts';

const T0 = 1_700_000_000_000;
const send = (group?: string, dedupId?: string): NewMessage => ({
  record: { ...message(T0), ...(group === undefined ? {} : { group }) },
  delayMs: 0,
  ...(dedupId === undefined ? {} : { dedupId }),
});

function knowing(remembered: Record<string, string>, holds: Record<string, boolean | undefined>): DrainingKnowledge {
  return { remembered: (id) => remembered[id], holds: (group) => (Object.hasOwn(holds, group) ? holds[group] : false) };
}

test('a retry whose every id is remembered is answered with the original ids; otherwise a standard send is refused', (t) => {
  const knows = knowing({ a: 'm-a', b: 'm-b' }, {});
  t.deepEqual(drainingSend([send(undefined, 'a'), send(undefined, 'b')], knows), { type: 'sent', ids: ['m-a', 'm-b'] });
  t.like(drainingSend([send(undefined, 'a'), send(undefined, 'c')], knows), { type: 'refuse', code: 'partition_draining' });
  t.like(drainingSend([send()], knows), { type: 'refuse', code: 'partition_draining' });
});

test('a FIFO send is taken for held groups, refused for groups not held, and neither when unsure or mixed', (t) => {
  const knows = knowing({}, { held: true, other: true, unknown: undefined });
  t.deepEqual(drainingSend([send('held'), send('other'), send('held')], knows), { type: 'accept' });
  t.like(drainingSend([send('gone'), send('elsewhere')], knows), { type: 'refuse', code: 'partition_draining' });
  const mixed = drainingSend([send('held'), send('gone')], knows);
  t.like(mixed, { type: 'refuse', code: 'unavailable' });
  t.regex(mixed.type === 'refuse' ? mixed.message : '', /some of these message groups/);
  const unsure = drainingSend([send('unknown')], knows);
  t.like(unsure, { type: 'refuse', code: 'unavailable' });
  t.regex(unsure.type === 'refuse' ? unsure.message : '', /from disk/);
  t.like(drainingSend([send('gone', 'seen')], knowing({ seen: 'm-1' }, {})), { type: 'sent', ids: ['m-1'] });
});
