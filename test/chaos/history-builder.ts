/**
 * Hand-written histories for the checker's tests: each call records an invoke and its completion at
 * the times given, so a test states exactly when each operation ran.
 */
import type { Delivery, HistoryOp, NemesisF } from './history.ts';

export type Outcome = 'ok' | 'fail' | 'info' | 'pending';

export interface Span {
  /** Invoke time, ms. */
  at: number;
  /** Completion time minus invoke time, ms. @default 1 */
  takes?: number;
}

export class HistoryBuilder {
  readonly ops: HistoryOp[] = [];
  private next = 0;

  send(process: string, value: string, outcome: Outcome, span: Span): this {
    return this.record({ f: 'send', value }, process, outcome, span, outcome === 'ok' ? { messageId: `id-${value}` } : {});
  }

  /** A receive that returned `values` (each as `value` or `[value, receipt]`). */
  receive(process: string, values: Array<string | [string, string]>, span: Span, visibilityTimeout = 30): this {
    const deliveries: Delivery[] = values.map((v) => {
      const [value, receipt] = typeof v === 'string' ? [v, `r-${v}-${this.next}`] : v;
      return { value, receipt, messageId: `id-${value}`, receiveCount: 1 };
    });
    this.add({ type: 'invoke', op: this.next, process, time: span.at, f: 'receive', value: null, visibilityTimeout });
    this.add({ type: 'ok', op: this.next++, process, time: span.at + (span.takes ?? 1), f: 'receive', value: deliveries, visibilityTimeout });
    return this;
  }

  /** A receive that failed or timed out. */
  receiveFailed(process: string, outcome: 'fail' | 'info', span: Span, visibilityTimeout = 30): this {
    return this.record({ f: 'receive', value: null, visibilityTimeout }, process, outcome, span, {});
  }

  delete(process: string, value: string, receipt: string, outcome: Outcome, span: Span): this {
    return this.record({ f: 'delete', value, receipt }, process, outcome, span, {});
  }

  visibility(process: string, value: string, receipt: string, visibilityTimeout: number, outcome: Outcome, span: Span): this {
    return this.record({ f: 'visibility', value, receipt, visibilityTimeout }, process, outcome, span, {});
  }

  nemesis(f: NemesisF, value: string, span: Span): this {
    return this.record({ f, value }, 'nemesis', 'ok', span, {});
  }

  private record(
    fields: Record<string, unknown>,
    process: string,
    outcome: Outcome,
    span: Span,
    extra: Record<string, unknown>,
  ): this {
    const op = this.next++;
    this.add({ ...fields, type: 'invoke', op, process, time: span.at } as unknown as HistoryOp);
    if (outcome !== 'pending') {
      const error = outcome === 'ok' ? {} : { error: outcome === 'fail' ? 'not_leader' : 'timeout' };
      this.add({ ...fields, ...extra, ...error, type: outcome, op, process, time: span.at + (span.takes ?? 1) } as unknown as HistoryOp);
    }
    return this;
  }

  private add(op: HistoryOp): void {
    this.ops.push(op);
  }
}
