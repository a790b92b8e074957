/**
 * What a FIFO consumer must be (docs/api.md, "FIFO queues"): it handles the messages of a receive
 * in order and deletes each once handled; when a delete fails it leaves that group's later messages
 * of the receive alone, since they come again after the failed one. A consumer that went on
 * deleting them would see the failed message come back after later ones: its own doing, not the
 * queue's.
 */
import type { WharfClient } from '../../src/client/client.ts';
import type { ReceivedMessage } from '../../src/protocol/messages.ts';

export interface FifoConsumerEvents {
  /** A message about to be handled; `asked`: when the receive that brought it was sent, ms. */
  delivered(message: ReceivedMessage, asked: number): void;
  /** Its delete was acknowledged. */
  deleted?(message: ReceivedMessage): void;
}

/** Receives (long polls of 1 s, up to 10 messages) and deletes while `running()` says so. */
export async function consumeFifo(client: WharfClient, queue: string, running: () => boolean, on: FifoConsumerEvents): Promise<void> {
  while (running()) {
    const asked = Date.now();
    const got = await client.receive(queue, { maxMessages: 10, waitTimeSeconds: 1 }).catch(() => []);
    const failed = new Set<string>();
    for (const m of got) {
      const group = m.messageGroupId ?? '';
      if (failed.has(group)) continue;
      on.delivered(m, asked);
      const ok = await client.deleteMessage(queue, m.receiptHandle).then(
        () => true,
        () => false,
      );
      if (ok) on.deleted?.(m);
      else failed.add(group);
    }
  }
}
