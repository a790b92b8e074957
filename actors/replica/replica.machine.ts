/**
 * The replica actor: one copy of one partition on this node, and its role in the partition's
 * replication. The assignment (from the metadata service) says who should be primary at which
 * epoch; the replica decides what that means for it, at safe points only (never while one of its
 * own writes is under way).
 *
 *   loading ──► deciding ─┬─► standby       no primary, or an assignment older than what it has seen
 *                         ├─► fencing       persist a newer epoch before anything else
 *                         ├─► following     fetch ─► persist | truncate ─► fetch …   (learner: same, not counted)
 *                         ├─► promoting     apply the whole log, append the epoch's first entry,
 *                         │                 wait for it to commit and for the old lease to run out
 *                         └─► primary       the partition actor serves clients ─► steppingDown ─► deciding
 *   a newer epoch seen by the primary ──► fenced (waits for the assignment to catch up)
 *   removed from the assignment ──► dropping ──► gone
 *
 * Entries and fetches carry epochs; a replica never goes back to an epoch below `meta.epoch`.
 */
import { withRetention } from '../partition/stream.ts';
import { assign, sendTo, setup } from 'xstate';
import type { Assignment, ReplicaRole } from '../../src/meta/records.ts';
import { declared, declaredAction } from '../declared.ts';
import { partitionMachine } from '../partition/partition.machine.ts';
import type { PartitionInput } from '../partition/partition.events.ts';
import type { FetchRequest } from './followers.ts';
import { emptyReplica, epochAt, isAmnesiac, type ReplicaMeta } from './log.ts';

export type FetchOutput =
  | { kind: 'entries'; epoch: number; from: number; entries: Uint8Array[]; commit: number; token: number }
  | { kind: 'truncate'; epoch: number; to: number }
  /** The entries it needs are no longer in the primary's log: copy a snapshot of the state. */
  | { kind: 'snapshot'; epoch: number }
  | { kind: 'fenced'; epoch: number };

/** A page of a snapshot copy, asked of the primary (page 0 opens a copy; `copy` names it after). */
export interface SnapshotRequest {
  follower: string;
  epoch: number;
  copy: string;
  page: number;
}

export type SnapshotOutput =
  | {
      kind: 'page';
      epoch: number;
      copy: string;
      /** The log index the copied state reflects, and the epoch history below it. */
      index: number;
      epochs: ReplicaMeta['epochs'];
      rows: Array<[string, Uint8Array]>;
      done: boolean;
    }
  /** The copy ended (another epoch, a new copy, or it was abandoned): start over. */
  | { kind: 'fenced'; epoch: number };

/** A fetch as the follower sends it (the primary learns `follower` from the frame), and to whom. */
/** A fetch, and for the effect alone the primary to ask and the queue's incarnation (the answer's token is recorded under it). */
export type FetchInput = Omit<FetchRequest, 'follower'> & { primary: string; incarnation: number };

export interface PersistInput {
  meta: ReplicaMeta;
  reply: Extract<FetchOutput, { kind: 'entries' }>;
}

export interface PromoteInput {
  meta: ReplicaMeta;
  epoch: number;
  voters: string[];
  commit: number;
  /** The primary of the epoch before (Assignment.previous): asked to release its lease. */
  previous?: { primary: string; epoch: number };
}

export interface ReplicaInput {
  queue: string;
  partition: number;
  incarnation: number;
  self: string;
  /** What the partition actor gets when this replica becomes primary. */
  partition$: PartitionInput;
  /** Pause after a failed fetch or write, ms. */
  retryMs: number;
}

/** Every effect is told which replica it works for. */
export interface ReplicaKey {
  queue: string;
  partition: number;
}

export type ReplicaEvent =
  | { type: 'assignment'; assignment: Assignment }
  | { type: 'superseded'; epoch: number }
  | { type: 'configure'; retentionMs: number; dedupWindowMs?: number; retentionBytes?: number; deadLetterOnExpiry?: boolean }
  | { type: 'remove' }
  | { type: 'stop' };

