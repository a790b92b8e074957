/**
 * The partition actor: one queue partition's lifecycle and its group commit.
 *
 *   loading ──► serving.idle ──► serving.applying ──► serving.committing ──► serving.idle
 *                    │    ▲             └── nothing to write: answer at once ──┘
 *                    │    └── after tick: expire leases, release delayed messages
 *                    └──► serving.paging: refill the window, load delays, find expired messages
 *   a failed load or write ──► failed ──(retryDelay)──► loading
 *
 * Nothing is answered before the write that carries it is durable: replies are emitted from
 * `committing`'s onDone. Requests that arrive meanwhile wait in `queued` and all go into the next
 * write (group commit). The decisions are the ledger's (ledger.ts); this machine orders them
 * against storage. Time is read from `input.now`, the same clock the actor's timers run on.
 */
import { assign, enqueueActions, setup } from 'xstate';
import { declared } from '../declared.ts';
import { Ledger, type Delivery } from './ledger.ts';
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
} from './partition.events.ts';
import type { Change, MessageRecord } from './records.ts';

/** Receives wait for bodies read after the write; every other result is final once decided. */
type Pending = { id: number; result: PartitionResult } | { id: number; deliveries: Delivery[] };

export interface PartitionContext extends PartitionInput {
  ledger: Ledger | undefined;
  queued: PartitionRequest[];
  /** Results decided by the current write, waiting for it to be durable. */
  pending: Pending[];
  changes: Change[];
  reads: number[];
  page: PageInput | undefined;
  lastTick: number;
  lastRetention: number;
  error: { code: string; message: string } | undefined;
}

