/**
 * The stream actions of the client API (queues with `mode: 'stream'`): reads by offset, seeks by
 * time, committed offsets, and consumer group membership. Reads and offsets go to each partition's
 * primary (PartitionRouter: a stream read is answered from its store, a commit is a replicated
 * write); membership lives in the groups bucket (src/meta/groups.ts), changed by CAS.
 */
import { randomBytes } from 'node:crypto';
import { expire, heartbeat, join, leave, mayCommit, type GroupRefusal, type GroupState } from '../../actors/group/group.ts';
import type { PartitionOp, PartitionResult } from '../../actors/partition/partition.events.ts';
import type { Clock } from '../clock.ts';
import { ErrorCode, WharfError } from '../errors.ts';
import type { GroupStore } from '../meta/groups.ts';
import type { QueueMeta } from '../meta/records.ts';
import { LIMITS } from '../protocol/limits.ts';
import type { GroupAssignment, PartitionOffsets, Reply, Request, StreamAction, StreamMessage } from '../protocol/messages.ts';
import type { PartitionRouter } from './partition-router.ts';

type StreamHandlers = { [A in StreamAction]: (request: Request<A>) => Promise<Reply<A>> };

/** Notices that a queue's partitions have new messages, for reads that wait. */
export interface ReadyWatch {
  /** Resolves at the next notice after the watch began, or after `ms`. */
  next(ms: number): Promise<void>;
  close(): void;
}

export interface StreamDeps {
  /** The queue's metadata; queue_not_found when there is none. */
  entry(name: string): QueueMeta;
  /** The queue's partitions, as routers to their primaries. */
  partitions(meta: QueueMeta): readonly PartitionRouter[];
  groups: GroupStore;
  clock: Clock;
  /** Starts watching a queue's ready notices; over_limit when too many reads wait on this node. */
  watchReady(queue: string): ReadyWatch;
}

const DEFAULT_READ_MESSAGES = 100;
const DEFAULT_READ_BYTES = 1024 * 1024;
const DEFAULT_SESSION_MS = 10_000;

/** A stream's metadata: wrong_queue_mode for a queue. */
export function streamEntry(deps: Pick<StreamDeps, 'entry'>, name: string): QueueMeta {
  const meta = deps.entry(name);
  if (meta.attributes.mode !== 'stream') throw new WharfError(ErrorCode.WrongQueueMode, `queue ${meta.name} is not a stream (mode queue): use the work-queue actions`);
  return meta;
}

/** A work queue's metadata check: wrong_queue_mode for a stream. */
export function checkWorkQueue(meta: QueueMeta): void {
  if (meta.attributes.mode === 'stream') {
    throw new WharfError(ErrorCode.WrongQueueMode, `queue ${meta.name} is a stream: read it by offset (ReadStream) instead of receiving`);
  }
}

/** Sends to a stream carry no delay: its offsets follow the order of the sends. */
export function checkStreamSend(meta: QueueMeta, messages: ReadonlyArray<{ delaySeconds?: number }>): void {
  if (meta.attributes.mode === 'stream' && messages.some((m) => (m.delaySeconds ?? 0) > 0)) {
    throw new WharfError(ErrorCode.InvalidParameter, `queue ${meta.name} is a stream: messages cannot be delayed`);
  }
}

function expectResult<T extends PartitionResult['type']>(result: PartitionResult, type: T): Extract<PartitionResult, { type: T }> {
  if (result.type === 'failed') throw new WharfError(result.code as ErrorCode, result.message);
  if (result.type !== type) throw new WharfError(ErrorCode.Internal, `a partition answered ${result.type} to a ${type} request`);
  return result as Extract<PartitionResult, { type: T }>;
}