export interface ReplicaContext extends ReplicaInput {
  meta: ReplicaMeta;
  assignment: Assignment | undefined;
  /** The assignment the current role was decided from. */
  decidedFrom: Assignment | undefined;
  /** Entries below this index are known to be committed. */
  commit: number;
  /** The token of the last answer from the primary, echoed in the next fetch (the primary's lease). */
  token: number;
  /** The log lost entries it had acknowledged: catch up past `catchUpTo` before counting again. */
  amnesiac: boolean;
  catchUpTo: number;
  lastFetch: FetchOutput | undefined;
  /** Fetches in a row that were refused or failed: the wait before the next one doubles with each. */
  fetchFailures: number;
  /** The highest epoch a superseding fetch showed while this replica was primary (persisted after stepping down). */
  seenEpoch: number;
  /** One of its own writes is under way (see `remove`). */
  writing: boolean;
  removeRequested: boolean;
  error: string | undefined;
}

/**
 * The highest epoch a partition can reach. A primary's message sequence numbers start at
 * epoch × 2^32 and must stay exact in a double (below 2^53); an epoch above this in a frame is
 * refused as malformed (src/protocol/internal.ts).
 */
export const MAX_EPOCH = 2 ** 21 - 1;

/** The first wait after a refused or failed fetch, ms (see the `fetchRetry` delay). */
export const FIRST_FETCH_RETRY_MS = 25;

const key = (c: ReplicaContext): ReplicaKey => ({ queue: c.queue, partition: c.partition });
const isVoter = (a: Assignment | undefined, self: string) => a !== undefined && a.replicas.includes(self);
const isMember = (a: Assignment | undefined, self: string) => a !== undefined && (a.replicas.includes(self) || a.learners.includes(self));

/** Whether a new assignment changes what this replica should do. */
function changed(before: Assignment | undefined, after: Assignment | undefined): boolean {
  if (before === undefined || after === undefined) return before !== after;
  return before.epoch !== after.epoch || before.primary !== after.primary || before.replicas.join() !== after.replicas.join() || before.learners.join() !== after.learners.join();
}

export function replicaRole(snapshot: { value: unknown; context: ReplicaContext; children?: Record<string, unknown> }): ReplicaRole {
  const state = typeof snapshot.value === 'string' ? snapshot.value : Object.keys(snapshot.value as object)[0];
  const { context } = snapshot;
  switch (state) {
    case 'loading':
      return 'loading';
    case 'primary':
      // A primary whose store failed its partition reloads and fails again for as long as the
      // store does (RocksDB stays read-only after a failed WAL write until it is reopened): it
      // says so, and the manager moves the partition to a replica that can write.
      return storeFailed(snapshot.children?.['partition']) ? 'failed' : 'primary';
    case 'fenced':
      return 'fenced';
    case 'failed':
      return 'failed';
    case 'promoting':
    case 'steppingDown':
      return 'follower';
    default:
      return context.amnesiac || (context.assignment?.learners.includes(context.self) ?? false) ? 'learner' : 'follower';
  }
}

/** The partition actor's last failure was the local store's (a write or a load), and it has not loaded since. */
function storeFailed(partition: unknown): boolean {
  if (typeof partition !== 'object' || partition === null || !('getSnapshot' in partition)) return false;
  const { context } = (partition as { getSnapshot(): { context: { error?: { code: string } } } }).getSnapshot();
  return context.error?.code === 'storage_failure';
}