const TIMER_PAGE = 4096;
const RETENTION_PAGE = 1000;

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
    page: declared<PageOutput, PageInput>('page'),
  },
  actions: {
    recordError: assign({
      error: ({ event }) => {
        const err = (event as { error?: unknown }).error;
        return { code: 'storage_failure', message: err instanceof Error ? err.message : String(err) };
      },
    }),

    /** Runs the queued requests (and a due tick) through the ledger and collects the write. */
    apply: assign(({ context }) => {
      const ledger = context.ledger as Ledger;
      const now = context.now();
      const ticked = now - context.lastTick >= context.tickMs;
      if (ticked) ledger.tick(now, context.retentionMs);
      const pending: Pending[] = context.queued.map(({ id, op }) => {
        switch (op.type) {
          case 'send':
            ledger.append(op.messages, now);
            return { id, result: { type: 'sent' } };
          case 'receive':
            return {
              id,
              deliveries: ledger.receive(op.max, op.maxBytes, op.visibilityMs, now, context.retentionMs, op.attemptId),
            };
          case 'delete':
            return { id, result: { type: 'handled', result: ledger.remove(op.offset, op.seq) } };
          case 'changeVisibility':
            return { id, result: { type: 'handled', result: ledger.changeVisibility(op.offset, op.seq, op.visibilityMs, now) } };
          case 'purge':
            return { id, result: { type: 'purged', count: ledger.purge() } };
          default:
            return op satisfies never;
        }
      });
      const reads: number[] = [];
      for (const p of pending) {
        if ('deliveries' in p) for (const d of p.deliveries) if (d.record === undefined) reads.push(d.offset);
      }
      return {
        queued: [],
        pending,
        reads,
        changes: ledger.takeChanges(),
        lastTick: ticked ? now : context.lastTick,
      };
    }),

    /** The write is durable: answer everyone who waited for it. */
    finish: enqueueActions(({ context, event, enqueue }) => {
      const records = (event as unknown as { output?: CommitOutput }).output?.records;
      const replies = context.pending.map((p): PartitionReply => {
        if ('result' in p) return { id: p.id, result: p.result };
        const deliveries: Array<Delivery & { record: MessageRecord }> = [];
        for (const d of p.deliveries) {
          const record = d.record ?? records?.get(d.offset);
          if (record) deliveries.push({ ...d, record });
        }
        return { id: p.id, result: { type: 'received', deliveries } };
      });
      enqueue.assign({ pending: [], changes: [], reads: [] });
      if (replies.length > 0) enqueue.emit({ type: 'replies', replies });
      if (context.ledger?.hasReady) enqueue.emit({ type: 'ready' });
    }),

    /** Answers every waiting request with a retryable failure. */
    failAll: enqueueActions(({ context, enqueue }) => {
      const failed = (id: number, code: string, message: string): PartitionReply => ({
        id,
        result: { type: 'failed', code, message },
      });
      const message = context.error?.message ?? 'the partition is restarting';
      const replies = [
        ...context.pending.map((p) => failed(p.id, 'storage_failure', message)),
        ...context.queued.map((r) => failed(r.id, 'unavailable', 'the partition is restarting')),
      ];
      enqueue.assign({ pending: [], queued: [], changes: [], reads: [], ledger: undefined });
      if (replies.length > 0) enqueue.emit({ type: 'replies', replies });
    }),

    /** Expires leases and releases due delays; says so when that made messages ready. */
    tick: enqueueActions(({ context, enqueue }) => {
      const now = context.now();
      const ledger = context.ledger as Ledger;
      ledger.tick(now, context.retentionMs);
      enqueue.assign({ lastTick: now });
      if (ledger.hasReady) enqueue.emit({ type: 'ready' });
    }),

    choosePage: assign(({ context }) => {
      const page = pageJob(context) as PageInput;
      return { page, lastRetention: page.kind === 'retention' ? context.now() : context.lastRetention };
    }),

    applyPage: enqueueActions(({ context, event, enqueue }) => {
      const ledger = context.ledger as Ledger;
      const output = (event as unknown as { output: PageOutput }).output;
      switch (output.kind) {
        case 'window':
          ledger.fillWindow(output.scanned, output.complete);
          break;
        case 'timers':
          ledger.fillTimers(output.scanned, output.complete);
          break;
        case 'retention':
          ledger.expire(output.expired);
          break;
      }
      enqueue.assign({ page: undefined });
      if (ledger.hasReady) enqueue.emit({ type: 'ready' });
    }),
  },
  delays: {
    tick: ({ context }) => context.tickMs,
    retryDelay: ({ context }) => Math.max(context.tickMs * 10, 1000),
  },
  guards: {
    hasWork: ({ context }) => context.queued.length > 0 || (context.ledger?.hasChanges ?? false),
    needsPage: ({ context }) => pageJob(context) !== undefined,
    nothingToWrite: ({ context }) => context.changes.length === 0 && context.reads.length === 0,
  },
}).createMachine({
  id: 'partition',
  context: ({ input }) => ({
    ...input,
    ledger: undefined,
    queued: [],
    pending: [],
    changes: [],
    reads: [],
    page: undefined,
    lastTick: 0,
    lastRetention: 0,
    error: undefined,
  }),
  on: {
    requests: { actions: assign({ queued: ({ context, event }) => context.queued.concat(event.items) }) },
    configure: { actions: assign({ retentionMs: ({ event }) => event.retentionMs }) },
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
            ledger: ({ context, event }) => new Ledger(event.output, { ...context.limits }, context.now()),
            error: undefined,
          }),
        },
        onError: { target: 'failed', actions: 'recordError' },
      },
    },
    serving: {
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
          always: [{ guard: 'nothingToWrite', target: 'idle', actions: 'finish' }, { target: 'committing' }],
        },
        committing: {
          invoke: {
            src: 'commit',
            input: ({ context }) => ({
              queue: context.queue,
              partition: context.partition,
              changes: context.changes,
              reads: context.reads,
            }),
            onDone: { target: 'idle', actions: 'finish' },
            onError: { target: '#partition.failed', actions: 'recordError' },
          },
        },
        paging: {
          invoke: {
            src: 'page',
            input: ({ context }) => context.page as PageInput,
            onDone: { target: 'idle', actions: 'applyPage' },
            onError: { target: '#partition.failed', actions: 'recordError' },
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

/** The next paging job: delayed messages first (they have deadlines), then the window, then retention. */
function pageJob(context: PartitionContext): PageInput | undefined {
  const ledger = context.ledger;
  if (!ledger || ledger.hasChanges) return undefined;
  const { queue, partition } = context;
  if (ledger.needsTimers) return { kind: 'timers', queue, partition, from: ledger.timersFrom, limit: TIMER_PAGE };
  if (ledger.needsWindow) {
    return { kind: 'window', queue, partition, from: ledger.windowFrom, limit: context.limits.windowMessages };
  }
  const now = context.now();
  if (now - context.lastRetention >= context.retentionCheckMs) {
    return { kind: 'retention', queue, partition, sentBefore: now - context.retentionMs, limit: RETENTION_PAGE };
  }
  return undefined;
}
