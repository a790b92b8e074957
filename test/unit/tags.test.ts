/** SQS's rules on queue tags (src/protocol/tags.ts), each with its typed error. */
import test from 'ava';
import { ErrorCode, WharfError } from '../../src/errors.ts';
import { LIMITS } from '../../src/protocol/limits.ts';
import { checkTags, taggedWith, untagged } from '../../src/protocol/tags.ts';

const codeOf = (fn: () => unknown) => (t: import('ava').ExecutionContext) => t.throws(fn, { instanceOf: WharfError })?.code;
const many = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, '']));

test('valid tags pass: keys 1-128, values 0-256 characters (not bytes), the tag alphabet', (t) => {
  t.deepEqual(checkTags({ ['é'.repeat(128)]: 'ü'.repeat(256), 'a b_.:/=+-@9': '' }), { ['é'.repeat(128)]: 'ü'.repeat(256), 'a b_.:/=+-@9': '' });
  t.notThrows(() => checkTags(many(LIMITS.maxQueueTags)));
});

test('keys and values breaking the rules are invalid_tag', (t) => {
  for (const tags of [{ '': 'v' }, { ['k'.repeat(129)]: 'v' }, { k: 'v'.repeat(257) }, { 'a*b': 'v' }, { k: 'a;b' }, { 'aws:x': 'v' }, { 'Aws:x': 'v' }]) {
    t.is(codeOf(() => checkTags(tags))(t), ErrorCode.InvalidTag, JSON.stringify(tags).slice(0, 40));
  }
  t.is(codeOf(() => untagged({}, ['']))(t), ErrorCode.InvalidTag);
});

test('more than 50 tags are too_many_tags, counted after a TagQueue merged its tags', (t) => {
  t.is(codeOf(() => checkTags(many(LIMITS.maxQueueTags + 1)))(t), ErrorCode.TooManyTags);
  t.is(codeOf(() => taggedWith(many(LIMITS.maxQueueTags), { extra: '' }))(t), ErrorCode.TooManyTags);
  t.is(Object.keys(taggedWith(many(LIMITS.maxQueueTags), { k0: 'new' })).length, LIMITS.maxQueueTags, 'a replaced key is not a new tag');
});

test('TagQueue merges case-sensitively; UntagQueue removes the keys it names and ignores the others', (t) => {
  t.deepEqual(taggedWith({ Env: 'a' }, { env: 'b', Env: 'c' }), { Env: 'c', env: 'b' });
  t.deepEqual(untagged({ Env: 'a', env: 'b' }, ['env', 'missing']), { Env: 'a' });
});
