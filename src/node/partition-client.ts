/**
 * The node's handle on the partition actor of one of its replicas while that replica is primary:
 * requests wait here until the node's fair scheduler (fair-scheduler.ts) gives the partition its
 * turn, then go to the actor as one batch (one durable write), and replies come back through the
 * actor's emitted `replies` events. The partition actor is the
 * replica's child and changes with each promotion; requests outstanding when it stops get `timeout`
 * (their writes may or may not have been committed).
 */
import type { ActorRefFrom, Subscription } from 'xstate';
import type { Logger } from './log.ts';
import type { partitionMachine } from '../../actors/partition/partition.machine.ts';
import type { PartitionOp, PartitionRequest, PartitionResult, StreamRead } from '../../actors/partition/partition.events.ts';
import type { replicaMachine } from '../../actors/replica/replica.machine.ts';
import type { Store } from '../storage/store.ts';
import type { PartitionLoad } from '../meta/records.ts';
import { recordSize } from '../../actors/partition/records.ts';
import { isStreamRead, serveStreamRead } from './stream-reads.ts';
import Denque from 'denque';
import { FairScheduler, opCost, type Pending } from './fair-scheduler.ts';
import { drainingSend, type DrainingKnowledge } from '../../actors/partition/draining.ts';
import type { NewMessage } from '../../actors/partition/ledger.ts';

/** Without the node's scheduler (tests of one partition): everything pending goes at the next turn. */
const UNSCHEDULED = new FairScheduler({ quantum: Infinity, maxPending: Infinity });

type PartitionRef = ActorRefFrom<typeof partitionMachine>;
type ReplicaRef = ActorRefFrom<typeof replicaMachine>;

export type Counts = { visible: number; inflight: number; delayed: number; deadLettered?: number; storedBytes?: number };
/** A partition's counts as GetQueueAttributes reports them: with the age of its oldest message. */
export type PartitionCounts = Counts & { oldestAgeMs: number };

export class PartitionClient implements Pending {
  private nextId = 1;
  /** Requests not yet handed to the actor, oldest first, with their cost (fair-scheduler.ts). */
  private readonly pending = new Denque<PartitionRequest & { cost: number }>();
  private pendingCost = 0;
  private readonly scheduler: FairScheduler;
  /** The cost of the requests the actor holds for its next write, and the array it was summed from. */
  private held = 0;
  private heldOf: readonly PartitionRequest[] | undefined;
  private readonly waiting = new Map<number, { resolve: (result: PartitionResult) => void; ref: PartitionRef }>();
  private readonly readyListeners = new Set<() => void>();
  private attached: PartitionRef | undefined;
  private readonly detach: Array<{ unsubscribe(): void }> = [];
  readonly replica: ReplicaRef;
  private readonly log: Logger;
  private readonly watch: Subscription;

  /** Stream reads come from here (stream-reads.ts); without a store they are refused. */
  private readonly store: Store | undefined;
  /** Milliseconds since the partition's oldest message was sent, from the store (oldest-message.ts). */
  private readonly oldestAgeMs: (() => Promise<number>) | undefined;

  /**
   * Whether the partition is no longer active in the metadata this node has: sends are refused from
   * then on, so once it reports sealed and empty nothing can arrive any more (layout.ts).
   */
  private readonly sealed: () => boolean;
  /** Messages sent to it through this client, and their bytes: the load its heartbeat reports. */
  private sent = 0;
  private sentBytes = 0;
  /** Message groups of sends handed to the actor and not answered yet, with how many messages each. */
  private readonly sending = new Map<string, number>();
  /**
   * On a cluster of independent hosts, the host's hybrid logical clock (src/hosts/host-clock.ts):
   * each message sent gets its timestamp as it goes to the actor, so stamps rise in log order.
   */
  private readonly stamp: (() => Uint8Array) | undefined;

  constructor(
    replica: ReplicaRef,
    log: Logger,
    store?: Store,
    oldestAgeMs?: () => Promise<number>,
    sealed: () => boolean = () => false,
    scheduler: FairScheduler = UNSCHEDULED,
    stamp?: () => Uint8Array,
  ) {
    this.stamp = stamp;
    this.scheduler = scheduler;
    this.replica = replica;
    this.log = log;
    this.store = store;
    this.oldestAgeMs = oldestAgeMs;
    this.sealed = sealed;
    this.watch = replica.subscribe(() => this.attach());
    this.attach();
  }

