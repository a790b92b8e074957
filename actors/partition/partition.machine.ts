/**
 * The partition actor: one queue partition's lifecycle and its group commit.
 *
 *   loading ──► serving ─┬─ writer: idle ──► applying ──► committing ──► idle
 *                        │           │          └─ nothing to write ──────────┘
 *                        │           ├──► paging: load delayed messages (nothing in flight)
 *                        │           └── after tick: expire leases, release delayed messages
 *                        ├─ settler: idle ◄──► settling: the oldest committed write, then its replies
 *                        └─ reader: idle ◄──► scanning: refill the window, find expired messages
 *   a failed load, write, settle or scan ──► failed ──(retryDelay)──► loading
 *
 * A write goes through two effects. `commit` makes it durable here (its log entry appended); the
 * writer is then free to decide and commit the next batch while `settle` waits, oldest write first,
 * until the write may be answered (a majority persisted it, its state is applied, the lease holds).
 * Replies leave from `settling`'s onDone, so in commit order and never before their write is
 * durable, and a batch that writes nothing is answered in that order too when writes are in flight
 * (its answers rest on the state they leave). Requests that arrive while a batch is being committed
 * wait in `queued` and all go into the next write (group commit). The reader runs beside the
 * writer so a large backlog is paged in without stalling writes; it only scans offsets below the
 * last settled write (`committedOffset`). The decisions are the ledger's (ledger.ts); this machine
 * orders them against storage. Time is read from `input.now`, the same clock the actor's timers
 * run on.
 */
import { assign, enqueueActions, setup } from 'xstate';
import { declared } from '../declared.ts';
import { DEDUP_WINDOW_MS, Ledger, type Delivery } from './ledger.ts';
import { LeaseKeeper } from './lease-keeper.ts';
import { ANONYMOUS } from '../../src/names.ts';
import { Stream, withRetention } from './stream.ts';
import type {
  CommitInput,
  CommitOutput,
  LoadInput,
  LoadOutput,
  PageInput,
  PageOutput,
  PartitionEvent,
  PartitionInput,
  PartitionReply,
  PartitionRequest,
  PartitionResult,
  SettleInput,
  SettleOutput,
} from './partition.events.ts';
import type { Change, MessageRecord } from './records.ts';

/** Receives wait for bodies read after the write; every other result is final once decided. */
type Pending = { id: number; result: PartitionResult } | { id: number; deliveries: Delivery[] };

/** A committed batch waiting for its settle, oldest first. */
interface Inflight {
  pending: Pending[];
  reads: number[];
  /** The commit's ticket; undefined for a batch that wrote nothing. */
  ticket: unknown;
  /** The partition's next offset once this batch is settled. */
  offset: number;
  /** Its settle waits for other replicas (CommitOutput.waits). */
  waits: boolean;
}

export interface PartitionContext extends PartitionInput {
  ledger: Ledger | undefined;
  /** Leases kept alive by consumers' heartbeats; undefined without `beats`. */
  keeper: LeaseKeeper | undefined;
  /** Stream mode: offsets, size and head of the stream (stream.ts); undefined for a queue. */
  streamLog: Stream | undefined;
  queued: PartitionRequest[];
  /** Receives that found the window empty while messages wait on disk: retried after the next refill. */
  deferred: PartitionRequest[];
  /** Results decided by the write being committed, waiting for it to be durable. */
  pending: Pending[];
  changes: Change[];
  reads: number[];
  /** Committed batches not yet settled, oldest first. */
  inflight: Inflight[];
  /** The job of the writer's page (delayed messages) or the reader's scan, while one runs. */
  page: PageInput | undefined;
  scan: PageInput | undefined;
  /** Next offset of the last settled write, and of the write being committed. */
  committedOffset: number;
  writingOffset: number;
  lastTick: number;
  lastRetention: number;
  error: { code: string; message: string } | undefined;
  /** The last failure was a write: nothing of it was applied. */
  writeFailed: boolean;
}

const TIMER_PAGE = 4096;
/** Committed batches awaiting their settle; the writer waits beyond it (bounds memory and the log tail). */
const MAX_INFLIGHT_BATCHES = 64;
const RETENTION_PAGE = 256;
const PURGE_PAGE = 10_000;

