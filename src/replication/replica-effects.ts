/**
 * The effects of the replica actor (actors/replica/replica.machine.ts) and the partition actor's
 * storage when the partition is replicated: RocksDB through ReplicaStore, fetches over NATS, and
 * the registry of this node's primaries (`PrimaryLogs`) that the fetch handler, the partition's
 * commit and the step-down share.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { fromPromise } from 'xstate';
import type { CommitInput, CommitOutput, LoadInput, LoadOutput, SettleInput, SettleOutput } from '../../actors/partition/partition.events.ts';
import type { MessageRecord } from '../../actors/partition/records.ts';
import type { ReplicaMeta } from '../../actors/replica/log.ts';
import {
  replicaMachine,
  type FetchInput,
  type FetchOutput,
  type PersistInput,
  type PromoteInput,
  type ReplicaKey,
  type SnapshotOutput,
  type SnapshotRequest,
} from '../../actors/replica/replica.machine.ts';
import { partitionMachine } from '../../actors/partition/partition.machine.ts';
import { ErrorCode, WharfError } from '../errors.ts';
import type { QueueName } from '../names.ts';
import { decodeReply, encode } from '../protocol/codec.ts';
import type { Subjects } from '../protocol/subjects.ts';
import { decodeLogEntry } from '../storage/records.ts';
import type { Store, WriteOp } from '../storage/store.ts';
import { loadPartition, partitionStore, readMessages, toWriteOps } from '../effects/partition-store.ts';
import type { Logger } from '../node/log.ts';
import type { CatchUpLimit } from './catch-up-limit.ts';
import { PrimaryLog } from './primary-log.ts';
import { ReplicaStore } from './replica-store.ts';
import { oldLeaseEnd, type Releases, type Silence } from './releases.ts';
import type { ReleaseFrame, SilenceFrame } from '../protocol/internal.ts';

export const replicaKey = (queue: string, partition: number) => `${queue}/${partition}`;

/** This node's primaries, by replicaKey. */
export type PrimaryLogs = Map<string, PrimaryLog>;

export interface ReplicationDeps {
  nc: NatsConnection;
  subjects: Subjects;
  self: string;
  store: Store;
  /** fsync log appends before acknowledging them (WHARF_SYNC_WRITES). */
  syncWrites: boolean;
  primaries: PrimaryLogs;
  /** What this node's replicas served and persisted: the answers to lease releases (releases.ts). */
  releases: Releases;
  /** The queue's replication mode now (it can change while the partition serves). */
  mode: (queue: string) => 'sync' | 'async';
  /** Tells the replica actor its primary was superseded (a fetch showed a newer epoch). */
  superseded: (queue: string, partition: number, epoch: number) => void;
  leaseMs: number;
  maxWaitMs: number;
  /** How long a new primary waits for its first entry to commit before it gives up and decides again. */
  promoteTimeoutMs: number;
  /** How long a write waits for a majority before its requests are answered `timeout` (then the partition reloads). */
  commitTimeoutMs: number;
  /** Log entries a replica keeps below its applied index (WHARF_LOG_RETAIN_ENTRIES). */
  retainEntries: number;
  /** Bandwidth of learners' fetches and snapshot copies (WHARF_CATCH_UP_BYTES_PER_SECOND). */
  catchUp: CatchUpLimit;
  log: Logger;
  /** Monotonic ms. */
  now: () => number;
  /** A replicated primary started serving, and what ended its wait for the previous lease. */
  serving?: (queue: string, outcome: 'waited' | 'released' | 'ended') => void;
  /** Sees the changes of every batch of entries fetched from a primary (a hosts cluster's clock merges their stamps). */
  fetched?: (entries: ReadonlyArray<{ ops: readonly WriteOp[] }>) => void;
}

/** How long a new primary waits for one answer of the previous primary about its lease. */
const RELEASE_ANSWER_MS = 250;

const storeOf = (deps: ReplicationDeps, k: ReplicaKey) => new ReplicaStore(deps.store, k.queue as QueueName, k.partition, deps.syncWrites, deps.retainEntries);

/** Decoded changes of fetched entries by log index, and the bytes of the entries they came from. */
interface HeldEntries {
  ops: Map<number, readonly WriteOp[]>;
  bytes: number;
}

