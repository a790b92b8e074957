/**
 * Message move tasks (redrives) on the node: starting, cancelling and listing them (the API), and
 * running them. Every node runs a worker that looks at the tasks bucket; an active task is run by
 * one node at a time, its owner, which it takes by compare-and-swap when nobody runs it (its owner
 * restarted or went silent: actors/move/move-task.ts). The owner writes the task's progress by CAS
 * after every batch and at least every RENEW_MS, which is also what keeps its ownership.
 *
 * One step of a task: receive up to a batch from the source (a lease, so a crash returns them),
 * store each message in its destination under a deduplication id made of its message id and when
 * it was dead-lettered, delete them from the source, record the progress. A crash between the store
 * and the delete stores them again when their lease runs out, and the destination's deduplication
 * (5 minutes) keeps one copy.
 */
import { randomUUID } from 'node:crypto';
import { allowance, isActive, mayTakeOver, moved, redriveDedupId, type RateWindow } from '../../actors/move/move-task.ts';
import type { MessageRecord } from '../../actors/partition/records.ts';
import { ErrorCode, WharfError } from '../errors.ts';
import type { Metadata } from '../meta/metadata.ts';
import type { MoveTaskStore, StoredMoveTask, VersionedTask } from '../meta/move-task-store.ts';
import type { QueueMeta } from '../meta/records.ts';
import { queueName } from '../names.ts';
import { LIMITS } from '../protocol/limits.ts';
import type { MessageMoveTask, Reply, Request } from '../protocol/messages.ts';
import type { Logger } from './log.ts';
import type { QueueService } from './queue-service.ts';

/** Messages one step moves at most (one receive, one delete batch). */
const BATCH = 100;
/** The owner writes its task at least this often. */
const RENEW_MS = 1000;
/** A task whose record has not changed for this long is taken over by another node. */
const STALE_MS = 5000;
/** How long a moved message stays leased in the source while a step runs, seconds. */
const STEP_VISIBILITY_S = 30;
/** How often the worker looks at the tasks bucket. */
const POLL_MS = 500;

export interface MoveTaskDeps {
  tasks: MoveTaskStore;
  metadata: Metadata;
  self: string;
  boot: string;
  service(meta: QueueMeta): QueueService;
  now(): number;
  log: Logger;
}

const view = ({ ownerBoot: _boot, ...task }: StoredMoveTask): MessageMoveTask => task;

export class MoveTasks {
  private readonly deps: MoveTaskDeps;
  private readonly running = new Map<string, Promise<void>>();
  /** When each task's revision was first seen, by this node's monotonic clock: silence is judged from it. */
  private readonly seen = new Map<string, { revision: number; since: number }>();
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private stopped = false;

  constructor(deps: MoveTaskDeps) {
    this.deps = deps;
  }

  private queue(name: string): QueueMeta {
    const meta = this.deps.metadata.queue(queueName(name))?.value;
    if (!meta) throw new WharfError(ErrorCode.QueueNotFound, `queue ${JSON.stringify(name).slice(0, 100)} does not exist`);
    return meta;
  }

  // ---- the API --------------------------------------------------------------------------------------

  async start(request: Request<'StartMessageMoveTask'>): Promise<Reply<'StartMessageMoveTask'>> {
    const source = this.queue(request.sourceQueue);
    if (request.destinationQueue !== undefined) this.queue(request.destinationQueue);
    const all = await this.deps.tasks.list();
    if (all.some(({ task }) => isActive(task.status) && task.sourceQueue === source.name)) {
      throw new WharfError(ErrorCode.InvalidParameter, `a move task is already running for queue ${source.name}`);
    }
    // Bounded: the oldest finished tasks are forgotten first.
    const finished = all.filter(({ task }) => !isActive(task.status));
    for (const { task } of finished.slice(0, Math.max(0, all.length + 1 - LIMITS.maxMoveTasks))) await this.deps.tasks.remove(task.taskId);
    if (all.length - finished.length >= LIMITS.maxMoveTasks) throw new WharfError(ErrorCode.OverLimit, `${LIMITS.maxMoveTasks} move tasks are running`);
    const counts = await this.deps.service(source).counts();
    const now = this.deps.now();
    const task: StoredMoveTask = {
      taskId: randomUUID(),
      sourceQueue: source.name,
      ...(request.destinationQueue === undefined ? {} : { destinationQueue: request.destinationQueue }),
      ...(request.maxMessagesPerSecond === undefined ? {} : { maxMessagesPerSecond: request.maxMessagesPerSecond }),
      status: 'running',
      moved: 0,
      total: counts.approximateNumberOfMessages + counts.approximateNumberOfMessagesNotVisible + counts.approximateNumberOfMessagesDelayed,
      failures: 0,
      startedAt: now,
      updatedAt: now,
    };
    if ((await this.deps.tasks.put(task, 0)) === undefined) throw new WharfError(ErrorCode.Unavailable, 'move task id collision; retry');
    this.poll();
    return { taskId: task.taskId };
  }