export const partitionMachine = setup({
  types: {
    context: {} as PartitionContext,
    events: {} as PartitionEvent,
    input: {} as PartitionInput,
    /** Replies leave the actor as emitted events; the node routes them to their callers. */
    emitted: {} as { type: 'replies'; replies: PartitionReply[] } | { type: 'ready' },
  },
  actors: {
    loadPartition: declared<LoadOutput, LoadInput>('loadPartition'),
    commit: declared<CommitOutput, CommitInput>('commit'),
    settle: declared<SettleOutput, SettleInput>('settle'),
    page: declared<PageOutput, PageInput>('page'),
  },
  actions: {
    recordError: assign({
      error: ({ event }) => {
        const err = (event as { error?: unknown }).error;
        // Effects may say what went wrong (a replicated commit whose outcome is unknown says timeout).
        const code = typeof (err as { code?: unknown })?.code === 'string' ? (err as { code: string }).code : 'storage_failure';
        return { code, message: err instanceof Error ? err.message : String(err) };
      },
    }),

    /** Runs the queued requests (and a due tick) through the ledger and collects the write. */
    apply: assign(({ context }) => {
      const ledger = context.ledger as Ledger;
      const now = context.now();
      ledger.deadLetterOnExpiry = context.deadLetterOnExpiry ?? false;
      const ticked = now - context.lastTick >= context.tickMs;
      if (ticked) tickLedger(context, now);
      const deferred: PartitionRequest[] = [];
      const pending: Pending[] = [];
      // Receives deferred for a refill wait for it while it can still come (a purge ends the backlog).
      const retryDeferred = !ledger.hasUnpaged;
      const requests = retryDeferred ? context.deferred.concat(context.queued) : context.queued;
      for (const request of requests) {
        const { id, op } = request;
        switch (op.type) {
          case 'send': {
            const stream = context.streamLog;
            const messages = stream ? stream.stamp(op.messages, now) : op.messages;
            if ((op.limit !== undefined || op.maxStoredBytes !== undefined) && !stream) {
              pending.push({ id, result: { type: 'sent', ...ledger.appendLimited(messages, now, op) } });
              break;
            }
            const ids = ledger.append(messages, now);
            stream?.appended(messages, ids);
            pending.push({ id, result: { type: 'sent', ids } });
            break;
          }
          case 'deadLettered':
            pending.push({ id, result: { type: 'handled', results: ledger.deadLettered(op.offsets) } });
            break;
          case 'commitOffset': {
            const stream = context.streamLog;
            const result = stream
              ? stream.commit(op.group, op.offset, op.generation, op.metadata, now, ledger.partitionState.nextOffset)
              : 'out_of_range';
            pending.push({ id, result: { type: 'committed', result } });
            break;
          }
          case 'read':
          case 'findOffset':
          case 'offsets':
          case 'groups':
            // Answered by the node from the store (StreamRead); never sent to the actor.
            pending.push({ id, result: { type: 'failed', code: 'internal', message: `${op.type} is not a partition write` } });
            break;
          case 'receive': {
            // A kept lease lasts at least the heartbeat timeout: the keeper, not the clock, ends it.
            const kept = op.heartbeat === true && op.consumer !== undefined && context.keeper !== undefined && context.beats !== undefined;
            const visibilityMs = kept ? Math.max(op.visibilityMs, context.beats?.timeoutMs ?? 0) : op.visibilityMs;
            const deliveries = ledger.receive(op.max, op.maxBytes, visibilityMs, now, context.retentionMs, op.attemptId, op.consumer, op.maxReceives);
            if (kept && op.consumer !== undefined) {
              context.keeper?.track(op.principal ?? ANONYMOUS, op.consumer, deliveries.map((d) => ({ offset: d.offset, seq: d.delivery.seq })), visibilityMs, now);
            }
            if (deliveries.length === 0 && ledger.hasUnpaged && !ledger.hasReady) deferred.push(request);
            else pending.push({ id, deliveries });
            break;
          }
          case 'delete':
            pending.push({
              id,
              result: {
                type: 'handled',
                results: op.items.map((i) => {
                  const result = ledger.remove(i.offset, i.seq);
                  if (result === 'ok') context.keeper?.forget(i.offset);
                  return result;
                }),
              },
            });
            break;
          case 'changeVisibility':
            pending.push({
              id,
              result: {
                type: 'handled',
                results: op.items.map((i) => ledger.changeVisibility(i.offset, i.seq, i.visibilityMs, now)),
              },
            });
            break;
          case 'purge':
            context.keeper?.clear();
            pending.push({ id, result: { type: 'purged', count: ledger.purge() } });
            context.streamLog?.purged(ledger.partitionState.nextOffset);
            break;
          default:
            op satisfies never;
        }
      }
      const reads: number[] = [];
      for (const p of pending) {
        if ('deliveries' in p) for (const d of p.deliveries) if (d.record === undefined) reads.push(d.offset);
      }
      // Nothing left on disk to wait for: answer deferred receives with what there is (nothing).
      const waiting = retryDeferred ? deferred : context.deferred.concat(deferred);
      const stillDeferred = ledger.hasUnpaged ? waiting : [];
      if (!ledger.hasUnpaged) for (const { id } of waiting) pending.push({ id, deliveries: [] });
      return {
        queued: [],
        deferred: stillDeferred,
        pending,
        reads,
        changes: context.streamLog ? ledger.takeChanges().concat(context.streamLog.takeChanges()) : ledger.takeChanges(),
        writingOffset: ledger.partitionState.nextOffset,
        lastTick: ticked ? now : context.lastTick,
      };
    }),

    /** The batch's entry is durable here: it waits for its settle behind the batches before it. */
    queueSettle: assign(({ context, event }) => ({
      inflight: context.inflight.concat({
        pending: context.pending,
        reads: context.reads,
        ticket: (event as unknown as { output: CommitOutput }).output.ticket,
        offset: context.writingOffset,
        waits: (event as unknown as { output: CommitOutput }).output.waits ?? false,
      }),
      pending: [],
      changes: [],
      reads: [],
    })),

    /**
     * A batch that wrote nothing: answered at once when nothing is in flight, otherwise after the
     * writes before it, whose state its answers saw.
     */
    finishUnwritten: enqueueActions(({ context, enqueue }) => {
      if (context.inflight.length > 0) {
        // It ends with the batches before it: it never holds the writer back on its own.
        const batch: Inflight = { pending: context.pending, reads: [], ticket: undefined, offset: context.writingOffset, waits: true };
        enqueue.assign({ inflight: context.inflight.concat(batch), pending: [], changes: [], reads: [] });
        return;
      }
      const replies = repliesOf(context.pending, undefined);
      enqueue.assign({ pending: [], changes: [], reads: [], committedOffset: context.writingOffset });
      if (replies.length > 0) enqueue.emit({ type: 'replies', replies });
      if (context.ledger?.hasReady) enqueue.emit({ type: 'ready' });
    }),

    /** The oldest batch in flight is settled: answer everyone who waited for it. */
    finish: enqueueActions(({ context, event, enqueue }) => {
      const [head, ...rest] = context.inflight;
      if (head === undefined) return;
      const replies = repliesOf(head.pending, (event as unknown as { output?: SettleOutput }).output?.records);
      enqueue.assign({ inflight: rest, committedOffset: head.offset });
      if (replies.length > 0) enqueue.emit({ type: 'replies', replies });
      // A stream's readers wait for its end to move (its ledger window says nothing of that).
      const streamGrew = context.streamLog !== undefined && head.offset > context.committedOffset;
      if (context.ledger?.hasReady || streamGrew) enqueue.emit({ type: 'ready' });
    }),

    /** Only a failed write is known not to have happened; anything else leaves the outcome unknown. */
    recordWriteError: assign({ writeFailed: ({ context }) => context.error?.code === 'storage_failure' }),

    /**
     * Answers every waiting request. Those waiting for a write that failed get storage_failure
     * (nothing of it was applied); those waiting for a write whose outcome is unknown (the partition
     * stopped, or failed elsewhere, while it was under way, or it is committed and was not settled)
     * get timeout; the rest unavailable.
     */
    failAll: enqueueActions(({ context, enqueue }) => {
      const failed = (id: number, code: string, message: string): PartitionReply => ({
        id,
        result: { type: 'failed', code, message },
      });
      const unknown = 'the partition stopped during the write: its outcome is unknown';
      const [code, message] = context.writeFailed
        ? ['storage_failure', context.error?.message ?? 'the write failed']
        : ['timeout', unknown];
      const replies = [
        ...context.inflight.flatMap((b) => b.pending.map((p) => failed(p.id, 'timeout', unknown))),
        ...context.pending.map((p) => failed(p.id, code, message)),
        ...[...context.queued, ...context.deferred].map((r) => failed(r.id, 'unavailable', 'the partition is restarting')),
      ];
      enqueue.assign({
        pending: [],
        inflight: [],
        queued: [],
        deferred: [],
        changes: [],
        reads: [],
        ledger: undefined,
        streamLog: undefined,
        page: undefined,
        scan: undefined,
        writeFailed: false,
      });
      if (replies.length > 0) enqueue.emit({ type: 'replies', replies });
    }),

    /** Expires leases and releases due delays; says so when that made messages ready. */
    tick: enqueueActions(({ context, enqueue }) => {
      const now = context.now();
      const ledger = context.ledger as Ledger;
      (context.ledger as Ledger).deadLetterOnExpiry = context.deadLetterOnExpiry ?? false;
      tickLedger(context, now);
      enqueue.assign({ lastTick: now });
      if (ledger.hasReady) enqueue.emit({ type: 'ready' });
    }),

    choosePage: assign({ page: ({ context }) => writerPage(context) }),

    chooseScan: assign(({ context }) => {
      const scan = readerScan(context) as PageInput;
      const retention = scan.kind === 'retention' || scan.kind === 'streamHead';
      return { scan, lastRetention: retention ? context.now() : context.lastRetention };
    }),

    applyPage: enqueueActions(({ context, event, enqueue }) => {
      const ledger = context.ledger as Ledger;
      const output = (event as unknown as { output: PageOutput }).output;
      switch (output.kind) {
        case 'window':
          ledger.fillWindow(output.scanned, output.complete, output.end);
          enqueue.assign({ queued: context.queued.concat(context.deferred), deferred: [] });
          break;
        case 'timers':
          ledger.fillTimers(output.scanned, output.complete);
          break;
        case 'retention':
          // A full page of expired messages: look again at once rather than after retentionCheckMs.
          ledger.deadLetterOnExpiry = context.deadLetterOnExpiry ?? false;
          if (ledger.expire(output.expired, context.now()) >= RETENTION_PAGE) enqueue.assign({ lastRetention: 0 });
          ledger.retentionFrom = output.next;
          break;
        case 'purged':
          ledger.forgetPurged(output.messages, output.complete);
          break;
        case 'streamHead': {
          const stream = context.streamLog as Stream;
          const gone = stream.trimHead(output.rows, context.now(), context.retentionMs, context.stream?.retentionBytes ?? 0);
          ledger.trimStream(gone);
          // A full page removed: look again at once (a size limit can be far behind after a burst).
          if (gone.length >= RETENTION_PAGE) enqueue.assign({ lastRetention: 0 });
          break;
        }
      }
      // Delayed messages are the writer's page; everything else is the reader's scan.
      enqueue.assign(output.kind === 'timers' ? { page: undefined } : { scan: undefined });
      if (ledger.hasReady) enqueue.emit({ type: 'ready' });
    }),
  },
  delays: {
    tick: ({ context }) => context.tickMs,
    retryDelay: ({ context }) => Math.max(context.tickMs * 10, 1000),
  },
  guards: {
    hasWork: ({ context }) => (context.queued.length > 0 || (context.ledger?.hasChanges ?? false)) && mayCommit(context),
    hasInflight: ({ context }) => context.inflight.length > 0,
    needsPage: ({ context }) => writerPage(context) !== undefined,
    needsScan: ({ context }) => readerScan(context) !== undefined,
    nothingToWrite: ({ context }) => context.changes.length === 0 && context.reads.length === 0,
  },
}).createMachine({
  id: 'partition',
  context: ({ input }) => ({
    ...input,
    ledger: undefined,
    keeper: undefined,
    streamLog: undefined,
    queued: [],
    deferred: [],
    pending: [],
    changes: [],
    reads: [],
    inflight: [],
    page: undefined,
    scan: undefined,
    committedOffset: 0,
    writingOffset: 0,
    lastTick: 0,
    lastRetention: 0,
    error: undefined,
    writeFailed: false,
  }),
  on: {
    requests: { actions: assign({ queued: ({ context, event }) => context.queued.concat(event.items) }) },
    configure: {
      actions: assign(({ context, event }) => {
        const dedupWindowMs = event.dedupWindowMs ?? context.dedupWindowMs ?? DEDUP_WINDOW_MS;
        context.ledger?.configure({ dedupWindowMs });
        return {
          ...withRetention(context, event),
          dedupWindowMs,
          ...(event.deadLetterOnExpiry === undefined ? {} : { deadLetterOnExpiry: event.deadLetterOnExpiry }),
        };
      }),
    },
    stop: { target: '.stopped' },
  },
  initial: 'loading',
  states: {
    loading: {
      invoke: {
        src: 'loadPartition',
        input: ({ context }) => ({ queue: context.queue, partition: context.partition }),
        onDone: {
          target: 'serving',
          actions: assign({
            ledger: ({ context, event }) => {
              const { state } = event.output;
              const nextSeq = Math.max(state.nextSeq, context.seqFloor ?? 0);
              const settings = { fifo: context.fifo ?? false, dedupWindowMs: context.dedupWindowMs ?? DEDUP_WINDOW_MS };
              return new Ledger({ ...event.output, state: { ...state, nextSeq } }, { ...context.limits }, context.now(), settings);
            },
            // A fresh primary keeps no one's leases: they run to their stored deadlines (lease-keeper.ts).
            keeper: ({ context }) => (context.beats === undefined ? undefined : new LeaseKeeper(context.beats.timeoutMs)),
            streamLog: ({ context, event }) => (context.stream ? new Stream(event.output, context.stream.maxGroups) : undefined),
            committedOffset: ({ event }) => event.output.state.nextOffset,
            writingOffset: ({ event }) => event.output.state.nextOffset,
            error: undefined,
          }),
        },
        onError: { target: 'failed', actions: 'recordError' },
      },
    },
    serving: {
      type: 'parallel',
      states: {
        writer: {
          initial: 'idle',
          states: {
            idle: {
              always: [
                { guard: 'hasWork', target: 'applying' },
                { guard: 'needsPage', target: 'paging', actions: 'choosePage' },
              ],
              after: { tick: { target: 'idle', reenter: true, actions: 'tick' } },
            },
            applying: {
              entry: 'apply',
              always: [{ guard: 'nothingToWrite', target: 'idle', actions: 'finishUnwritten' }, { target: 'committing' }],
            },
            committing: {
              invoke: {
                src: 'commit',
                input: ({ context }) => ({ queue: context.queue, partition: context.partition, changes: context.changes }),
                onDone: { target: 'idle', actions: 'queueSettle' },
                onError: { target: '#partition.failed', actions: ['recordError', 'recordWriteError'] },
              },
            },
            paging: pageState(({ context }) => context.page as PageInput),
          },
        },
        settler: {
          initial: 'idle',
          states: {
            idle: {
              always: { guard: 'hasInflight', target: 'settling' },
            },
            settling: {
              invoke: {
                src: 'settle',
                input: ({ context }) => {
                  const head = context.inflight[0] as Inflight;
                  return { queue: context.queue, partition: context.partition, ticket: head.ticket, reads: head.reads };
                },
                onDone: { target: 'idle', actions: 'finish' },
                onError: { target: '#partition.failed', actions: 'recordError' },
              },
            },
          },
        },
        reader: {
          initial: 'idle',
          states: {
            idle: {
              always: { guard: 'needsScan', target: 'scanning', actions: 'chooseScan' },
            },
            scanning: pageState(({ context }) => context.scan as PageInput),
          },
        },
      },
    },
    failed: {
      // After a failed write, memory may be ahead of the disk: start again from the disk.
      entry: 'failAll',
      after: { retryDelay: 'loading' },
    },
    stopped: { type: 'final', entry: 'failAll' },
  },
});

