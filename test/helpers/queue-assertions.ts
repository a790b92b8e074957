/** Small helpers the integration tests share: bodies as text, error assertions, counts, bounded receives. */
import type { ExecutionContext } from 'ava';
import type { WharfClient } from '../../src/client/client.ts';
import { WharfError, type ErrorCode } from '../../src/errors.ts';
import type { QueueCounts, ReceivedMessage } from '../../src/protocol/messages.ts';
import { eventually } from './eventually.ts';

export const text = (bytes: Uint8Array) => Buffer.from(bytes).toString('utf8');
export const bodies = (messages: readonly ReceivedMessage[]) => messages.map((m) => text(m.body));

export async function failsWith(t: ExecutionContext, promise: Promise<unknown>, code: ErrorCode, what?: string): Promise<void> {
  await t.throwsAsync(promise, { instanceOf: WharfError, code }, what);
}

/** The message counts without the oldest message's age, which moves with time: compare with `t.like`. */
export type MessageCounts = Omit<QueueCounts, 'approximateAgeOfOldestMessage' | 'approximateStoredBytes'>;

export function counts(visible: number, notVisible: number, delayed: number): MessageCounts {
  return {
    approximateNumberOfMessages: visible,
    approximateNumberOfMessagesNotVisible: notVisible,
    approximateNumberOfMessagesDelayed: delayed,
    approximateNumberOfMessagesDeadLettered: 0,
  };
}

/** Short-polls until a receive returns something; bounded. */
export function receiveSome(client: WharfClient, queue: string, maxMessages = 1, message = 'a message'): Promise<ReceivedMessage[]> {
  return eventually(
    async () => {
      const got = await client.receive(queue, { maxMessages });
      return got.length > 0 && got;
    },
    { timeoutMs: 10_000, message },
  );
}
