/**
 * Authorization as pure logic (src/security/policy.ts, src/security/access.ts): what each action
 * needs, how grants, prefixes and tenants match, and the audit lines the access check writes.
 */
import { Writable } from 'node:stream';
import test from 'ava';
import fc from 'fast-check';
import { pino } from 'pino';
import { ErrorCode, isWharfError } from '../../src/errors.ts';
import type { PrincipalStore } from '../../src/meta/principal-store.ts';
import { ACTIONS, PERMISSIONS, type PrincipalPolicy } from '../../src/protocol/messages.ts';
import { checkedAccess } from '../../src/security/access.ts';
import { permits, requirements, sees, tenantOf, type Requirement } from '../../src/security/policy.ts';

const alice: PrincipalPolicy = { name: 'alice', tenant: 'acme', grants: [{ queues: 'orders-*', permissions: ['send', 'receive'] }, { queues: 'audit', permissions: ['peek'] }] };
const ops: PrincipalPolicy = { name: 'ops', grants: [{ queues: '*', permissions: ['peek', 'attributes'] }] };

test('a tenant principal reaches only its namespace, with patterns read inside it', (t) => {
  t.true(permits(alice, { permission: 'send', queue: 'acme_orders-1' }));
  t.true(permits(alice, { permission: 'peek', queue: 'acme_audit' }));
  t.false(permits(alice, { permission: 'peek', queue: 'acme_audit2' }), 'an exact pattern is no prefix');
  t.false(permits(alice, { permission: 'purge', queue: 'acme_orders-1' }), 'a permission not granted');
  t.false(permits(alice, { permission: 'send', queue: 'orders-1' }), 'outside the namespace');
  t.false(permits(alice, { permission: 'send', queue: 'globex_orders-1' }), "another tenant's queue");
  t.false(permits(alice, { permission: 'send', queue: 'acmeX_orders-1' }));
  t.false(permits(alice, { permission: 'admin' }), 'no admin');
  t.true(sees(alice, 'acme_orders-9'));
  t.false(sees(alice, 'acme_other'));
  t.false(sees(alice, 'globex_orders-1'));
  t.is(tenantOf('acme_orders_2'), 'acme');
  t.is(tenantOf('orders'), undefined);
  t.is(tenantOf('_x'), undefined);
});

test('no policy is allowed nothing; an admin is allowed everything', (t) => {
  t.false(permits(undefined, { permission: 'send', queue: 'q' }));
  t.false(sees(undefined, 'q'));
  const admin: PrincipalPolicy = { name: 'root', admin: true, grants: [] };
  for (const permission of PERMISSIONS) t.true(permits(admin, { permission, queue: 'any_thing' }));
  t.true(permits(admin, { permission: 'admin' }));
  t.true(permits(ops, { permission: 'peek', queue: 'globex_orders' }), 'a principal without tenant crosses tenants when granted');
});

test('a tenant principal never reaches another tenant, whatever its grants say', (t) => {
  const pattern = fc.stringMatching(/^[A-Za-z0-9_-]{0,12}\*?$/).filter((p) => p !== '');
  const queue = fc.stringMatching(/^[A-Za-z0-9_-]{1,20}$/);
  fc.assert(
    fc.property(fc.array(pattern, { maxLength: 5 }), queue, fc.constantFrom(...PERMISSIONS), (patterns, q, permission) => {
      const policy: PrincipalPolicy = { name: 'p', tenant: 'acme', grants: patterns.map((queues) => ({ queues, permissions: [...PERMISSIONS] })) };
      if (permits(policy, { permission, queue: q }) || sees(policy, q)) return q.startsWith('acme_');
      return true;
    }),
  );
  t.pass('checked by fast-check');
});