  /** The serving partition actor, if this replica is primary now. */
  private current(): PartitionRef | undefined {
    const snapshot = this.replica.getSnapshot();
    if (snapshot.status !== 'active') return undefined;
    return snapshot.children['partition'] as PartitionRef | undefined;
  }

  private attach(): void {
    const ref = this.current();
    if (ref === this.attached) return;
    for (const d of this.detach.splice(0)) d.unsubscribe();
    this.failFrom(this.attached);
    this.attached = ref;
    // Requests left pending for the old actor go to the new one, or are answered `not_leader`.
    if (this.pending.length > 0) this.scheduler.wake(this);
    if (!ref) return;
    let failed = false;
    this.detach.push(
      ref.subscribe({
        next: (snapshot) => {
          // Its next write took what it held: it takes requests again (fair-scheduler.ts).
          if (this.pending.length > 0 && this.holdsRoom(snapshot.context.queued)) this.scheduler.wake(this);
          const now = snapshot.matches('failed');
          if (now && !failed) this.log.error({ err: snapshot.context.error }, 'partition failed; reloading from disk');
          else if (!now && failed && snapshot.matches('serving')) this.log.info('partition serving again');
          failed = now;
        },
        complete: () => this.failFrom(ref),
      }),
      ref.on('replies', ({ replies }) => {
        for (const { id, result } of replies) {
          const w = this.waiting.get(id);
          if (w) {
            this.waiting.delete(id);
            w.resolve(result);
          }
        }
      }),
      ref.on('ready', () => {
        for (const listener of this.readyListeners) listener();
      }),
    );
  }

  /** Requests sent to a partition actor that stopped: their outcome is unknown. */
  private failFrom(ref: PartitionRef | undefined): void {
    if (!ref) return;
    for (const [id, w] of this.waiting) {
      if (w.ref !== ref) continue;
      this.waiting.delete(id);
      w.resolve({ type: 'failed', code: 'timeout', message: 'the partition stopped serving: the outcome is unknown' });
    }
  }

  request(op: PartitionOp): Promise<PartitionResult> {
    if (isStreamRead(op)) return this.read(op);
    const cost = opCost(op);
    if (this.pendingCost + cost > this.scheduler.maxPending && this.pending.length > 0) {
      return Promise.resolve({
        type: 'failed',
        code: 'over_limit',
        message: `partition has ${this.pendingCost} messages of requests pending on this node (at most ${this.scheduler.maxPending}); retry shortly`,
      });
    }
    const id = this.nextId++;
    this.pending.push({ id, op, cost });
    this.pendingCost += cost;
    this.scheduler.wake(this);
    return new Promise((resolve) => {
      // Bound to the actor when handed over.
      this.waiting.set(id, { resolve, ref: undefined as unknown as PartitionRef });
    });
  }

  /** Not while the actor holds a full write's worth of requests for its next write (fair-scheduler.ts). */
  accepting(): boolean {
    const ref = this.serving ? this.current() : undefined;
    return ref === undefined || this.holdsRoom(ref.getSnapshot().context.queued);
  }

  /** Whether the requests an actor holds for its next write leave room for more. */
  private holdsRoom(queued: readonly PartitionRequest[]): boolean {
    // The actor replaces its array whenever it changes: the sum is taken once per array, not once
    // per snapshot and per scheduler turn.
    if (queued !== this.heldOf) {
      let held = 0;
      for (const { op } of queued) held += opCost(op);
      this.heldOf = queued;
      this.held = held;
    }
    return this.held < this.scheduler.maxWrite;
  }

  costAt(i: number): number | undefined {
    return this.pending.peekAt(i)?.cost;
  }

  /** Hands the oldest `count` pending requests to the actor as one batch (one durable write). */
  hand(count: number): void {
    const items: PartitionRequest[] = [];
    for (let i = 0; i < count; i++) {
      const { id, op, cost } = this.pending.shift() as PartitionRequest & { cost: number };
      this.pendingCost -= cost;
      items.push({ id, op });
    }
    const ref = this.serving ? this.current() : undefined;
    if (!ref) {
      for (const { id } of items) {
        this.waiting.get(id)?.resolve({ type: 'failed', code: 'not_leader', message: 'this replica is not serving as primary' });
        this.waiting.delete(id);
      }
      return;
    }
    // Checked as the batch goes to the actor, in order with everything it counts.
    const sealed = this.sealed();
    const admitted: PartitionRequest[] = [];
    for (const item of items) {
      const w = this.waiting.get(item.id);
      if (item.op.type === 'send' && sealed) {
        const answer = drainingSend(item.op.messages, this.knowledge(ref));
        if (answer.type !== 'accept') {
          this.waiting.delete(item.id);
          w?.resolve(answer.type === 'sent' ? answer : { type: 'failed', code: answer.code, message: answer.message });
          continue;
        }
      }
      if (item.op.type === 'send') {
        this.sent += item.op.messages.length;
        for (const m of item.op.messages) {
          if (this.stamp !== undefined) m.record.hlc = this.stamp();
          this.sentBytes += recordSize(m.record);
        }
        if (w) this.countGroups(item.op.messages, w);
      }
      if (w) w.ref = ref;
      admitted.push(item);
    }
    if (admitted.length > 0) ref.send({ type: 'requests', items: admitted });
  }

