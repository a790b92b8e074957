/** SQS's rules on message attributes (src/protocol/message-attributes.ts), each with its typed error. */
import test from 'ava';
import { ErrorCode, WharfError } from '../../src/errors.ts';
import { LIMITS } from '../../src/protocol/limits.ts';
import { checkMessageAttributes } from '../../src/protocol/message-attributes.ts';
import type { AttributeValue, MessageAttributes } from '../../src/protocol/messages.ts';

const str = (value: string): AttributeValue => ({ type: 'string', value });
const num = (value: string): AttributeValue => ({ type: 'number', value });

function refused(t: import('ava').ExecutionContext, attributes: MessageAttributes, message?: RegExp): void {
  const err = t.throws(() => checkMessageAttributes(attributes), { instanceOf: WharfError }, JSON.stringify(attributes).slice(0, 60));
  t.is(err?.code, ErrorCode.InvalidMessageAttribute);
  if (message) t.regex(err?.message ?? '', message);
}

test('attributes within the rules pass', (t) => {
  t.notThrows(() => checkMessageAttributes(undefined));
  t.notThrows(() =>
    checkMessageAttributes({
      'Trace.Id-1_x': str('é 😀\ttab\nline'),
      ['n'.repeat(256)]: num('-12.5e3'),
      big: num('1e126'),
      small: num('-1e128'),
      precise: num(`0.${'1'.repeat(38)}`),
      padded: num(`000${'9'.repeat(38)}000`),
      blob: { type: 'binary', value: new Uint8Array([0]) },
    }),
  );
  t.notThrows(() => checkMessageAttributes(Object.fromEntries(Array.from({ length: LIMITS.maxMessageAttributes }, (_, i) => [`a${i}`, str('v')]))));
});

test('more than 10 attributes are refused', (t) => {
  refused(t, Object.fromEntries(Array.from({ length: LIMITS.maxMessageAttributes + 1 }, (_, i) => [`a${i}`, str('v')])), /at most 10/);
});

test('names: 1-256 of A-Z a-z 0-9 _ - ., no leading, trailing or doubled period, no AWS./Amazon. prefix', (t) => {
  for (const name of ['', 'n'.repeat(257), 'a b', 'a*b', 'é', 'a/b', '.a', 'a.', 'a..b', 'AWS.x', 'aws.x', 'Amazon.x', 'amazon.x']) {
    refused(t, { [name]: str('v') });
  }
  t.notThrows(() => checkMessageAttributes({ 'AWSx.y': str('v'), 'Amazonia': str('v') }));
});

test('values are never empty', (t) => {
  refused(t, { a: str('') }, /empty/);
  refused(t, { a: num('') }, /empty/);
  refused(t, { a: { type: 'binary', value: new Uint8Array(0) } }, /empty/);
});

test('string values hold only characters SQS allows', (t) => {
  for (const value of ['\u0000', 'a\u0001', '\u001f', '\uFFFE', '\uFFFF', 'lone \uD800 surrogate']) refused(t, { a: str(value) }, /character/);
});

test('numbers: decimal, at most 38 significant digits, from -10^128 to 10^126', (t) => {
  for (const value of ['twelve', '1.', '.5', '+1', '1e', '0x10', ' 1', 'NaN', 'Infinity']) refused(t, { a: num(value) }, /not a decimal/);
  refused(t, { a: num('1'.repeat(39)) }, /38 significant/);
  refused(t, { a: num(`1.${'0'.repeat(37)}1`) }, /38 significant/);
  refused(t, { a: num('1e127') }, /10\^126/);
  refused(t, { a: num('-1e129') }, /10\^128/);
});