export const replicaMachine = setup({
  types: {
    context: {} as ReplicaContext,
    events: {} as ReplicaEvent,
    input: {} as ReplicaInput,
  },
  actors: {
    partition: partitionMachine,
    loadReplica: declared<ReplicaMeta, ReplicaKey & { incarnation: number }>('loadReplica'),
    saveEpoch: declared<ReplicaMeta, ReplicaKey & { meta: ReplicaMeta; epoch: number }>('saveEpoch'),
    fetch: declared<FetchOutput, ReplicaKey & FetchInput>('fetch'),
    persist: declared<ReplicaMeta, ReplicaKey & PersistInput>('persist'),
    truncate: declared<ReplicaMeta, ReplicaKey & { meta: ReplicaMeta; to: number }>('truncate'),
    beginInstall: declared<ReplicaMeta, ReplicaKey & { meta: ReplicaMeta }>('beginInstall'),
    install: declared<ReplicaMeta, ReplicaKey & { meta: ReplicaMeta; primary: string; epoch: number }>('install'),
    promote: declared<ReplicaMeta, ReplicaKey & PromoteInput>('promote'),
    stepDown: declared<ReplicaMeta, ReplicaKey & { meta: ReplicaMeta; reason: string }>('stepDown'),
    dropReplica: declared<void, ReplicaKey & { incarnation: number }>('dropReplica'),
  },
  actions: {
    /** The primary's voting set changed while it serves (a learner promoted, a replica replaced). */
    updateVoters: declaredAction('updateVoters'),
    rememberEpoch: assign({
      seenEpoch: ({ context, event }) => Math.max(context.seenEpoch, (event as { epoch?: number }).epoch ?? 0),
    }),
    afterStepDown: assign(({ event }) => {
      const meta = (event as unknown as { output: ReplicaMeta }).output;
      return { meta, commit: meta.applied };
    }),
    countFetchFailure: assign({ fetchFailures: ({ context }) => context.fetchFailures + 1 }),
    afterPersist: assign(({ context, event }) => {
      const meta = (event as unknown as { output: ReplicaMeta }).output;
      const reply = context.lastFetch as Extract<FetchOutput, { kind: 'entries' }>;
      return { meta, commit: Math.max(context.commit, reply.commit), token: reply.token, amnesiac: isAmnesiac(meta), catchUpTo: meta.mark };
    }),
    /** Its log was cut, emptied or replaced by a snapshot: whether it still lacks what it acknowledged. */
    afterReset: assign(({ context, event }) => {
      const meta = (event as unknown as { output: ReplicaMeta }).output;
      return { meta, commit: Math.max(context.commit, meta.applied), amnesiac: isAmnesiac(meta), catchUpTo: meta.mark };
    }),
  },
  guards: {
    needsEpoch: ({ context }) => (context.assignment?.epoch ?? 0) > context.meta.epoch,
    staleOrNoPrimary: ({ context }) => {
      const a = context.assignment;
      return a === undefined || a.epoch < context.meta.epoch || a.primary === null || !isMember(a, context.self);
    },
    shouldLead: ({ context }) => {
      const a = context.assignment;
      return a !== undefined && a.primary === context.self && isVoter(a, context.self) && !context.amnesiac;
    },
    assignmentChanged: ({ context }) => changed(context.decidedFrom, context.assignment),
    /** A fenced primary decides again once the assignment is past the epoch it served. */
    leftBehind: ({ context }) => {
      const a = context.assignment;
      return a !== undefined && (a.epoch > context.meta.epoch || a.primary !== context.self || changed(context.decidedFrom, a));
    },
    removed: ({ context }) => context.assignment === undefined,
  },
  delays: {
    retry: ({ context }) => context.retryMs,
    /**
     * After a refused or failed fetch: FIRST_FETCH_RETRY_MS, doubling up to retryMs. A newly
     * elected primary refuses fetches until its log is open, and its first entry commits only once
     * a follower fetches it: a full retryMs there would be added to every election.
     */
    fetchRetry: ({ context }) => Math.min(context.retryMs, FIRST_FETCH_RETRY_MS * 2 ** Math.max(0, context.fetchFailures - 1)),
  },
}).createMachine({
  id: 'replica',
  context: ({ input }) => ({
    ...input,
    meta: emptyReplica(input.incarnation),
    assignment: undefined,
    decidedFrom: undefined,
    commit: 0,
    token: 0,
    amnesiac: false,
    catchUpTo: 0,
    lastFetch: undefined,
    fetchFailures: 0,
    seenEpoch: 0,
    writing: false,
    removeRequested: false,
    error: undefined,
  }),
  on: {
    assignment: { actions: assign({ assignment: ({ event }) => event.assignment }) },
    configure: {
      actions: assign({ partition$: ({ context, event }) => configured(context.partition$, event) }),
    },
    // Never while one of its writes runs: dropping the data under it would race that write.
    remove: [{ guard: ({ context }) => context.writing, actions: assign({ removeRequested: true }) }, { target: '.dropping' }],
    stop: { target: '.stopped' },
  },
  initial: 'loading',
  states: {
    loading: {
      invoke: {
        src: 'loadReplica',
        input: ({ context }) => ({ queue: context.queue, partition: context.partition, incarnation: context.incarnation }),
        onDone: {
          target: 'deciding',
          actions: assign(({ event }) => ({
            meta: event.output,
            commit: event.output.applied,
            // Fewer entries than it once acknowledged: it must not vote or lead until it has them again.
            amnesiac: isAmnesiac(event.output),
            catchUpTo: event.output.mark,
          })),
        },
        onError: { target: 'failed', actions: assign({ error: ({ event }) => String(event.error) }) },
      },
    },
    deciding: {
      entry: assign({
        decidedFrom: ({ context }) => context.assignment,
        lastFetch: undefined,
        // A token is the clock of the primary that issued it: worthless to any other primary.
        token: ({ context }) =>
          context.decidedFrom?.primary === context.assignment?.primary && context.decidedFrom?.epoch === context.assignment?.epoch ? context.token : 0,
      }),
      always: [
        { guard: ({ context }) => context.removeRequested, target: 'dropping' },
        { guard: 'needsEpoch', target: 'fencing' },
        { guard: 'staleOrNoPrimary', target: 'standby' },
        { guard: 'shouldLead', target: 'promoting' },
        { target: 'following' },
      ],
    },
    standby: {
      on: { assignment: { target: 'deciding', actions: assign({ assignment: ({ event }) => event.assignment }) } },
    },
    fencing: {
      entry: assign({ writing: true }),
      exit: assign({ writing: false }),
      invoke: {
        src: 'saveEpoch',
        input: ({ context }) => ({ ...key(context), meta: context.meta, epoch: context.assignment?.epoch ?? context.meta.epoch }),
        onDone: { target: 'deciding', actions: assign({ meta: ({ event }) => event.output }) },
        onError: { target: 'failed', actions: assign({ error: ({ event }) => String(event.error) }) },
      },
    },
    following: {
      // A new decision (another primary, perhaps): its first refusal waits the shortest time again.
      entry: assign({ fetchFailures: 0 }),
      initial: 'fetching',
      states: {
        fetching: {
          always: { guard: ({ context }) => context.removeRequested, target: '#replica.dropping' },
          on: {
            // A fetch only reads: it can be abandoned at once.
            assignment: {
              guard: ({ context, event }) => changed(context.decidedFrom, event.assignment),
              target: '#replica.deciding',
              actions: assign({ assignment: ({ event }) => event.assignment }),
            },
          },
          invoke: {
            src: 'fetch',
            input: ({ context }) => ({
              ...key(context),
              primary: context.assignment?.primary ?? '',
              incarnation: context.meta.incarnation,
              epoch: context.meta.epoch,
              from: context.meta.logEnd,
              lastEpoch: epochAt(context.meta.epochs, context.meta.logEnd),
              token: context.token,
              learner: context.amnesiac || (context.assignment?.learners.includes(context.self) ?? false),
            }),
            onDone: [
              {
                guard: ({ event }) => event.output.kind === 'entries',
                target: 'persisting',
                actions: assign({ lastFetch: ({ event }) => event.output, fetchFailures: 0 }),
              },
              {
                guard: ({ event }) => event.output.kind === 'truncate',
                target: 'truncating',
                actions: assign({ lastFetch: ({ event }) => event.output, fetchFailures: 0 }),
              },
              {
                guard: ({ event }) => event.output.kind === 'snapshot',
                target: 'emptying',
                actions: assign({ lastFetch: ({ event }) => event.output, fetchFailures: 0 }),
              },
              // Fenced: the primary is at another epoch, or not serving yet; wait for it, or for the
              // assignment to say who leads now.
              { target: 'waiting', actions: 'countFetchFailure' },
            ],
            onError: { target: 'waiting', actions: 'countFetchFailure' },
          },
        },
        waiting: {
          // A new assignment (stored by the machine-wide handler) is acted on at once, not after
          // the wait: a follower that found its primary gone or fenced waits here, and every
          // failover would wait with it (the frozen report the election needs, then the new
          // primary's first commit).
          always: { guard: 'assignmentChanged', target: '#replica.deciding' },
          after: { fetchRetry: 'fetching' },
        },
        persisting: {
          entry: assign({ writing: true }),
          exit: assign({ writing: false }),
          invoke: {
            src: 'persist',
            input: ({ context }) => ({ ...key(context), meta: context.meta, reply: context.lastFetch as Extract<FetchOutput, { kind: 'entries' }> }),
            onDone: [
              {
                guard: 'assignmentChanged',
                target: '#replica.deciding',
                actions: 'afterPersist',
              },
              { target: 'fetching', reenter: true, actions: 'afterPersist' },
            ],
            onError: { target: '#replica.failed', actions: assign({ error: ({ event }) => String(event.error) }) },
          },
        },
        truncating: {
          entry: assign({ writing: true }),
          exit: assign({ writing: false }),
          invoke: {
            src: 'truncate',
            input: ({ context }) => ({ ...key(context), meta: context.meta, to: (context.lastFetch as Extract<FetchOutput, { kind: 'truncate' }>).to }),
            onDone: [
              { guard: 'assignmentChanged', target: '#replica.deciding', actions: 'afterReset' },
              { target: 'fetching', actions: 'afterReset' },
            ],
            onError: { target: '#replica.failed', actions: assign({ error: ({ event }) => String(event.error) }) },
          },
        },
        /** Before a snapshot is copied in, the log and state go, durably marked as a copy under way. */
        emptying: {
          entry: assign({ writing: true }),
          exit: assign({ writing: false }),
          invoke: {
            src: 'beginInstall',
            input: ({ context }) => ({ ...key(context), meta: context.meta }),
            onDone: [
              { guard: 'assignmentChanged', target: '#replica.deciding', actions: 'afterReset' },
              { target: 'installing', actions: 'afterReset' },
            ],
            onError: { target: '#replica.failed', actions: assign({ error: ({ event }) => String(event.error) }) },
          },
        },
        /**
         * Pages of the primary's state are copied in; then it fetches the log from the snapshot's
         * index. A failed copy (the primary changed, a lost page) starts over from `fetching`: the
         * primary answers `snapshot` again, and `emptying` clears the partial copy.
         */
        installing: {
          entry: assign({ writing: true }),
          exit: assign({ writing: false }),
          invoke: {
            src: 'install',
            input: ({ context }) => ({ ...key(context), meta: context.meta, primary: context.assignment?.primary ?? '', epoch: context.meta.epoch }),
            onDone: [
              { guard: 'assignmentChanged', target: '#replica.deciding', actions: 'afterReset' },
              { target: 'fetching', actions: 'afterReset' },
            ],
            onError: { target: 'waiting' },
          },
        },
      },
    },
    promoting: {
      entry: assign({ writing: true }),
      exit: assign({ writing: false }),
      invoke: {
        src: 'promote',
        input: ({ context }) => ({
          ...key(context),
          meta: context.meta,
          epoch: context.meta.epoch,
          voters: context.assignment?.replicas ?? [context.self],
          commit: context.commit,
          ...previousOf(context.assignment, context.meta.epoch),
        }),
        onDone: [
          // The assignment moved on while it promoted: serve nothing, step down and decide again.
          { guard: 'assignmentChanged', target: 'steppingDown', actions: assign({ meta: ({ event }) => event.output }) },
          { target: 'primary', actions: assign({ meta: ({ event }) => event.output }) },
        ],
        // Another primary, or a lost lease before the first commit: back to deciding from the disk's view.
        onError: { target: 'steppingDown', actions: assign({ error: ({ event }) => String(event.error) }) },
      },
      on: { superseded: { target: 'steppingDown', actions: 'rememberEpoch' } },
    },
    primary: {
      // The partition actor serves clients; it is found as this actor's child `partition`.
      invoke: {
        src: 'partition',
        id: 'partition',
        input: ({ context }) => ({ ...context.partition$, seqFloor: context.meta.epoch * 2 ** 32 }),
      },
      on: {
        assignment: [
          {
            guard: ({ context, event }) =>
              event.assignment.epoch > context.meta.epoch || event.assignment.primary !== context.self || !isVoter(event.assignment, context.self),
            target: 'steppingDown',
            actions: assign({ assignment: ({ event }) => event.assignment }),
          },
          { actions: [assign({ assignment: ({ event }) => event.assignment }), 'updateVoters'] },
        ],
        superseded: { target: 'fenced', actions: 'rememberEpoch' },
        configure: {
          actions: [
            assign({ partition$: ({ context, event }) => configured(context.partition$, event) }),
            sendTo('partition', ({ event }) => event),
          ],
        },
      },
    },
    steppingDown: {
      entry: assign({ writing: true }),
      exit: assign({ writing: false }),
      invoke: {
        src: 'stepDown',
        input: ({ context }) => ({ ...key(context), meta: context.meta, reason: 'a newer assignment' }),
        onDone: { target: 'savingSeenEpoch', actions: 'afterStepDown' },
        onError: { target: 'failed', actions: assign({ error: ({ event }) => String(event.error) }) },
      },
    },
    /** A newer epoch learned from a follower's fetch is persisted before anything else. */
    savingSeenEpoch: {
      entry: assign({ writing: true }),
      exit: assign({ writing: false }),
      always: { guard: ({ context }) => context.seenEpoch <= context.meta.epoch, target: 'deciding' },
      invoke: {
        src: 'saveEpoch',
        input: ({ context }) => ({ ...key(context), meta: context.meta, epoch: context.seenEpoch }),
        onDone: { target: 'deciding', actions: assign({ meta: ({ event }) => event.output }) },
        onError: { target: 'failed', actions: assign({ error: ({ event }) => String(event.error) }) },
      },
    },
    fenced: {
      initial: 'stepping',
      states: {
        // Assignments arriving meanwhile are only recorded (root handler): the step-down's write comes first.
        stepping: {
          entry: assign({ writing: true }),
          exit: assign({ writing: false }),
          invoke: {
            src: 'stepDown',
            input: ({ context }) => ({ ...key(context), meta: context.meta, reason: 'a newer epoch exists' }),
            onDone: { target: 'saving', actions: 'afterStepDown' },
            onError: { target: '#replica.failed', actions: assign({ error: ({ event }) => String(event.error) }) },
          },
        },
        saving: {
          entry: assign({ writing: true }),
          exit: assign({ writing: false }),
          always: { guard: ({ context }) => context.seenEpoch <= context.meta.epoch, target: 'waiting' },
          invoke: {
            src: 'saveEpoch',
            input: ({ context }) => ({ ...key(context), meta: context.meta, epoch: context.seenEpoch }),
            onDone: { target: 'waiting', actions: assign({ meta: ({ event }) => event.output }) },
            onError: { target: '#replica.failed', actions: assign({ error: ({ event }) => String(event.error) }) },
          },
        },
        waiting: {
          always: [
            { guard: ({ context }) => context.removeRequested, target: '#replica.dropping' },
            { guard: 'leftBehind', target: '#replica.deciding' },
          ],
          on: {
            assignment: { target: 'waiting', reenter: true, actions: assign({ assignment: ({ event }) => event.assignment }) },
          },
        },
      },
    },
    failed: {
      after: { retry: 'loading' },
    },
    dropping: {
      invoke: {
        src: 'dropReplica',
        input: ({ context }) => ({ queue: context.queue, partition: context.partition, incarnation: context.incarnation }),
        onDone: 'gone',
        onError: 'gone',
      },
    },
    gone: { type: 'final' },
    stopped: { type: 'final' },
  },
});

/** The partition input after a change of the queue's attributes (a partition started later starts with it). */
function configured(
  input: PartitionInput,
  event: { retentionMs: number; dedupWindowMs?: number; retentionBytes?: number; deadLetterOnExpiry?: boolean },
): PartitionInput {
  return {
    ...withRetention(input, event),
    ...(event.dedupWindowMs === undefined ? {} : { dedupWindowMs: event.dedupWindowMs }),
    ...(event.deadLetterOnExpiry === undefined ? {} : { deadLetterOnExpiry: event.deadLetterOnExpiry }),
  };
}

/** The assignment's previous primary, when it is of an epoch before the one being promoted to. */
function previousOf(assignment: Assignment | undefined, epoch: number): Pick<PromoteInput, 'previous'> {
  const previous = assignment?.previous;
  return previous !== undefined && previous.epoch < epoch ? { previous } : {};
}
