/**
 * A correct queue, in memory, that writes the history a perfect Wharf would produce for a sequence
 * of commands: the checker's property tests feed it random commands and expect a valid report.
 *
 * Each command runs from `now` for `takes` ms; its effect lands at one instant inside that span
 * (`at`, a fraction of it), as on a real node. Some outcomes are unknown to the client (`info`)
 * whether or not they took effect, as after a timeout.
 */
import { HistoryBuilder } from './history-builder.ts';
import type { HistoryOp } from './history.ts';

export type ModelCommand =
  | { kind: 'send'; producer: number; outcome: 'ok' | 'fail' | 'info-applied' | 'info-lost'; takes: number }
  | { kind: 'receive'; consumer: number; max: number; visibilityTimeout: number; at: number; replyLost: boolean; takes: number }
  | { kind: 'delete'; pick: number; outcome: 'ok' | 'info-applied' | 'info-lost'; takes: number }
  | { kind: 'release'; pick: number; takes: number }
  | { kind: 'wait'; ms: number };

interface Stored {
  value: string;
  deleted: boolean;
  /** The lease ends at this time; -Infinity when never leased. */
  deadline: number;
  /** The receipt of the latest delivery. */
  receipt: string | undefined;
}

interface Held {
  process: string;
  value: string;
  receipt: string;
}

export function runModel(commands: readonly ModelCommand[]): HistoryOp[] {
  const h = new HistoryBuilder();
  const stored: Stored[] = [];
  const byValue = new Map<string, Stored>();
  const counters = new Map<number, number>();
  const held: Held[] = [];
  let receipts = 0;
  let now = 0;

  const receiveAt = (process: string, max: number, vt: number, at: number, takes: number, replyLost: boolean): number => {
    const grant = now + Math.floor(at * takes);
    const ready = stored.filter((m) => !m.deleted && m.deadline <= grant).slice(0, max);
    const got = ready.map((m) => {
      m.receipt = `r${receipts++}`;
      m.deadline = grant + vt * 1000;
      return [m.value, m.receipt] as [string, string];
    });
    if (replyLost) h.receiveFailed(process, 'info', { at: now, takes }, vt);
    else {
      h.receive(process, got, { at: now, takes }, vt);
      for (const [value, receipt] of got) held.push({ process, value, receipt });
    }
    return got.length;
  };

  for (const c of commands) {
    switch (c.kind) {
      case 'send': {
        const n = counters.get(c.producer) ?? 0;
        counters.set(c.producer, n + 1);
        const value = `p${c.producer}-${n}`;
        if (c.outcome === 'ok' || c.outcome === 'info-applied') {
          const m: Stored = { value, deleted: false, deadline: -Infinity, receipt: undefined };
          stored.push(m);
          byValue.set(value, m);
        }
        h.send(`p${c.producer}`, value, c.outcome === 'ok' ? 'ok' : c.outcome === 'fail' ? 'fail' : 'info', { at: now, takes: c.takes });
        now += c.takes;
        break;
      }
      case 'receive':
        receiveAt(`c${c.consumer}`, c.max, c.visibilityTimeout, c.at, c.takes, c.replyLost);
        now += c.takes;
        break;
      case 'delete': {
        const mine = held.splice(c.pick % Math.max(held.length, 1), 1)[0];
        if (!mine) break;
        const m = byValue.get(mine.value);
        const current = m !== undefined && m.receipt === mine.receipt && !m.deleted;
        if (current && c.outcome !== 'info-lost') m.deleted = true;
        const outcome = !current ? 'fail' : c.outcome === 'ok' ? 'ok' : 'info';
        h.delete(mine.process, mine.value, mine.receipt, outcome, { at: now, takes: c.takes });
        now += c.takes;
        break;
      }
      case 'release': {
        const mine = held.splice(c.pick % Math.max(held.length, 1), 1)[0];
        if (!mine) break;
        const m = byValue.get(mine.value);
        const at = now + Math.floor(c.takes / 2);
        const live = m !== undefined && m.receipt === mine.receipt && !m.deleted && at < m.deadline;
        if (live) m.deadline = at;
        h.visibility(mine.process, mine.value, mine.receipt, 0, live ? 'ok' : 'fail', { at: now, takes: c.takes });
        now += c.takes;
        break;
      }
      case 'wait':
        now += c.ms;
        break;
    }
  }

  // The final drain: past every lease, receive and delete until nothing is left.
  now = Math.max(now, ...stored.map((m) => m.deadline)) + 1;
  held.length = 0;
  while (receiveAt('drain', 100, 30, 0, 2, false) > 0) {
    now += 2;
    for (const mine of held.splice(0)) {
      const m = byValue.get(mine.value);
      if (m) m.deleted = true;
      h.delete('drain', mine.value, mine.receipt, 'ok', { at: now, takes: 1 });
    }
    now += 1;
  }
  return h.ops;
}