/** Heartbeat leases first (an ended one is requeued by the same tick), then the ledger's time. */
function tickLedger(context: PartitionContext, now: number): void {
  const ledger = context.ledger as Ledger;
  if (context.keeper !== undefined && context.beats !== undefined) context.keeper.tick(ledger, now, context.beats.of);
  ledger.tick(now, context.retentionMs);
}

/** A state that runs one page job (the writer's or the reader's) and returns to its region's idle. */
function pageState(input: (args: { context: PartitionContext }) => PageInput) {
  return {
    invoke: {
      src: 'page',
      input,
      onDone: { target: 'idle', actions: 'applyPage' },
      onError: { target: '#partition.failed', actions: 'recordError' },
    },
  } as const;
}

/**
 * Whether the writer may commit another batch now: behind settles that wait for other replicas (up
 * to a bound), not behind one that is about to end, which the next batch had better join.
 */
function mayCommit(context: PartitionContext): boolean {
  return context.inflight.length === 0 || (context.inflight.length < MAX_INFLIGHT_BATCHES && context.inflight.every((b) => b.waits));
}

/** The replies of a batch, with the bodies read for it. */
function repliesOf(pending: readonly Pending[], records: Map<number, MessageRecord> | undefined): PartitionReply[] {
  return pending.map((p): PartitionReply => {
    if ('result' in p) return { id: p.id, result: p.result };
    const deliveries: Array<Delivery & { record: MessageRecord }> = [];
    for (const d of p.deliveries) {
      const record = d.record ?? records?.get(d.offset);
      if (record) deliveries.push({ ...d, record });
    }
    return { id: p.id, result: { type: 'received', deliveries } };
  });
}

