/**
 * A stream consumer: a member of a consumer group of a stream (a queue with mode 'stream'). It
 * joins the group, reads the partitions the group assigns it from their committed offsets, runs the
 * handler on each message in offset order, and commits its positions (after each batch with
 * `autoCommit`, or when `commit()` is called). It heartbeats within its session timeout; when the
 * group's generation changes (a member joined or left) it takes the new assignment and reads each
 * partition from its committed offset again.
 *
 * Delivery is at least once: what a member handled but had not committed when its partitions moved
 * is read again by their next owner. A commit of an older generation is refused (stale_generation),
 * so a member that lost its partitions never moves their offsets back.
 */
import { ErrorCode, isWharfError } from '../errors.ts';
import type { GroupAssignment, StreamMessage } from '../protocol/messages.ts';
import type { WharfClient } from './client.ts';

export type StreamHandler = (message: StreamMessage & { partition: number }) => Promise<void> | void;

export interface StreamConsumerOptions {
  /** The consumer group (1–80 of A-Z a-z 0-9 - _). */
  group: string;
  /** Commit after each handled batch. @default true */
  autoCommit?: boolean;
  /** Where a partition without a committed offset is read from. @default 'earliest' */
  startFrom?: 'earliest' | 'latest';
  /** The member leaves the group when silent for longer, ms (1,000–300,000). @default 10000 */
  sessionTimeoutMs?: number;
  /** Messages per read. @default 100 */
  maxMessages?: number;
  /** Called when a handler throws (the message is handled again) or a request fails. */
  onError?: (err: unknown, message?: StreamMessage & { partition: number }) => void;
  /** Called with the member's partitions whenever its assignment changes. */
  onAssign?: (partitions: number[], generation: number) => void;
}

/** Longest wait of one read when nothing is readable (it also bounds how late a rebalance is noticed). */
const READ_WAIT_SECONDS = 1;
const RETRY_MS = 200;

export class StreamConsumer {
  private readonly client: WharfClient;
  private readonly queue: string;
  private readonly handler: StreamHandler;
  private readonly options: StreamConsumerOptions;
  private running = true;
  private member: GroupAssignment | undefined;
  /** The next offset to read in each partition the member owns. */
  private readonly positions = new Map<number, number>();
  /** Positions moved since the last commit. */
  private readonly dirty = new Set<number>();
  private nextHeartbeat = 0;
  private next = 0;
  private readonly loop: Promise<void>;

  constructor(client: WharfClient, queue: string, handler: StreamHandler, options: StreamConsumerOptions) {
    this.client = client;
    this.queue = queue;
    this.handler = handler;
    this.options = options;
    this.loop = this.run();
  }

  /** The member's id, generation and partitions (undefined until it joined). */
  get assignment(): GroupAssignment | undefined {
    return this.member;
  }

  /** Moves a partition's position: the next read starts there (commit() stores it). */
  seek(partition: number, offset: number): void {
    if (!this.positions.has(partition)) throw new RangeError(`partition ${partition} is not assigned to this member`);
    this.positions.set(partition, offset);
    this.dirty.add(partition);
  }

  /** Moves every owned partition to its first message sent at or after `timestamp` (ms). */
  async seekToTime(timestamp: number): Promise<void> {
    await Promise.all(
      [...this.positions.keys()].map(async (partition) => {
        const { offset } = await this.client.request('FindOffset', { queue: this.queue, partition, timestamp });
        this.seek(partition, offset);
      }),
    );
  }

  /** Commits the positions that moved since the last commit. */
  async commit(): Promise<void> {
    const member = this.member;
    if (member === undefined || this.dirty.size === 0) return;
    const offsets = [...this.dirty].filter((p) => this.positions.has(p)).map((partition) => ({ partition, offset: this.positions.get(partition) as number }));
    this.dirty.clear();
    if (offsets.length === 0) return;
    await this.client.request('CommitOffsets', { queue: this.queue, group: this.options.group, memberId: member.memberId, generation: member.generation, offsets });
  }