test('every action needs something on its queue, but ListQueues and WhoAmI; queues named inside a request count', (t) => {
  for (const action of ACTIONS) {
    const needs = requirements(action, { queue: 'q', sourceQueue: 'q', name: 'x', policy: { name: 'x', grants: [] }, taskId: 't' } as never);
    if (action === 'ListQueues' || action === 'WhoAmI') t.deepEqual(needs, [], action);
    else t.true(needs.length > 0, action);
  }
  t.deepEqual(requirements('CreateQueue', { queue: 'a_q', attributes: { redrivePolicy: { deadLetterQueue: 'b_dlq', maxReceiveCount: 3 } } }), [
    { permission: 'create', queue: 'a_q' },
    { permission: 'send', queue: 'b_dlq' },
  ]);
  t.deepEqual(requirements('StartMessageMoveTask', { sourceQueue: 'a_dlq', destinationQueue: 'b_q' }), [
    { permission: 'admin', queue: 'a_dlq' },
    { permission: 'send', queue: 'b_q' },
  ]);
  t.deepEqual(requirements('PutPrincipal', { policy: { name: 'x', grants: [] } }), [{ permission: 'admin' }]);
});

test('move tasks are administered with their source queue: no global admin needed', (t) => {
  const globex: PrincipalPolicy = { name: 'bob', tenant: 'globex', grants: [{ queues: 'dlq', permissions: ['admin'] }] };
  t.deepEqual(requirements('CancelMessageMoveTask', { taskId: 't' }, { taskSource: 'globex_dlq' }), [{ permission: 'admin', queue: 'globex_dlq' }]);
  t.deepEqual(requirements('ListMessageMoveTasks', { sourceQueue: 'globex_dlq' }), [{ permission: 'admin', queue: 'globex_dlq' }]);
  t.deepEqual(requirements('ListMessageMoveTasks', {}), [], 'the answer is filtered instead');
  for (const need of [...requirements('CancelMessageMoveTask', { taskId: 't' }, { taskSource: 'globex_dlq' }), ...requirements('ListMessageMoveTasks', { sourceQueue: 'globex_dlq' })]) {
    t.true(permits(globex, need));
    t.false(permits(alice, need));
  }
  // An unknown task (no source known) needs an admin principal: only an admin learns it is not there.
  const unknown = requirements('CancelMessageMoveTask', { taskId: 't' });
  t.deepEqual(unknown, [{ permission: 'admin' }]);
  t.false(permits(globex, unknown[0] as Requirement));
  t.false(permits({ ...globex, grants: [{ queues: '*', permissions: ['admin'] }] }, requirements('CancelMessageMoveTask', { taskId: 't' }, { taskSource: 'acme_dlq' })[0] as Requirement));
});

test('the access check refuses with access_denied and writes one audit line per refusal and per change', (t) => {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  const store = { get: (name: string) => (name === 'alice' ? alice : undefined) } as unknown as PrincipalStore;
  const access = checkedAccess(store, ['root'], pino({ level: 'info' }, sink));
  access.authorize('alice', 'SendMessage', { queue: 'acme_orders-1', body: new Uint8Array() });
  const err = t.throws(() => access.authorize('alice', 'PurgeQueue', { queue: 'globex_orders' }));
  t.true(isWharfError(err, ErrorCode.AccessDenied));
  t.regex(err?.message ?? '', /alice may not PurgeQueue \(needs purge on queue globex_orders\)/);
  t.throws(() => access.authorize('mallory', 'ListPrincipals', {}));
  access.authorize('root', 'DeleteQueue', { queue: 'globex_orders' });
  access.done('root', 'DeleteQueue', { queue: 'globex_orders' });
  access.done('alice', 'SendMessage', { queue: 'acme_orders-1', body: new Uint8Array() });
  t.like(access.policy('root'), { admin: true });
  t.is(lines.length, 3);
  t.like(lines[0], { component: 'audit', audit: 'denied', principal: 'alice', action: 'PurgeQueue', target: 'globex_orders', permission: 'purge', level: 40 });
  t.like(lines[1], { component: 'audit', audit: 'denied', principal: 'mallory', action: 'ListPrincipals', permission: 'admin' });
  t.like(lines[2], { component: 'audit', audit: 'admin', principal: 'root', action: 'DeleteQueue', target: 'globex_orders', level: 30 });
});
