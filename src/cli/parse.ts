/**
 * Parsers of command-line values, for commander's `argParser`. A value they reject is a usage error
 * (exit code 1) reported by commander before anything is sent; ranges come from the same tables
 * the node checks against, so the CLI and the node cannot disagree.
 */
import { InvalidArgumentError } from 'commander';
import { isQueueName, clusterName } from '../names.ts';
import { MESSAGE_GROUP_ID } from '../protocol/limits.ts';
import type { AttributeValue, MessageAttributes } from '../protocol/messages.ts';

/** An integer from `min` to `max` inclusive, written in plain decimal digits. */
export function integerIn(min: number, max: number): (value: string) => number {
  return (value: string) => {
    const n = /^[0-9]+$/.test(value.trim()) ? Number(value.trim()) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`must be an integer from ${min} to ${max}`);
    }
    return n;
  };
}

export function queueNameArg(value: string): string {
  if (!isQueueName(value)) {
    throw new InvalidArgumentError("a queue name is 1-80 characters of A-Z, a-z, 0-9, '-' and '_'");
  }
  return value;
}

export function clusterArg(value: string): string {
  try {
    return clusterName(value);
  } catch {
    throw new InvalidArgumentError("a cluster name is 1-64 characters of A-Z, a-z, 0-9, '-' and '_'");
  }
}

/** `--attr name=value`, repeatable: string message attributes. */
export function attributeArg(value: string, previous: MessageAttributes | undefined): MessageAttributes {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError('an attribute is name=value');
  const name = value.slice(0, eq);
  const attribute: AttributeValue = { type: 'string', value: value.slice(eq + 1) };
  return { ...previous, [name]: attribute };
}

/** `key=value` (value may be empty), repeatable: queue tags. Their rules are checked by the node. */
export function tagArg(value: string, previous: Record<string, string> | undefined): Record<string, string> {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError('a tag is key=value (the value may be empty: key=)');
  return { ...previous, [value.slice(0, eq)]: value.slice(eq + 1) };
}

/** `--group`: a FIFO message group id, 1-128 letters, digits and ASCII punctuation (as the node checks). */
export function groupIdArg(value: string): string {
  if (!MESSAGE_GROUP_ID.test(value)) {
    throw new InvalidArgumentError('a message group id is 1-128 letters, digits and ASCII punctuation, without spaces');
  }
  return value;
}

/** `--dedup-id`: a deduplication id, 1-128 of A-Z a-z 0-9 - _. */
export function dedupIdArg(value: string): string {
  if (!/^[A-Za-z0-9_-]{1,128}$/.test(value)) throw new InvalidArgumentError("a deduplication id is 1-128 of A-Z, a-z, 0-9, '-' and '_'");
  return value;
}
