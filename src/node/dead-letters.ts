/**
 * Dead letters on the node: the effect that moves what the partitions marked (actors/partition/
 * dead-letter.ts) into each queue's dead-letter queue, the cluster's dead-letter queue for sends to
 * queues that do not exist, and the checks of a redrive policy against its DLQ's allow policy.
 *
 * A move is: read the marks of a partition this node serves as primary, store each marked message in
 * the DLQ under a deduplication id made of the source's incarnation, partition and offset, then
 * tell the partition (a replicated op) to drop the message and its mark. A crash or failover between
 * the two steps leaves the mark in place: the next primary's mover stores the message again under
 * the same id, and the DLQ's deduplication (5 minutes) answers with the copy it has.
 */
import { deadLetterDedupId, MAX_ATTEMPTS_KEPT } from '../../actors/partition/dead-letter.ts';
import type { MessageRecord } from '../../actors/partition/records.ts';
import { ErrorCode, WharfError } from '../errors.ts';
import type { Metadata } from '../meta/metadata.ts';
import type { QueueMeta } from '../meta/records.ts';
import type { QueueName } from '../names.ts';
import type { OutgoingMessage, QueueAttributes } from '../protocol/messages.ts';
import { keys } from '../storage/keys.ts';
import { decodeAttempt, decodeMark, decodeMessage } from '../storage/records.ts';
import type { Store } from '../storage/store.ts';
import type { Logger } from './log.ts';
import type { QueueService } from './queue-service.ts';

/** Marks moved per partition and round: one DLQ write and one partition write each. */
const MOVE_BATCH = 256;

export interface DeadLetterMoverDeps {
  store: Store;
  metadata: Metadata;
  self: string;
  service(meta: QueueMeta): QueueService;
  /** Marked messages waiting in this node's replica of the partition while it serves as primary; 0 otherwise. */
  pending(queue: string, partition: number): number;
  now(): number;
  log: Logger;
  intervalMs: number;
}

/** Moves marked messages of the partitions this node serves, one round at a time. */
export function startDeadLetterMover(deps: DeadLetterMoverDeps): { stop(): Promise<void> } {
  let running: Promise<void> | undefined;
  let stopped = false;
  const round = async () => {
    for (const { value: a } of deps.metadata.assignments()) {
      if (stopped) return;
      if (a.primary !== deps.self || deps.pending(a.queue, a.partition) === 0) continue;
      const meta = deps.metadata.queue(a.queue)?.value;
      if (meta === undefined || meta.incarnation !== a.incarnation) continue;
      try {
        await moveMarked(deps, meta, a.partition);
      } catch (err) {
        // The marks stay: the next round tries again (the DLQ may be failing over).
        deps.log.warn({ err, queue: a.queue, partition: a.partition }, 'dead letters not moved yet');
      }
    }
  };
  const timer = setInterval(() => {
    running ??= round().finally(() => {
      running = undefined;
    });
  }, deps.intervalMs);
  timer.unref();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}

/** One batch of one partition's marks: stored in the DLQ, then removed here. */
async function moveMarked(deps: DeadLetterMoverDeps, meta: QueueMeta, partition: number): Promise<void> {
  const queue = meta.name as QueueName;
  const marks = (await deps.store.scan(keys.marks(queue, partition), MOVE_BATCH)).map(([k, v]) => ({ offset: keys.offsetOf(k), mark: decodeMark(v) }));
  if (marks.length === 0) return;
  const values = await deps.store.getMany(marks.map(({ offset }) => keys.message(queue, partition, offset)));
  const dlqName = meta.attributes.redrivePolicy?.deadLetterQueue;
  const dlq = dlqName === undefined ? undefined : deps.metadata.queue(dlqName)?.value;
  const entries: Array<{ record: MessageRecord; dedupId: string }> = [];
  if (dlq === undefined) {
    // The policy or its queue is gone: there is nowhere to keep them, so they are deleted.
    deps.log.warn({ queue, partition, deadLetterQueue: dlqName, messages: marks.length }, 'no dead-letter queue: dead letters deleted');
  } else {
    for (const [i, { offset, mark }] of marks.entries()) {
      const value = values[i];
      if (value === undefined) continue; // purged meanwhile
      const message = decodeMessage(value);
      const attempts = (await deps.store.scan(keys.attemptsOf(queue, partition, offset), MAX_ATTEMPTS_KEPT)).map(([, v]) => decodeAttempt(v));
      // Its message group stays (a FIFO queue's DLQ is FIFO); its TTL and delay were the source's.
      const { expiresAt: _ttl, deadLetter: _earlier, due: _due, ...kept } = message;
      entries.push({
        record: {
          ...kept,
          sentAt: deps.now(),
          deadLetter: { sourceQueue: queue, reason: mark.reason, receiveCount: mark.receiveCount, deadLetteredAt: mark.at, totalAttempts: mark.attempts, attempts },
        },
        dedupId: deadLetterDedupId(meta.incarnation, partition, offset),
      });
    }
    if (entries.length > 0) await deps.service(dlq).storeIdempotent(entries);
  }
  await deps.service(meta).deadLettered(partition, marks.map(({ offset }) => offset));
}