/**
 * The writer's paging job: delayed messages, loaded when no write is in flight, so the scan sees
 * every delayed message written before it and a release is never lost.
 */
function writerPage(context: PartitionContext): PageInput | undefined {
  const ledger = context.ledger;
  if (!ledger || ledger.hasChanges || !ledger.needsTimers || context.inflight.length > 0) return undefined;
  return { kind: 'timers', queue: context.queue, partition: context.partition, from: ledger.timersFrom, limit: TIMER_PAGE };
}

/** The reader's scan: refill the window first, then look for messages past retention, then remove purged keys. */
function readerScan(context: PartitionContext): PageInput | undefined {
  const ledger = context.ledger;
  if (!ledger) return undefined;
  const { queue, partition } = context;
  if (context.streamLog) return streamScan(context, context.streamLog);
  if (ledger.needsWindow && ledger.windowFrom < context.committedOffset) {
    return { kind: 'window', queue, partition, from: ledger.windowFrom, end: context.committedOffset, limit: ledger.windowWanted };
  }
  const now = context.now();
  if (now - context.lastRetention >= context.retentionCheckMs) {
    const from = ledger.retentionStart;
    return { kind: 'retention', queue, partition, from, end: context.committedOffset, sentBefore: now - context.retentionMs, limit: RETENTION_PAGE };
  }
  if (ledger.hasPurgedKeys) return { kind: 'purged', queue, partition, end: ledger.partitionState.purgedOffset, limit: PURGE_PAGE };
  return undefined;
}

/**
 * A stream's reader: no window to refill (nothing is received), only the head to trim, every
 * retentionCheckMs or at once while over its size limit, and purged keys to remove. Below the last
 * settled write only, like every scan.
 */
function streamScan(context: PartitionContext, stream: Stream): PageInput | undefined {
  const ledger = context.ledger as Ledger;
  const { queue, partition } = context;
  const due = context.now() - context.lastRetention >= context.retentionCheckMs || stream.overSize(context.stream?.retentionBytes ?? 0);
  if (due && stream.start < context.committedOffset) {
    return { kind: 'streamHead', queue, partition, from: stream.start, end: context.committedOffset, limit: RETENTION_PAGE };
  }
  if (ledger.hasPurgedKeys) return { kind: 'purged', queue, partition, end: ledger.partitionState.purgedOffset, limit: PURGE_PAGE };
  return undefined;
}