function refused(refusal: GroupRefusal, queue: string, group: string): WharfError {
  switch (refusal) {
    case 'unknown_member':
      return new WharfError(ErrorCode.UnknownMember, `the member is not in group ${group} of stream ${queue}: join again`);
    case 'stale_generation':
      return new WharfError(ErrorCode.StaleGeneration, `group ${group} of stream ${queue} has a newer generation: heartbeat to learn it`);
    case 'not_owner':
      return new WharfError(ErrorCode.StaleGeneration, `the member does not own that partition in the current generation of group ${group}`);
    case 'group_full':
      return new WharfError(ErrorCode.OverLimit, `group ${group} of stream ${queue} has ${LIMITS.maxGroupMembers} members`);
    case 'has_members':
      return new WharfError(ErrorCode.InvalidParameter, `group ${group} of stream ${queue} has members: only they commit (stop them to seek)`);
    default:
      return refusal satisfies never;
  }
}

export function streamHandlers(deps: StreamDeps): StreamHandlers {
  const router = (meta: QueueMeta, partition: number): PartitionRouter => {
    const p = deps.partitions(meta)[partition];
    if (p === undefined) throw new WharfError(ErrorCode.InvalidParameter, `stream ${meta.name} has partitions 0 to ${meta.attributes.partitions - 1}, not ${partition}`);
    return p;
  };
  const request = (meta: QueueMeta, partition: number, op: PartitionOp) => router(meta, partition).request(op);
  const assignmentOf = (state: GroupState, memberId: string, sessionMs: number): GroupAssignment => ({
    memberId,
    generation: state.generation,
    partitions: state.assignment[memberId] ?? [],
    sessionTimeoutMs: sessionMs,
  });
  const sessionOf = (state: GroupState, memberId: string) => state.members.find((m) => m.id === memberId)?.sessionMs ?? DEFAULT_SESSION_MS;

  const read = async (meta: QueueMeta, r: Request<'ReadStream'>) => {
    const op: PartitionOp = { type: 'read', from: r.offset, max: r.maxMessages ?? DEFAULT_READ_MESSAGES, maxBytes: r.maxBytes ?? DEFAULT_READ_BYTES };
    const result = expectResult(await request(meta, r.partition, op), 'read');
    const messages = result.messages.map(
      ([offset, record]): StreamMessage => ({ offset, messageId: record.id, body: record.body, attributes: record.attributes ?? {}, sentAt: record.sentAt }),
    );
    const last = messages[messages.length - 1];
    // Nothing read: from the start when the offset was trimmed away, else where the reader was.
    const nextOffset = last ? last.offset + 1 : Math.max(r.offset, result.start);
    return { messages, nextOffset, startOffset: result.start, endOffset: result.end };
  };

  return {
    ReadStream: async (r) => {
      const meta = streamEntry(deps, r.queue);
      router(meta, r.partition);
      const waitMs = (r.waitTimeSeconds ?? 0) * 1000;
      if (waitMs === 0) return read(meta, r);
      const deadline = deps.clock.now() + waitMs;
      // Watching before each read: a message settled between the read and the wait still wakes it.
      for (;;) {
        const watch = deps.watchReady(meta.name);
        try {
          const reply = await read(meta, r);
          const left = deadline - deps.clock.now();
          if (reply.messages.length > 0 || left <= 0) return reply;
          await watch.next(left);
        } finally {
          watch.close();
        }
      }
    },

    FindOffset: async ({ queue, partition, timestamp }) => {
      const meta = streamEntry(deps, queue);
      return { offset: expectResult(await request(meta, partition, { type: 'findOffset', timestamp }), 'offset').offset };
    },

    GetOffsets: async ({ queue, group }) => {
      const meta = streamEntry(deps, queue);
      const partitions = await Promise.all(
        Array.from({ length: meta.attributes.partitions }, async (_, p): Promise<PartitionOffsets> => {
          const result = expectResult(await request(meta, p, group === undefined ? { type: 'offsets' } : { type: 'offsets', group }), 'offsets');
          const out: PartitionOffsets = { partition: p, startOffset: result.start, endOffset: result.end };
          if (result.committed) out.committed = result.committed;
          return out;
        }),
      );
      return { partitions };
    },

    CommitOffsets: async ({ queue, group, memberId, generation, offsets }) => {
      const meta = streamEntry(deps, queue);
      for (const o of offsets) router(meta, o.partition);
      if ((memberId === undefined) !== (generation === undefined)) {
        throw new WharfError(ErrorCode.InvalidParameter, 'CommitOffsets: memberId and generation go together');
      }
      const member = memberId !== undefined && generation !== undefined ? { id: memberId, generation } : undefined;
      const { state } = await deps.groups.read(meta.name, meta.incarnation, group);
      const refusal = mayCommit(state, member, offsets.map((o) => o.partition), deps.clock.now(), meta.attributes.partitions);
      if (refusal !== undefined) throw refused(refusal, meta.name, group);
      // The partition fences too: a commit of an older generation than the stored one is refused there.
      const fence = member?.generation ?? state.generation;
      const results = await Promise.all(
        offsets.map(async (o) => {
          const op: PartitionOp = { type: 'commitOffset', group, offset: o.offset, generation: fence, ...(o.metadata === undefined ? {} : { metadata: o.metadata }) };
          return { partition: o.partition, result: expectResult(await request(meta, o.partition, op), 'committed').result };
        }),
      );
      for (const { partition, result } of results) {
        if (result === 'stale_generation') throw refused('stale_generation', meta.name, group);
        if (result === 'out_of_range') throw new WharfError(ErrorCode.InvalidParameter, `offset beyond the end of partition ${partition} of stream ${meta.name}`);
        if (result === 'over_limit') throw new WharfError(ErrorCode.OverLimit, `partition ${partition} of stream ${meta.name} keeps ${LIMITS.maxGroupsPerPartition} groups`);
      }
      return {};
    },

    JoinGroup: async ({ queue, group, memberId, sessionTimeoutMs }) => {
      const meta = streamEntry(deps, queue);
      const id = memberId ?? `m-${randomBytes(9).toString('base64url')}`;
      const sessionMs = sessionTimeoutMs ?? DEFAULT_SESSION_MS;
      const outcome = await deps.groups.update<GroupState | GroupRefusal>(meta.name, meta.incarnation, group, (state) => {
        const next = join(state, { id, sessionMs }, deps.clock.now(), meta.attributes.partitions, LIMITS.maxGroupMembers);
        return typeof next === 'string' ? { state, result: next } : { state: next, result: next };
      });
      if (typeof outcome === 'string') throw refused(outcome, meta.name, group);
      return assignmentOf(outcome, id, sessionOf(outcome, id));
    },

    GroupHeartbeat: async ({ queue, group, memberId }) => {
      const meta = streamEntry(deps, queue);
      const outcome = await deps.groups.update<GroupState | GroupRefusal>(meta.name, meta.incarnation, group, (state) => {
        const next = heartbeat(state, memberId, deps.clock.now(), meta.attributes.partitions);
        return typeof next === 'string' ? { state, result: next } : { state: next, result: next };
      });
      if (typeof outcome === 'string') throw refused(outcome, meta.name, group);
      return assignmentOf(outcome, memberId, sessionOf(outcome, memberId));
    },

    LeaveGroup: async ({ queue, group, memberId }) => {
      const meta = streamEntry(deps, queue);
      await deps.groups.update(meta.name, meta.incarnation, group, (state) => {
        const next = leave(state, memberId, deps.clock.now(), meta.attributes.partitions);
        return { state: next, result: undefined };
      });
      return {};
    },

    DescribeGroup: async ({ queue, group }) => {
      const meta = streamEntry(deps, queue);
      const { state } = await deps.groups.read(meta.name, meta.incarnation, group);
      // As of now: members whose session ran out are shown gone (the next change stores it).
      const current = expire(state, deps.clock.now(), meta.attributes.partitions);
      return {
        group,
        generation: current.generation,
        members: current.members.map((m) => ({ memberId: m.id, partitions: current.assignment[m.id] ?? [], lastSeen: m.lastSeen })),
      };
    },

    ListGroups: async ({ queue }) => {
      const meta = streamEntry(deps, queue);
      // Groups with members (the bucket) and groups with committed offsets only (an operator's seek).
      const [members, ...committed] = await Promise.all([
        deps.groups.list(meta.name),
        ...Array.from({ length: meta.attributes.partitions }, async (_, p) => expectResult(await request(meta, p, { type: 'groups' }), 'groups').groups),
      ]);
      return { groups: [...new Set([...members, ...committed.flat()])].sort() };
    },
  };
}
