/**
 * Error codes (src/errors.ts): the wire round trip, the retryable table, unknown codes.
 */
import { readFileSync } from 'node:fs';
import test from 'ava';
import { ErrorCode, isWharfError, toWharfError, WharfError } from '../../src/errors.ts';

const ALL = Object.values(ErrorCode);

/** The table in errors.ts's header: code → retryable. */
function headerTable(): Map<string, boolean> {
  const source = readFileSync(new URL('../../src/errors.ts', import.meta.url), 'utf8');
  const rows = new Map<string, boolean>();
  for (const m of source.matchAll(/^ \* \| ([a-z_]+) +\|.*\| (yes|no) +\|$/gm)) rows.set(m[1] ?? '', m[2] === 'yes');
  return rows;
}

test('the header table lists every code once, and only those', (t) => {
  const table = headerTable();
  t.deepEqual([...table.keys()].sort(), [...ALL].sort());
  t.is(new Set(ALL).size, ALL.length);
});

test('retryable follows the header table', (t) => {
  const table = headerTable();
  for (const code of ALL) {
    t.true(table.has(code), code);
    t.is(new WharfError(code, 'x').retryable, table.get(code) === true, code);
  }
  t.deepEqual(
    ALL.filter((c) => new WharfError(c, 'x').retryable).sort(),
    ['node_isolated', 'not_leader', 'over_limit', 'partition_draining', 'storage_failure', 'throttled', 'timeout', 'unavailable'],
  );
});

test('every code survives the wire', (t) => {
  for (const code of ALL) {
    const err = new WharfError(code, `message for ${code}`);
    const wire = err.toWire();
    t.deepEqual(wire, { code, message: `message for ${code}` });
    t.false('leader' in wire);
    const back = WharfError.fromWire(JSON.parse(JSON.stringify(wire)));
    t.true(back instanceof WharfError);
    t.is(back.code, code);
    t.is(back.message, err.message);
    t.is(back.leader, undefined);
    t.is(back.retryable, err.retryable);
  }
});

test('not_leader carries the leader across the wire', (t) => {
  const err = new WharfError(ErrorCode.NotLeader, 'elsewhere', { leader: 'node-2' });
  t.deepEqual(err.toWire(), { code: 'not_leader', message: 'elsewhere', leader: 'node-2' });
  const back = WharfError.fromWire(err.toWire());
  t.is(back.leader, 'node-2');
  t.is(WharfError.fromWire({ code: 'not_leader', message: 'm', leader: 5 }).leader, undefined, 'a non-string leader is dropped');
});

test('throttled carries its retry-after hint across the wire', (t) => {
  const err = new WharfError(ErrorCode.Throttled, 'slow down', { retryAfterMs: 120 });
  t.deepEqual(err.toWire(), { code: 'throttled', message: 'slow down', retryAfterMs: 120 });
  t.is(WharfError.fromWire(err.toWire()).retryAfterMs, 120);
  t.is(WharfError.fromWire({ code: 'throttled', message: 'm', retryAfterMs: '5' }).retryAfterMs, undefined, 'a non-number hint is dropped');
});

test('unknown or malformed wire errors become internal', (t) => {
  const bad: unknown[] = [
    undefined,
    null,
    'storage_failure',
    42,
    [],
    {},
    { code: 'no_such_code', message: 'm' },
    { code: 'STORAGE_FAILURE', message: 'm' },
    { code: 'storage_failure' },
    { code: 'storage_failure', message: 5 },
    { code: 'toString', message: 'm' },
    { code: '__proto__', message: 'm' },
  ];
  for (const e of bad) {
    const err = WharfError.fromWire(e);
    t.is(err.code, ErrorCode.Internal, JSON.stringify(e));
    t.false(err.retryable);
  }
});

test('WharfError is an Error with its name, code and cause', (t) => {
  const cause = new Error('root');
  const err = new WharfError(ErrorCode.Timeout, 'slow', { cause });
  t.true(err instanceof Error);
  t.is(err.name, 'WharfError');
  t.is(err.cause, cause);
  t.true(isWharfError(err));
  t.true(isWharfError(err, ErrorCode.Timeout));
  t.false(isWharfError(err, ErrorCode.Internal));
  t.false(isWharfError(new Error('x')));
  t.false(isWharfError({ code: 'timeout', message: 'x' }));
});

test('toWharfError keeps WharfErrors and wraps anything else as internal', (t) => {
  const err = new WharfError(ErrorCode.OverLimit, 'full');
  t.is(toWharfError(err), err);
  const plain = new Error('boom');
  const wrapped = toWharfError(plain);
  t.is(wrapped.code, ErrorCode.Internal);
  t.is(wrapped.message, 'boom');
  t.is(wrapped.cause, plain);
  t.is(toWharfError('text').message, 'text');
  t.is(toWharfError(undefined).code, ErrorCode.Internal);
});
