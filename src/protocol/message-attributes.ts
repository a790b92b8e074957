/**
 * Message attributes: SQS's rules, checked for every message a client sends (the codec checks only
 * their shape). A message that breaks one is refused with `invalid_message_attribute`; in a batch,
 * only that entry fails.
 *
 * - at most 10 attributes per message;
 * - a name is 1–256 of `A–Z a–z 0–9 _ - .`, case-sensitive, neither starting nor ending with `.`,
 *   without `..`, and not starting with `AWS.` or `Amazon.` (any case): those are SQS's own;
 * - a value is never empty;
 * - a string value holds only characters XML allows (tab, line feed, carriage return, U+0020 on,
 *   no lone surrogates, no U+FFFE or U+FFFF);
 * - a number value is a decimal (`-12`, `3.5`, `6.02e23`) of at most 38 significant digits, from
 *   -10^128 to 10^126.
 */
import { ErrorCode, WharfError } from '../errors.ts';
import { LIMITS } from './limits.ts';
import type { AttributeValue, MessageAttributes } from './messages.ts';

const NAME = /^[A-Za-z0-9_.-]{1,256}$/;
const RESERVED = /^(aws|amazon)\./i;
const NUMBER = /^-?(\d+)(?:\.(\d+))?(?:[eE][-+]?\d+)?$/;
// Lone surrogates are matched as such because the pattern is a `u` regex over code points.
const NOT_XML = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;
const MAX_DIGITS = 38;

const fail = (message: string) => new WharfError(ErrorCode.InvalidMessageAttribute, message);
const shown = (s: string) => JSON.stringify(s.slice(0, 64));

function checkName(name: string): void {
  if (!NAME.test(name)) throw fail(`message attribute name ${shown(name)} must be 1-256 of A-Z a-z 0-9 _ - .`);
  if (name.startsWith('.') || name.endsWith('.') || name.includes('..')) {
    throw fail(`message attribute name ${shown(name)} may not start or end with a period, nor hold two in a row`);
  }
  if (RESERVED.test(name)) throw fail(`message attribute name ${shown(name)} uses a reserved prefix (AWS. or Amazon.)`);
}

function checkNumber(name: string, value: string): void {
  const match = NUMBER.exec(value);
  if (match === null) throw fail(`message attribute ${shown(name)}: ${shown(value)} is not a decimal number`);
  const digits = `${match[1] ?? ''}${match[2] ?? ''}`.replace(/^0+/, '').replace(/0+$/, '');
  if (digits.length > MAX_DIGITS) {
    throw fail(`message attribute ${shown(name)}: a number has at most ${MAX_DIGITS} significant digits`);
  }
  const n = Number(value);
  if (!(n >= -1e128 && n <= 1e126)) throw fail(`message attribute ${shown(name)}: a number must be from -10^128 to 10^126`);
}

function checkValue(name: string, a: AttributeValue): void {
  if (a.value.length === 0) throw fail(`message attribute ${shown(name)} has an empty value`);
  if (a.type === 'number') checkNumber(name, a.value);
  else if (a.type === 'string' && NOT_XML.test(a.value)) {
    throw fail(`message attribute ${shown(name)}: the string holds a character SQS does not allow (a control character or a lone surrogate)`);
  }
}

/** Checks a message's attributes against SQS's rules; throws `invalid_message_attribute`. */
export function checkMessageAttributes(attributes: MessageAttributes | undefined): void {
  if (attributes === undefined) return;
  const entries = Object.entries(attributes);
  if (entries.length > LIMITS.maxMessageAttributes) {
    throw fail(`a message has at most ${LIMITS.maxMessageAttributes} attributes, this one has ${entries.length}`);
  }
  for (const [name, value] of entries) {
    checkName(name);
    checkValue(name, value);
  }
}
