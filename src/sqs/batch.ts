/** SQS's rules for the entries of a batch request, and its shape of a failed entry. */
import type { BatchEntryFailure } from '../protocol/messages.ts';
import { SqsError, sqsCodeOf } from './errors.ts';
import { objectList, requiredString, type Input } from './input.ts';

/** SQS's entries per batch. */
export const MAX_BATCH_ENTRIES = 10;
const ENTRY_ID = /^[A-Za-z0-9_-]{1,80}$/;

export interface SqsBatchFailure {
  Id: string;
  Code: string;
  Message: string;
  SenderFault: boolean;
}

/** A batch's entries with their ids checked: present, well formed, distinct, 1 to 10 of them. */
export function batchEntries(input: Input): Array<Input & { Id: string }> {
  const entries = objectList(input, 'Entries');
  if (entries.length === 0) throw new SqsError('EmptyBatchRequest', 'There should be at least one entry in the request.');
  if (entries.length > MAX_BATCH_ENTRIES) {
    throw new SqsError('TooManyEntriesInBatchRequest', `Maximum number of entries per request are ${MAX_BATCH_ENTRIES}. You have sent ${entries.length}.`);
  }
  const seen = new Set<string>();
  return entries.map((entry) => {
    const id = requiredString(entry, 'Id');
    if (!ENTRY_ID.test(id)) throw new SqsError('InvalidBatchEntryId', `A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.`);
    if (seen.has(id)) throw new SqsError('BatchEntryIdsNotDistinct', `Id ${id} repeated.`);
    seen.add(id);
    return { ...entry, Id: id };
  });
}

/** An entry refused before it reached Wharf. */
export function refused(id: string, err: unknown): SqsBatchFailure {
  if (!(err instanceof SqsError)) throw err;
  return { Id: id, Code: err.code, Message: err.message, SenderFault: err.fault === 'Sender' };
}

/** An entry Wharf refused. */
export function failedEntry(f: BatchEntryFailure): SqsBatchFailure {
  return { Id: f.id, Code: sqsCodeOf(f.code), Message: f.message, SenderFault: f.senderFault };
}
