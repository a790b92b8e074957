/**
 * The node's handle on one partition actor: requests made during one turn of the event loop go to
 * the actor as one batch (one durable write), and replies come back through the actor's emitted
 * `replies` events.
 */
import type { ActorRefFrom } from 'xstate';
import type { Logger } from './log.ts';
import type { partitionMachine } from '../../actors/partition/partition.machine.ts';
import type { PartitionOp, PartitionRequest, PartitionResult } from '../../actors/partition/partition.events.ts';

type PartitionRef = ActorRefFrom<typeof partitionMachine>;

export class PartitionClient {
  private nextId = 1;
  private batch: PartitionRequest[] = [];
  private readonly waiting = new Map<number, (result: PartitionResult) => void>();
  private readonly readyListeners = new Set<() => void>();
  readonly ref: PartitionRef;

  constructor(ref: PartitionRef, log: Logger) {
    this.ref = ref;
    // Storage failures are rare and serious: log each entry into `failed`, with its cause.
    let failed = false;
    ref.subscribe((snapshot) => {
      const now = snapshot.matches('failed');
      if (now && !failed) log.error({ err: snapshot.context.error }, 'partition failed; reloading from disk');
      else if (!now && failed && snapshot.matches('serving')) log.info('partition serving again');
      failed = now;
    });
    ref.on('replies', ({ replies }) => {
      for (const { id, result } of replies) {
        const resolve = this.waiting.get(id);
        if (resolve) {
          this.waiting.delete(id);
          resolve(result);
        }
      }
    });
    ref.on('ready', () => {
      for (const listener of this.readyListeners) listener();
    });
  }

  request(op: PartitionOp): Promise<PartitionResult> {
    const id = this.nextId++;
    if (this.batch.length === 0) setImmediate(this.flush);
    this.batch.push({ id, op });
    return new Promise((resolve) => this.waiting.set(id, resolve));
  }

  private readonly flush = (): void => {
    const items = this.batch;
    this.batch = [];
    if (this.ref.getSnapshot().status !== 'active') {
      for (const { id } of items) {
        this.waiting.get(id)?.({ type: 'failed', code: 'unavailable', message: 'the partition is stopped' });
        this.waiting.delete(id);
      }
      return;
    }
    this.ref.send({ type: 'requests', items });
  };

  onReady(listener: () => void): () => void {
    this.readyListeners.add(listener);
    return () => this.readyListeners.delete(listener);
  }

  /** Counts from the actor's current snapshot; undefined while it is loading or reloading. */
  counts(): { visible: number; inflight: number; delayed: number } | undefined {
    return this.ref.getSnapshot().context.ledger?.counts();
  }

  /** False only when the partition is serving and has nothing receivable. */
  get mayHaveVisible(): boolean {
    const counts = this.counts();
    return counts === undefined || counts.visible > 0;
  }

  /** Whether requests are being answered (false while loading or after a storage failure). */
  get serving(): boolean {
    return this.ref.getSnapshot().matches('serving');
  }

  get pendingRequests(): number {
    return this.waiting.size;
  }
}