  /** Stops reading, commits (with autoCommit) and leaves the group, so its partitions move at once. */
  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    const member = this.member;
    if (member === undefined) return;
    if (this.options.autoCommit ?? true) await this.commit().catch((err: unknown) => this.options.onError?.(err));
    await this.client.request('LeaveGroup', { queue: this.queue, group: this.options.group, memberId: member.memberId }).catch((err: unknown) => this.options.onError?.(err));
    this.member = undefined;
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        await this.keepMembership();
        const partition = this.nextPartition();
        if (partition === undefined) {
          await pause(Math.min(RETRY_MS * 5, Math.max(0, this.nextHeartbeat - Date.now())));
          continue;
        }
        await this.readOnce(partition);
      } catch (err) {
        if (isWharfError(err, ErrorCode.UnknownMember)) this.member = undefined;
        else if (isWharfError(err, ErrorCode.StaleGeneration)) this.nextHeartbeat = 0;
        else this.options.onError?.(err);
        if (this.running) await pause(RETRY_MS);
      }
    }
  }

  /** Joins when not a member, heartbeats when due, and takes a new assignment when the generation moved. */
  private async keepMembership(): Promise<void> {
    const group = this.options.group;
    let answer: GroupAssignment | undefined;
    if (this.member === undefined) {
      answer = await this.client.request('JoinGroup', {
        queue: this.queue,
        group,
        ...(this.options.sessionTimeoutMs === undefined ? {} : { sessionTimeoutMs: this.options.sessionTimeoutMs }),
      });
    } else if (Date.now() >= this.nextHeartbeat) {
      answer = await this.client.request('GroupHeartbeat', { queue: this.queue, group, memberId: this.member.memberId, generation: this.member.generation });
    }
    if (answer === undefined) return;
    this.nextHeartbeat = Date.now() + answer.sessionTimeoutMs / 3;
    if (this.member !== undefined && answer.generation === this.member.generation) return;
    // The member (and its assignment) shows once its positions are known, so a seek right after finds them.
    this.member = undefined;
    await this.takeAssignment(answer);
    this.member = answer;
  }

  /** Positions of a new assignment: each partition from the group's committed offset. */
  private async takeAssignment(assignment: GroupAssignment): Promise<void> {
    this.positions.clear();
    this.dirty.clear();
    if (assignment.partitions.length > 0) {
      const { partitions } = await this.client.request('GetOffsets', { queue: this.queue, group: this.options.group });
      for (const p of partitions) {
        if (!assignment.partitions.includes(p.partition)) continue;
        const from = p.committed?.offset ?? ((this.options.startFrom ?? 'earliest') === 'latest' ? p.endOffset : p.startOffset);
        this.positions.set(p.partition, from);
      }
    }
    this.options.onAssign?.([...assignment.partitions], assignment.generation);
  }

  private nextPartition(): number | undefined {
    const owned = [...this.positions.keys()];
    if (owned.length === 0) return undefined;
    return owned[this.next++ % owned.length];
  }

  private async readOnce(partition: number): Promise<void> {
    const offset = this.positions.get(partition) as number;
    const owned = this.positions.size;
    const reply = await this.client.request('ReadStream', {
      queue: this.queue,
      partition,
      offset,
      maxMessages: this.options.maxMessages ?? 100,
      // With one partition the read may wait; with several a wait would hold the others back.
      waitTimeSeconds: owned === 1 ? READ_WAIT_SECONDS : 0,
    });
    let position = offset;
    for (const message of reply.messages) {
      if (!this.running || this.positions.get(partition) !== offset) break;
      try {
        await this.handler({ ...message, partition });
      } catch (err) {
        this.options.onError?.(err, { ...message, partition });
        break;
      }
      position = message.offset + 1;
    }
    if (reply.messages.length === 0) position = Math.max(offset, reply.nextOffset);
    // A seek or a new assignment during the batch wins over the batch's progress.
    if (this.positions.get(partition) !== offset || position === offset) {
      if (owned > 1 && reply.messages.length === 0 && this.next % owned === 0) await pause(RETRY_MS);
      return;
    }
    this.positions.set(partition, position);
    this.dirty.add(partition);
    if (this.options.autoCommit ?? true) await this.commit();
  }
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