/** Bounds of what a follower holds decoded (as the primary's in-memory tail): beyond them it reads the log back. */
const HOLD_ENTRIES = 2048;
const HOLD_BYTES = 64 * 1024 * 1024;

/** The entries still to apply after a round: those held before and those just fetched (from index `from`), from `applied` on. */
function holdUnapplied(
  held: HeldEntries | undefined,
  entries: ReadonlyArray<{ bytes: Uint8Array; ops: readonly WriteOp[] }>,
  from: number,
  applied: number,
): HeldEntries {
  const next: HeldEntries = { ops: new Map(), bytes: 0 };
  for (const [index, ops] of held?.ops ?? []) if (index >= applied) next.ops.set(index, ops);
  next.bytes = next.ops.size === 0 ? 0 : (held?.bytes ?? 0);
  entries.forEach((e, i) => {
    if (from + i < applied) return;
    next.ops.set(from + i, e.ops);
    next.bytes += e.bytes.byteLength;
  });
  return next.ops.size > HOLD_ENTRIES || next.bytes > HOLD_BYTES ? { ops: new Map(), bytes: 0 } : next;
}

/** How long a follower waits for one page of a snapshot. */
const SNAPSHOT_PAGE_TIMEOUT_MS = 30_000;

export function replicaActor(deps: ReplicationDeps) {
  const partition = partitionMachine.provide({ actors: replicatedPartitionStore(deps) });
  // A queue deleted and created again under its name has two replicas of one partition for a while
  // (the old one dropping its data, the new one loading): their loads and drops take turns.
  const turns = new Map<string, Promise<void>>();
  const inTurn = <T>(k: string, fn: () => Promise<T>): Promise<T> => {
    const run = (turns.get(k) ?? Promise.resolve()).then(fn);
    const done = run.then(
      () => undefined,
      () => undefined,
    );
    turns.set(k, done);
    void done.then(() => {
      if (turns.get(k) === done) turns.delete(k);
    });
    return run;
  };
  // What each follower fetched and has not applied yet, decoded: applied from memory when its commit comes.
  const fetched = new Map<string, HeldEntries>();
  const forget = (k: ReplicaKey) => fetched.delete(replicaKey(k.queue, k.partition));
  return replicaMachine.provide({
    actors: {
      partition,
      loadReplica: fromPromise<ReplicaMeta, ReplicaKey & { incarnation: number }>(({ input }) => {
        forget(input);
        return inTurn(replicaKey(input.queue, input.partition), () => storeOf(deps, input).load(input.incarnation));
      }),

      saveEpoch: fromPromise<ReplicaMeta, ReplicaKey & { meta: ReplicaMeta; epoch: number }>(async ({ input }) => {
        const meta = { ...input.meta, epoch: Math.max(input.meta.epoch, input.epoch) };
        await storeOf(deps, input).saveMeta(meta);
        deps.releases.stored(replicaKey(input.queue, input.partition), meta.incarnation, meta.epoch);
        return meta;
      }),

      fetch: fromPromise<FetchOutput, ReplicaKey & FetchInput>(async ({ input }) => {
        const { primary, incarnation, ...request } = input;
        const frame = encode({ ...request, follower: deps.self });
        const reply = await deps.nc.request(deps.subjects.replica(primary), frame, { timeout: deps.maxWaitMs + 2000 });
        const output = decodeReply<FetchOutput>(reply.data);
        // Its token may be echoed from now on: the primary's lease may rest on this answer (releases.ts, "Silence").
        if (output.kind === 'entries') deps.releases.heard(replicaKey(input.queue, input.partition), incarnation, output.epoch);
        if (input.learner) await deps.catchUp.take(reply.data.length);
        return output;
      }),

      persist: fromPromise<ReplicaMeta, ReplicaKey & PersistInput>(async ({ input }) => {
        const { meta, reply } = input;
        // An answer to an older question (its start is not our log end) or from an older epoch: ignore it.
        if (reply.from !== meta.logEnd || reply.epoch < meta.epoch) return meta;
        const entries = reply.entries.map((bytes) => ({ ...decodeLogEntry(bytes), bytes }));
        if (entries.some((e) => e.epoch > reply.epoch)) throw new WharfError(ErrorCode.Internal, 'fetched an entry newer than its primary');
        const k = replicaKey(input.queue, input.partition);
        const held = fetched.get(k);
        // The primary's epoch is taken on only with entries, in their synced write.
        const base = entries.length > 0 ? { ...meta, epoch: Math.max(meta.epoch, reply.epoch) } : meta;
        const next = await storeOf(deps, input).follow(base, entries, reply.commit, (i) => held?.ops.get(i));
        deps.releases.stored(k, next.incarnation, next.epoch);
        fetched.set(k, holdUnapplied(held, entries, meta.logEnd, next.applied));
        if (entries.length > 0) deps.fetched?.(entries);
        return next;
      }),

      truncate: fromPromise<ReplicaMeta, ReplicaKey & { meta: ReplicaMeta; to: number }>(async ({ input }) => {
        forget(input);
        deps.log.warn({ queue: input.queue, partition: input.partition, from: input.to, logEnd: input.meta.logEnd }, 'truncating a divergent log tail');
        return storeOf(deps, input).truncate(input.meta, input.to);
      }),

      beginInstall: fromPromise<ReplicaMeta, ReplicaKey & { meta: ReplicaMeta }>(({ input }) => {
        forget(input);
        deps.log.info({ queue: input.queue, partition: input.partition, logEnd: input.meta.logEnd }, 'copying a snapshot: the log it needs is no longer at the primary');
        return storeOf(deps, input).beginInstall(input.meta);
      }),

      install: fromPromise<ReplicaMeta, ReplicaKey & { meta: ReplicaMeta; primary: string; epoch: number }>(async ({ input, signal }) => {
        const rs = storeOf(deps, input);
        let copy = '';
        let rows = 0;
        for (let page = 0; ; page++) {
          if (signal.aborted) throw new WharfError(ErrorCode.Unavailable, 'the snapshot copy was stopped');
          const request: SnapshotRequest & ReplicaKey = { queue: input.queue, partition: input.partition, follower: deps.self, epoch: input.epoch, copy, page };
          const reply = await deps.nc.request(deps.subjects.replica(input.primary), encode(request), { timeout: SNAPSHOT_PAGE_TIMEOUT_MS });
          const out = decodeReply<SnapshotOutput>(reply.data);
          if (out.kind !== 'page') throw new WharfError(ErrorCode.Unavailable, `the snapshot copy ended at the primary (epoch ${out.epoch})`);
          if (out.epoch !== input.epoch) throw new WharfError(ErrorCode.Unavailable, `a snapshot page of epoch ${out.epoch}, expected ${input.epoch}`);
          await rs.installPage(out.rows);
          await deps.catchUp.take(reply.data.length, signal);
          rows += out.rows.length;
          copy = out.copy;
          if (out.done) {
            deps.log.info({ queue: input.queue, partition: input.partition, index: out.index, keys: rows }, 'snapshot copied');
            return rs.finishInstall(input.meta, { index: out.index, epochs: out.epochs, epoch: out.epoch });
          }
        }
      }),

      promote: fromPromise<ReplicaMeta, ReplicaKey & PromoteInput>(async ({ input }) => {
        forget(input);
        const rs = storeOf(deps, input);
        const k = replicaKey(input.queue, input.partition);
        // Everything in its log is at least as new as anything committed: it becomes the partition's state.
        const meta = await rs.apply(input.meta, input.meta.logEnd);
        const { previous } = input;
        const log = new PrimaryLog({
          store: rs,
          self: deps.self,
          voters: input.voters,
          epoch: input.epoch,
          meta,
          commit: input.commit,
          leaseMs: deps.leaseMs,
          maxWaitMs: deps.maxWaitMs,
          now: deps.now,
          onSuperseded: (epoch) => deps.superseded(input.queue, input.partition, epoch),
          ...(previous === undefined
            ? {}
            : { askRelease: () => askRelease(deps, previous.primary, { queue: input.queue, partition: input.partition, incarnation: meta.incarnation, released: previous.epoch }) }),
          oldLeaseEnd: () => askSilences(deps, input.voters, previous, { queue: input.queue, partition: input.partition, incarnation: meta.incarnation, silentBelow: input.epoch }),
        });
        deps.primaries.get(k)?.close('replaced');
        deps.primaries.set(k, log);
        deps.log.info({ queue: input.queue, partition: input.partition, epoch: input.epoch, logEnd: meta.logEnd }, 'promoting to primary');
        await log.ready(deps.promoteTimeoutMs);
        deps.releases.served(k, meta.incarnation, input.epoch);
        deps.log.info({ queue: input.queue, partition: input.partition, epoch: input.epoch, leaseReleased: log.leaseReleased, leaseEnded: log.leaseEnded }, 'serving as primary');
        if (log.quorum > 1) deps.serving?.(input.queue, log.leaseReleased ? 'released' : log.leaseEnded ? 'ended' : 'waited');
        return log.replicaMeta;
      }),

      stepDown: fromPromise<ReplicaMeta, ReplicaKey & { meta: ReplicaMeta; reason: string }>(async ({ input }) => {
        const k = replicaKey(input.queue, input.partition);
        const log = deps.primaries.get(k);
        if (!log) return input.meta;
        deps.primaries.delete(k);
        log.close(input.reason);
        await log.settled();
        deps.log.info({ queue: input.queue, partition: input.partition, epoch: log.epoch, reason: input.reason }, 'stepped down');
        return log.replicaMeta;
      }),

      dropReplica: fromPromise<void, ReplicaKey & { incarnation: number }>(({ input }) => {
        forget(input);
        const k = replicaKey(input.queue, input.partition);
        return inTurn(k, async () => {
          const log = deps.primaries.get(k);
          // Only its own primary log: the one of a newer queue of the same name stays.
          if (log && log.replicaMeta.incarnation === input.incarnation) {
            deps.primaries.delete(k);
            log.close('the replica is removed');
            await log.settled();
          }
          deps.releases.forget(k);
          const rs = storeOf(deps, input);
          // A newer queue's replica loaded since (it reset the keys itself): nothing of this one is left.
          if ((await rs.storedIncarnation()) !== input.incarnation) return;
          await rs.drop();
        });
      }),
    },
    actions: {
      updateVoters: ({ context }) => {
        const log = deps.primaries.get(replicaKey(context.queue, context.partition));
        if (log && context.assignment) log.setVoters(context.assignment.replicas);
      },
    },
  });
}