  /**
   * Counts the message groups of a send from its hand-over to its answer: until then the ledger
   * may not show them yet, and a draining partition must know it holds them (draining.ts).
   */
  private countGroups(messages: readonly NewMessage[], w: { resolve: (result: PartitionResult) => void }): void {
    const groups = messages.flatMap((m) => (m.record.group === undefined ? [] : [m.record.group]));
    if (groups.length === 0) return;
    for (const g of groups) this.sending.set(g, (this.sending.get(g) ?? 0) + 1);
    const resolve = w.resolve;
    w.resolve = (result) => {
      for (const g of groups) {
        const n = (this.sending.get(g) ?? 0) - 1;
        if (n > 0) this.sending.set(g, n);
        else this.sending.delete(g);
      }
      resolve(result);
    };
  }

  /** What a draining partition knows to answer a send (draining.ts). */
  private knowledge(ref: PartitionRef): DrainingKnowledge {
    const { ledger, now } = ref.getSnapshot().context;
    const at = now();
    return {
      remembered: (id) => ledger?.remembered(id, at),
      holds: (group) => ((this.sending.get(group) ?? 0) > 0 ? true : ledger?.holdsGroup(group)),
    };
  }

  /** What the auto-scaling budget is measured against (the heartbeat's report); undefined unless serving. */
  load(): PartitionLoad | undefined {
    const counts = this.serving ? this.counts() : undefined;
    if (counts === undefined) return undefined;
    const messages = counts.visible + counts.inflight + counts.delayed;
    const meanBytes = this.sent === 0 ? 0 : this.sentBytes / this.sent;
    return {
      messages,
      bytes: Math.round(messages * meanBytes),
      sent: this.sent,
      // Nothing under way either: a request handed over before the seal is counted once answered.
      sealed: this.sealed() && this.waiting.size === 0 && this.pending.length === 0,
    };
  }

  /** A stream read, answered here from the serving actor's snapshot and the store. */
  private async read(op: StreamRead): Promise<PartitionResult> {
    const ref = this.serving ? this.current() : undefined;
    if (!ref || !this.store) return { type: 'failed', code: 'not_leader', message: 'this replica is not serving as primary' };
    const { context } = ref.getSnapshot();
    return serveStreamRead(this.store, context.queue, context.partition, { stream: context.streamLog, end: context.committedOffset }, op);
  }

  onReady(listener: () => void): () => void {
    this.readyListeners.add(listener);
    return () => this.readyListeners.delete(listener);
  }

  /** Counts from the partition actor's snapshot; undefined unless it is serving. */
  counts(): Counts | undefined {
    const ledger = this.current()?.getSnapshot().context.ledger;
    return ledger === undefined ? undefined : { ...ledger.counts(), deadLettered: ledger.deadLetteredCount, storedBytes: ledger.storedBytes };
  }

  /** Messages the partition marked for its dead-letter queue and the node has not moved yet. */
  pendingDeadLetters(): number {
    return this.current()?.getSnapshot().context.ledger?.pendingDeadLetters ?? 0;
  }

  /** Counts and the oldest message's age; undefined unless serving. Empty means age 0, whatever the disk says. */
  async fullCounts(): Promise<PartitionCounts | undefined> {
    const counts = this.counts();
    if (counts === undefined) return undefined;
    const empty = counts.visible + counts.inflight + counts.delayed === 0;
    return { ...counts, oldestAgeMs: empty || this.oldestAgeMs === undefined ? 0 : await this.oldestAgeMs() };
  }

  /** Whether requests are being answered (the replica is primary and its partition loaded). */
  get serving(): boolean {
    return this.current()?.getSnapshot().matches('serving') ?? false;
  }

  close(): void {
    this.watch.unsubscribe();
    for (const d of this.detach.splice(0)) d.unsubscribe();
    this.failFrom(this.attached);
  }
}