/**
 * A send to a queue that does not exist, with the cluster's dead-letter queue configured: the
 * messages are kept there (reason `unknown-queue`), and the sender still gets `queue_not_found`.
 * A message's own deduplication id makes the copy idempotent; without one a retried send keeps
 * another copy.
 */
export async function deadLetterUnknownQueue(
  dlq: QueueService,
  queue: string,
  messages: readonly OutgoingMessage[],
  newId: () => string,
  now: number,
): Promise<never> {
  const entries = messages.map((m) => {
    const record: MessageRecord = {
      id: newId(),
      body: m.body,
      sentAt: now,
      deadLetter: { sourceQueue: queue, reason: 'unknown-queue', receiveCount: 0, deadLetteredAt: now, totalAttempts: 0, attempts: [] },
    };
    if (m.attributes !== undefined && Object.keys(m.attributes).length > 0) record.attributes = m.attributes;
    return { record, dedupId: m.deduplicationId ?? newId() };
  });
  await dlq.storeIdempotent(entries);
  throw new WharfError(
    ErrorCode.QueueNotFound,
    `queue ${JSON.stringify(queue).slice(0, 100)} does not exist; ${entries.length === 1 ? 'the message was' : `the ${entries.length} messages were`} kept in the dead-letter queue ${dlq.name}`,
  );
}

/**
 * Checks a queue's redrive policy against its dead-letter queue: it must exist, be another queue of
 * the same type (a FIFO queue's DLQ is FIFO, as in SQS, so dead letters keep their message group;
 * a standard queue's is standard), and allow this source (its redriveAllowPolicy). Refusals are
 * typed: `invalid_attribute` for a missing, self or mistyped DLQ, `redrive_not_allowed` for the
 * allow policy.
 */
export function checkRedrivePolicy(metadata: Metadata, source: string, attributes: QueueAttributes): void {
  const policy = attributes.redrivePolicy;
  if (policy === undefined) return;
  if (policy.deadLetterQueue === source) {
    throw new WharfError(ErrorCode.InvalidAttribute, `queue ${source} cannot be its own dead-letter queue`);
  }
  const dlq = metadata.queue(policy.deadLetterQueue)?.value;
  if (dlq === undefined) {
    throw new WharfError(ErrorCode.InvalidAttribute, `the dead-letter queue ${policy.deadLetterQueue} does not exist`);
  }
  if (dlq.attributes.fifo !== attributes.fifo) {
    throw new WharfError(
      ErrorCode.InvalidAttribute,
      attributes.fifo
        ? `the dead-letter queue of FIFO queue ${source} must be a FIFO queue (${dlq.name} is not): dead letters keep their message group`
        : `the dead-letter queue of standard queue ${source} must be a standard queue (${dlq.name} is FIFO)`,
    );
  }
  const allow = dlq.attributes.redriveAllowPolicy ?? { redrivePermission: 'allowAll' };
  const allowed = allow.redrivePermission === 'allowAll' || (allow.redrivePermission === 'byQueue' && (allow.sourceQueues ?? []).includes(source));
  if (!allowed) {
    throw new WharfError(
      ErrorCode.RedriveNotAllowed,
      `queue ${dlq.name} does not allow ${source} to use it as a dead-letter queue (redriveAllowPolicy ${allow.redrivePermission})`,
    );
  }
}