/**
 * Asks every voter but this node and the previous primary (this node answers itself) how long since
 * it last heard from an earlier epoch, and computes from their answers when every earlier lease
 * ended at the latest (releases.ts, "Silence"). No answer from one of them: undefined.
 */
async function askSilences(deps: ReplicationDeps, voters: readonly string[], previous: { primary: string; epoch: number } | undefined, frame: SilenceFrame): Promise<number | undefined> {
  const own = { arrivedAt: deps.now(), silence: deps.releases.silentBelow(replicaKey(frame.queue, frame.partition), frame.incarnation, frame.silentBelow) };
  if (own.silence === undefined) return undefined;
  const asked = voters.filter((node) => node !== deps.self && node !== previous?.primary);
  const question = encode(frame);
  const answers = await Promise.all(
    asked.map(async (node) => {
      const reply = await deps.nc.request(deps.subjects.replica(node), question, { timeout: RELEASE_ANSWER_MS }).catch(() => undefined);
      const arrivedAt = deps.now();
      const answer = reply === undefined ? undefined : decodeReply<Partial<Silence>>(reply.data);
      const silence = typeof answer?.silentMs === 'number' && typeof answer.epoch === 'number' ? { silentMs: answer.silentMs, epoch: answer.epoch } : undefined;
      return { arrivedAt, silence };
    }),
  );
  return oldLeaseEnd([own, ...answers], deps.leaseMs, previous?.epoch);
}