  async cancel({ taskId }: Request<'CancelMessageMoveTask'>): Promise<Reply<'CancelMessageMoveTask'>> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const current = await this.deps.tasks.get(taskId);
      if (!current) throw new WharfError(ErrorCode.TaskNotFound, `no move task ${taskId}`);
      if (current.task.status !== 'running') return { task: view(current.task) };
      // Its runner ends it at its next step, with the exact count of what it moved.
      const task: StoredMoveTask = { ...current.task, status: 'cancelling', updatedAt: this.deps.now() };
      if ((await this.deps.tasks.put(task, current.revision)) !== undefined) return { task: view(task) };
    }
    throw new WharfError(ErrorCode.Unavailable, `move task ${taskId} is changing; retry`);
  }

  /** The source queue of a task, which authorizes its cancellation; undefined when there is no such task. */
  async sourceOf(taskId: string): Promise<string | undefined> {
    return (await this.deps.tasks.get(taskId))?.task.sourceQueue;
  }

  async list({ sourceQueue }: Request<'ListMessageMoveTasks'>): Promise<Reply<'ListMessageMoveTasks'>> {
    if (sourceQueue !== undefined) queueName(sourceQueue); // a malformed name is invalid_name, not an empty list
    const all = await this.deps.tasks.list();
    return { tasks: all.filter(({ task }) => sourceQueue === undefined || task.sourceQueue === sourceQueue).map(({ task }) => view(task)) };
  }

  // ---- the worker -----------------------------------------------------------------------------------

  startWorker(): void {
    this.timer = setInterval(() => this.poll(), POLL_MS);
    this.timer.unref();
    this.poll();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.polling;
    await Promise.all(this.running.values());
  }

  private poll(): void {
    if (this.stopped) return;
    this.polling ??= this.takeOver()
      .catch((err: unknown) => this.deps.log.warn({ err }, 'move tasks: cannot read the tasks'))
      .finally(() => {
        this.polling = undefined;
      });
  }

  /** Takes the active tasks nobody runs. */
  private async takeOver(): Promise<void> {
    const now = performance.now();
    for (const { task, revision } of await this.deps.tasks.list()) {
      const seen = this.seen.get(task.taskId);
      if (seen?.revision !== revision) this.seen.set(task.taskId, { revision, since: now });
      if (!isActive(task.status) || this.running.has(task.taskId) || this.stopped) continue;
      const ownerBoot = task.owner === undefined ? undefined : this.deps.metadata.node(task.owner)?.value.boot;
      const unchanged = now - (this.seen.get(task.taskId)?.since ?? now);
      if (!mayTakeOver(task, { node: this.deps.self, boot: this.deps.boot }, ownerBoot, unchanged, STALE_MS)) continue;
      const mine: StoredMoveTask = { ...task, owner: this.deps.self, ownerBoot: this.deps.boot, updatedAt: this.deps.now() };
      const taken = await this.deps.tasks.put(mine, revision);
      if (taken === undefined) continue;
      this.deps.log.info({ taskId: task.taskId, source: task.sourceQueue, moved: task.moved }, 'move task taken');
      const run = this.run({ task: mine, revision: taken })
        .catch((err: unknown) => this.deps.log.warn({ err, taskId: task.taskId }, 'move task stopped'))
        .finally(() => this.running.delete(task.taskId));
      this.running.set(task.taskId, run);
    }
  }

  /** Runs a task this node owns until it ends, is cancelled, or another node took it. */
  private async run(start: VersionedTask): Promise<void> {
    let current = start;
    let window: RateWindow = { start: 0, moved: 0 };
    let lastWrite = performance.now();
    /** Writes the task by CAS; false when it changed under us (a cancel, or another owner). */
    const write = async (change: Partial<StoredMoveTask>): Promise<boolean> => {
      const next: StoredMoveTask = { ...current.task, ...change, updatedAt: this.deps.now() };
      const revision = await this.deps.tasks.put(next, current.revision);
      if (revision === undefined) return false;
      current = { task: next, revision };
      lastWrite = performance.now();
      return true;
    };
    /** After a lost CAS: carry on only while the task is still ours; a cancel is honoured. */
    const reread = async (): Promise<boolean> => {
      const fresh = await this.deps.tasks.get(current.task.taskId);
      if (!fresh || fresh.task.owner !== this.deps.self || fresh.task.ownerBoot !== this.deps.boot) return false;
      current = fresh;
      return true;
    };
    while (!this.stopped) {
      if (current.task.status === 'cancelling') {
        if ((await write({ status: 'cancelled' })) || !(await reread())) return;
        continue;
      }
      if (current.task.status !== 'running') return;
      const now = performance.now();
      const allowed = allowance(current.task.maxMessagesPerSecond, window, now, BATCH);
      window = allowed.window;
      let movedNow = 0;
      let wait = allowed.waitMs;
      if (allowed.allowed > 0) {
        const step = await this.step(current.task, allowed.allowed).catch((err: unknown) => ({ moved: 0, done: false, error: String((err as Error).message ?? err) }));
        movedNow = step.moved;
        window = moved(window, step.moved);
        if (step.error !== undefined) {
          if ((await write({ status: 'failed', lastError: step.error, moved: current.task.moved + movedNow, failures: current.task.failures + 1 })) || !(await reread())) return;
          continue;
        }
        if (step.done) {
          if ((await write({ status: 'completed', moved: current.task.moved + movedNow })) || !(await reread())) return;
          continue;
        }
        if (step.moved === 0) wait = 200; // nothing receivable now (in flight elsewhere): look again shortly
      }
      if (movedNow > 0 || performance.now() - lastWrite >= RENEW_MS) {
        if (!(await write({ moved: current.task.moved + movedNow }))) {
          // Progress of this step is lost from the count only if the task is no longer ours.
          if (!(await reread())) return;
          if (movedNow > 0 && !(await write({ moved: current.task.moved + movedNow })) && !(await reread())) return;
        }
      }
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(wait, RENEW_MS)));
    }
  }

  /**
   * A message keeps its message group when it moves to a FIFO queue (its order there is its group's),
   * and leaves it behind on a standard one. A message without a group cannot go to a FIFO queue:
   * the refusal, or undefined.
   */
  private placeGroup(record: MessageRecord, group: string | undefined, destination: string): string | undefined {
    if (this.queue(destination).attributes.fifo !== true) return undefined;
    if (group === undefined) return `FIFO queue ${destination} needs a message group, and the message has none`;
    record.group = group;
    return undefined;
  }

  /** Moves up to `max` messages; `done` when the source has nothing left. */
  private async step(task: StoredMoveTask, max: number): Promise<{ moved: number; done: boolean; error?: string }> {
    const source = this.deps.service(this.queue(task.sourceQueue));
    const messages = await source.receive({
      queue: task.sourceQueue,
      maxMessages: max,
      waitTimeSeconds: 0,
      visibilityTimeout: STEP_VISIBILITY_S,
      consumer: `move-task:${task.taskId}`,
    });
    if (messages.length === 0) {
      const c = await source.counts();
      return { moved: 0, done: c.approximateNumberOfMessages + c.approximateNumberOfMessagesNotVisible + c.approximateNumberOfMessagesDelayed === 0 };
    }
    const byDestination = new Map<string, Array<{ record: MessageRecord; dedupId: string }>>();
    for (const m of messages) {
      const destination = task.destinationQueue ?? m.deadLetter?.sourceQueue;
      const record: MessageRecord = { id: m.messageId, body: m.body, sentAt: this.deps.now() };
      if (Object.keys(m.attributes).length > 0) record.attributes = m.attributes;
      const refusal =
        destination === undefined
          ? 'no destination (not a dead letter, and the task names none)'
          : this.deps.metadata.queue(destination) === undefined
            ? `queue ${destination} does not exist`
            : this.placeGroup(record, m.messageGroupId, destination);
      if (destination === undefined || refusal !== undefined) {
        // Nowhere to go: the task stops here and the messages become receivable again.
        await source.changeVisibilityBatch(messages.map((x, i) => ({ id: String(i), receiptHandle: x.receiptHandle, visibilityTimeout: 0 })));
        return { moved: 0, done: false, error: `message ${m.messageId}: ${refusal}` };
      }
      byDestination.set(destination, [...(byDestination.get(destination) ?? []), { record, dedupId: redriveDedupId(m.messageId, m.deadLetter?.deadLetteredAt ?? m.sentAt) }]);
    }
    for (const [destination, entries] of byDestination) await this.deps.service(this.queue(destination)).storeIdempotent(entries);
    const deleted = await source.deleteBatch(messages.map((m, i) => ({ id: String(i), receiptHandle: m.receiptHandle })));
    return { moved: deleted.successful.length, done: false };
  }
}
