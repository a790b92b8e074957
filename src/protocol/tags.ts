/**
 * Queue tags: SQS's rules, checked wherever tags come in (CreateQueue, TagQueue, UntagQueue) and
 * where they are read back from the metadata. Keys are case-sensitive: `Env` and `env` are two tags.
 *
 * - at most 50 tags per queue;
 * - a key is 1–128 characters, a value 0–256 (Unicode characters, not bytes);
 * - both use letters, digits, white space and `_ . : / = + - @` only (AWS's tag alphabet);
 * - keys starting with `aws:` (any case) are reserved, as in AWS.
 */
import { ErrorCode, WharfError } from '../errors.ts';
import { LIMITS } from './limits.ts';
import type { QueueTags } from './messages.ts';

const ALPHABET = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;

const length = (s: string) => [...s].length;
const shown = (s: string) => JSON.stringify(s.slice(0, 64));

/** Checks one tag key; throws `invalid_tag`. */
export function checkTagKey(key: string): void {
  if (length(key) < 1 || length(key) > LIMITS.maxTagKeyLength) {
    throw new WharfError(ErrorCode.InvalidTag, `tag key ${shown(key)} must be 1-${LIMITS.maxTagKeyLength} characters`);
  }
  if (!ALPHABET.test(key)) {
    throw new WharfError(ErrorCode.InvalidTag, `tag key ${shown(key)} may hold letters, digits, spaces and _ . : / = + - @ only`);
  }
  if (key.toLowerCase().startsWith('aws:')) {
    throw new WharfError(ErrorCode.InvalidTag, `tag key ${shown(key)} uses the reserved prefix aws:`);
  }
}

function checkTagValue(key: string, value: string): void {
  if (length(value) > LIMITS.maxTagValueLength) {
    throw new WharfError(ErrorCode.InvalidTag, `the value of tag ${shown(key)} is longer than ${LIMITS.maxTagValueLength} characters`);
  }
  if (!ALPHABET.test(value)) {
    throw new WharfError(ErrorCode.InvalidTag, `the value of tag ${shown(key)} may hold letters, digits, spaces and _ . : / = + - @ only`);
  }
}

function checkCount(tags: QueueTags): void {
  const n = Object.keys(tags).length;
  if (n > LIMITS.maxQueueTags) {
    throw new WharfError(ErrorCode.TooManyTags, `a queue has at most ${LIMITS.maxQueueTags} tags; this would make ${n}`);
  }
}

/** Checks a whole set of tags (a CreateQueue's, or a record's): every key, value and the count. */
export function checkTags(tags: QueueTags): QueueTags {
  for (const [key, value] of Object.entries(tags)) {
    checkTagKey(key);
    checkTagValue(key, value);
  }
  checkCount(tags);
  return tags;
}

/** The tags after a TagQueue: given keys added or replaced. Throws before anything is changed. */
export function taggedWith(current: QueueTags, added: QueueTags): QueueTags {
  for (const [key, value] of Object.entries(added)) {
    checkTagKey(key);
    checkTagValue(key, value);
  }
  const next = { ...current, ...added };
  checkCount(next);
  return next;
}

/** The tags after an UntagQueue: the given keys removed (absent ones ignored, as SQS does). */
export function untagged(current: QueueTags, keys: readonly string[]): QueueTags {
  for (const key of keys) checkTagKey(key);
  const drop = new Set(keys);
  return Object.fromEntries(Object.entries(current).filter(([key]) => !drop.has(key)));
}
