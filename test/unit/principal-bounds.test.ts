/**
 * The per-principal bounds (src/node/principal-bounds.ts) as pure bookkeeping: who a request counts
 * against, refusals naming the setting, and slots freed exactly once.
 */
import test from 'ava';
import { ErrorCode, isWharfError } from '../../src/errors.ts';
import { boundKey, PrincipalBounds } from '../../src/node/principal-bounds.ts';

test('with authorization on a request counts against its principal, else against its connection inbox', (t) => {
  t.is(boundKey(true, 'alice', '_INBOX_alice.abc.7'), 'principal alice');
  t.is(boundKey(false, 'anonymous', '_INBOX.Xk2.13'), 'connection _INBOX.Xk2');
  t.is(boundKey(false, 'anonymous', '_INBOX.Xk2.14'), boundKey(false, 'anonymous', '_INBOX.Xk2.15'), "one connection's requests share a key");
  t.not(boundKey(false, 'anonymous', '_INBOX.Xk2.14'), boundKey(false, 'anonymous', '_INBOX.Yz9.14'));
  t.is(boundKey(false, 'anonymous', '_INBOX.single'), 'connection _INBOX.single', 'a reply outside the shared inbox is its own');
});

test('past a bound the request is refused with over_limit naming the setting; every release counts once', (t) => {
  const bounds = new PrincipalBounds({ maxPending: 3, maxWaiters: 2 });
  const a = [bounds.enter('principal a'), bounds.enter('principal a'), bounds.enter('principal a')];
  const err = t.throws(() => bounds.enter('principal a'));
  t.true(isWharfError(err, ErrorCode.OverLimit));
  t.regex(err?.message ?? '', /principal a has 3 requests outstanding.*WHARF_MAX_PENDING_PER_PRINCIPAL/);
  t.notThrows(() => bounds.enter('principal b').release(), 'another principal is not affected');
  a[0]?.wait();
  a[1]?.wait();
  const waiting = t.throws(() => a[2]?.wait());
  t.regex(waiting?.message ?? '', /principal a has 2 long polls waiting.*WHARF_MAX_WAITERS_PER_PRINCIPAL/);
  t.deepEqual(bounds.holding('principal a'), { pending: 3, waiters: 2 });
  a[0]?.release();
  a[0]?.release();
  t.deepEqual(bounds.holding('principal a'), { pending: 2, waiters: 1 }, 'a second release frees nothing');
  a[1]?.release();
  a[2]?.release();
  t.is(bounds.size, 0, 'a principal without outstanding requests takes no memory');
});