/** One question to the previous primary: has it released its lease of `frame.released`? No answer is a no. */
async function askRelease(deps: ReplicationDeps, node: string, frame: ReleaseFrame): Promise<boolean> {
  const reply = await deps.nc.request(deps.subjects.replica(node), encode(frame), { timeout: RELEASE_ANSWER_MS });
  return decodeReply<{ released: boolean }>(reply.data).released === true;
}

/**
 * The partition's storage when it is replicated: the same loads and pages as a single copy, but a
 * commit goes through the log. In sync mode the commit appends the entry, and its settle waits until
 * a majority persisted it, then applies its state changes; in async mode (or with a single voter)
 * they are written with the entry. Settles come in commit order; each checks the lease last.
 */
function replicatedPartitionStore(deps: ReplicationDeps) {
  const base = partitionStore(deps.store, true);
  const logOf = (queue: string, partition: number): PrimaryLog => {
    const log = deps.primaries.get(replicaKey(queue, partition));
    if (!log) throw new WharfError(ErrorCode.Timeout, 'this replica is no longer the primary: the outcome is unknown');
    return log;
  };
  /** Settles under way per partition: one left behind by a failed partition may still apply its state. */
  const settling = new Map<string, Set<Promise<unknown>>>();
  const tracked = <T>(key: string, settle: Promise<T>): Promise<T> => {
    const set = settling.get(key) ?? new Set<Promise<unknown>>();
    settling.set(key, set);
    const done = settle.then(
      () => undefined,
      () => undefined,
    );
    set.add(done);
    void done.then(() => {
      set.delete(done);
      if (set.size === 0 && settling.get(key) === set) settling.delete(key);
    });
    return settle;
  };
  return {
    ...base,
    loadPartition: fromPromise<LoadOutput, LoadInput>(async ({ input }) => {
      const log = logOf(input.queue, input.partition);
      // What a failed partition left under way ends first; then the log may hold entries the state
      // does not: they are applied before the state is read.
      await Promise.all(settling.get(replicaKey(input.queue, input.partition)) ?? []);
      await log.idle();
      await log.applyAll();
      return loadPartition(deps.store, input);
    }),
    commit: fromPromise<CommitOutput, CommitInput>(async ({ input }) => {
      const log = logOf(input.queue, input.partition);
      const ops = toWriteOps(input.queue as QueueName, input.partition, input.changes);
      if (ops.length === 0) return { ticket: undefined };
      // State changes are applied in log order: behind entries still waiting for their commit, an
      // async write is applied at its settle too.
      const now = (deps.mode(input.queue) === 'async' || log.quorum <= 1) && !log.unapplied;
      // A failed append stored nothing (storage_failure); anything failing after it leaves the
      // entry in the log, to be committed or not: the outcome is unknown.
      const index = await log.append(ops, now ? ops : [], now);
      const ticket: Ticket = { index, ops: now ? [] : ops, majority: deps.mode(input.queue) === 'sync' && log.quorum > 1 };
      return { ticket, waits: ticket.majority };
    }),
    settle: fromPromise<SettleOutput, SettleInput>(({ input }) =>
      tracked(
        replicaKey(input.queue, input.partition),
        (async () => {
          const log = logOf(input.queue, input.partition);
          const ticket = input.ticket as Ticket | undefined;
          let records: Map<number, MessageRecord>;
          try {
            if (ticket !== undefined) {
              if (ticket.majority) await log.committed(ticket.index, deps.commitTimeoutMs);
              if (ticket.ops.length > 0) await log.applied(ticket.ops, ticket.index + 1);
            }
            records = await readMessages(deps.store, input);
          } catch (err) {
            if (err instanceof WharfError && err.code === ErrorCode.Timeout) throw err;
            throw new WharfError(ErrorCode.Timeout, `the write was logged but not finished (${(err as Error).message}): the outcome is unknown`, { cause: err });
          }
          // Checked last, right before the answers go out: no acknowledgement or delivery without the
          // lease. One that lapsed while the followers were slow to fetch is waited for, a lease long.
          if (!log.holdsLease() && !((await log.leaseHeld(deps.leaseMs)) && log.holdsLease())) {
            throw new WharfError(ErrorCode.Timeout, 'the primary lost its lease before answering: the outcome is unknown');
          }
          return { records };
        })(),
      ),
    ),
  };
}

/** What the settle of a replicated write needs: its entry, the state changes still to apply, and whether it waits for a majority. */
interface Ticket {
  index: number;
  ops: WriteOp[];
  majority: boolean;
}
