/**
 * The checker: a pure function from a history (history.ts) to a report of what went wrong. Queues
 * need no linearizability search: like Jepsen's queue checkers (NATS, RabbitMQ, Redpanda) it works on
 * sets of values, in time linear in the history (plus the deliveries of each value).
 *
 * Values are `<producer>-<counter>`, unique per send, so every delivery names the send it came from.
 * Times are the recorder's monotonic milliseconds. Where a fact depends on when something happened
 * on a node, the checker takes the bound that never accuses the system wrongly: a delivery happened
 * somewhere between the invoke and the completion of its receive; a lease runs at least until the
 * receive's invoke time plus its visibility timeout.
 */
import type { Delivery, HistoryOp, OpType } from './history.ts';

/** The live message values one replica holds for one partition, read after the run (divergence). */
export interface ReplicaDump {
  node: string;
  /** Any name that is the same on every replica of the partition, e.g. `queue.0`. */
  partition: string;
  values: readonly string[];
  /** When the store was read (the recorder's clock): a value whose delete was acknowledged before must be gone. */
  at?: number;
}

export interface CheckOptions {
  replicas?: readonly ReplicaDump[];
  /**
   * The process of the final drain. When the history has one, a message that was received but
   * neither deleted nor received again by the drain counts as lost after delivery: it should still
   * have been in the queue. @default 'drain'
   */
  finalReader?: string;
  /**
   * Monotonic ms bounding the operations the unavailability window is measured over, e.g. from the
   * first fault to the heal, leaving out start-up and the drain. @default the whole history
   */
  measureFrom?: number;
  measureTo?: number;
}

export interface Gap {
  seconds: number;
  /** Seconds since the first record of the history. */
  from: number;
  to: number;
}

export interface Redelivery {
  value: string;
  earlier: { process: string; receipt: string; invokedAt: number; visibilityTimeout: number };
  later: { process: string; receipt: string; invokedAt: number; completedAt: number };
}

export interface Resurrection {
  value: string;
  /** The acknowledged delete that completed before the delivery was asked for. */
  deleted: { process: string; receipt: string; completedAt: number };
  later: Redelivery['later'];
}

export interface Report {
  valid: boolean;
  /** Why `valid` is false, one short sentence each. */
  problems: string[];
  attempts: number;
  acknowledged: number;
  failed: number;
  indeterminate: number;
  receivedUnique: number;
  deliveries: number;
  lost: {
    /** Every lost value: never received, plus received and then gone. */
    count: number;
    /** Acknowledged, never received, split per producer against the counters that were received. */
    prefix: number;
    middle: number;
    postfix: number;
    /** Received, never deleted, and not received by the final drain. */
    afterDelivery: number;
    values: string[];
    byProducer: Record<string, { prefix: string[]; middle: string[]; postfix: string[] }>;
  };
  /** Received, but no send ever carried the value. */
  unexpected: string[];
  /** Sends of unknown outcome that were received. */
  recovered: number;
  /** Sends that failed definitely and were received anyway. */
  failedButDelivered: string[];
  duplicates: {
    /** Values delivered more than once. */
    messages: number;
    /** Deliveries beyond the first of each value. */
    extraDeliveries: number;
    /** Redeliveries of one message after its earlier lease may have ended (expiry, release, unknown receive). */
    legit: number;
    /** Redeliveries while an earlier delivery's lease was certainly live. */
    underLiveLease: Redelivery[];
    /** Values stored as more than one message (different message ids): a send that was not idempotent. */
    copies: string[];
  };
  /** Deliveries of a message issued after an acknowledged delete of it had completed. */
  resurrected: Resurrection[];
  divergence: Array<{ partition: string; value: string; presentOn: string[]; missingOn: string[] }>;
  /** Values a replica still stored after their delete was acknowledged (resurrections in waiting). */
  storedAfterDelete: Array<{ node: string; partition: string; value: string }>;
  unavailability: { send: Gap; receive: Gap };
}

interface Timed {
  op: number;
  process: string;
  outcome: Exclude<OpType, 'invoke'> | 'pending';
  invokedAt: number;
  completedAt: number;
}

interface DeliveryAt extends Delivery {
  process: string;
  invokedAt: number;
  completedAt: number;
  visibilityTimeout: number;
}

interface ReceiptOp extends Timed {
  value: string;
  receipt: string;
  visibilityTimeout?: number;
}

/** Pairs every invoke with its completion; an operation never completed stays `pending` (unknown). */
function pair(history: readonly HistoryOp[]): Array<{ invoke: HistoryOp; done: HistoryOp | undefined; timed: Timed }> {
  const completions = new Map<number, HistoryOp>();
  for (const o of history) if (o.type !== 'invoke') completions.set(o.op, o);
  const end = history.reduce((m, o) => Math.max(m, o.time), -Infinity);
  return history
    .filter((o) => o.type === 'invoke')
    .map((invoke) => {
      const done = completions.get(invoke.op);
      const timed: Timed = {
        op: invoke.op,
        process: invoke.process,
        outcome: done === undefined || done.type === 'invoke' ? 'pending' : done.type,
        invokedAt: invoke.time,
        completedAt: done?.time ?? end,
      };
      return { invoke, done, timed };
    });
}

/** `<producer>-<counter>`; producers may contain dashes, the counter is after the last one. */
export function parseValue(value: string): { producer: string; counter: number } | undefined {
  const i = value.lastIndexOf('-');
  const counter = Number(value.slice(i + 1));
  return i > 0 && Number.isSafeInteger(counter) ? { producer: value.slice(0, i), counter } : undefined;
}

const RANK = { ok: 3, pending: 2, info: 2, fail: 1 } as const;

export function check(history: readonly HistoryOp[], options: CheckOptions = {}): Report {
  const finalReader = options.finalReader ?? 'drain';
  const start = history.reduce((m, o) => Math.min(m, o.time), history[0]?.time ?? 0);

  const sends = new Map<string, Timed['outcome']>();
  const deliveries: DeliveryAt[] = [];
  const deletes = new Map<string, ReceiptOp[]>();
  const changes = new Map<string, ReceiptOp[]>();
  const sendTimes: Timed[] = [];
  const receiveTimes: Timed[] = [];

  for (const { invoke, done, timed } of pair(history)) {
    switch (invoke.f) {
      case 'send': {
        const before = sends.get(invoke.value);
        if (before === undefined || RANK[timed.outcome] > RANK[before]) sends.set(invoke.value, timed.outcome);
        sendTimes.push(timed);
        break;
      }
      case 'receive': {
        receiveTimes.push(timed);
        if (done?.type === 'ok' && done.f === 'receive') {
          for (const d of done.value ?? []) {
            deliveries.push({ ...d, process: timed.process, invokedAt: timed.invokedAt, completedAt: timed.completedAt, visibilityTimeout: invoke.visibilityTimeout });
          }
        }
        break;
      }
      case 'delete':
        push(deletes, invoke.value, { ...timed, value: invoke.value, receipt: invoke.receipt });
        break;
      case 'visibility':
        push(changes, invoke.receipt, { ...timed, value: invoke.value, receipt: invoke.receipt, visibilityTimeout: invoke.visibilityTimeout });
        break;
      default:
        break; // nemesis
    }
  }

  // A receive retried with the same attempt id hands back the same delivery: count it once.
  const byValue = new Map<string, DeliveryAt[]>();
  const seenReceipts = new Set<string>();
  for (const d of [...deliveries].sort((a, b) => a.completedAt - b.completedAt)) {
    if (seenReceipts.has(d.receipt)) continue;
    seenReceipts.add(d.receipt);
    push(byValue, d.value, d);
  }

  const acked = [...sends].filter(([, o]) => o === 'ok').map(([v]) => v);
  const received = new Set(byValue.keys());
  const lost = lostValues(acked, received);

  const consumed = (v: string) => (deletes.get(v) ?? []).some((d) => d.outcome === 'ok' || d.outcome === 'info' || d.outcome === 'pending');
  const hasFinalReader = history.some((o) => o.process === finalReader);
  const afterDelivery = hasFinalReader
    ? acked.filter((v) => received.has(v) && !consumed(v) && !(byValue.get(v) ?? []).some((d) => d.process === finalReader))
    : [];

  // A delete names a delivery by its receipt, and the receipt names the message.
  const messageOf = new Map<string, string>();
  for (const d of deliveries) messageOf.set(d.receipt, d.messageId);
  const duplicates: Report['duplicates'] = { messages: 0, extraDeliveries: 0, legit: 0, underLiveLease: [], copies: [] };
  const resurrected: Resurrection[] = [];
  for (const [value, ds] of byValue) {
    const ackedDeletes = (deletes.get(value) ?? []).filter((d) => d.outcome === 'ok').map((d) => ({ ...d, messageId: messageOf.get(d.receipt) }));
    if (new Set(ds.map((d) => d.messageId)).size > 1) duplicates.copies.push(value);
    if (ds.length > 1) duplicates.messages++;
    ds.forEach((later, k) => {
      const deleted = ackedDeletes.find((d) => d.completedAt < later.invokedAt && (d.messageId ?? later.messageId) === later.messageId);
      if (deleted) resurrected.push({ value, deleted: { process: deleted.process, receipt: deleted.receipt, completedAt: deleted.completedAt }, later: laterOf(later) });
      if (k === 0) return;
      duplicates.extraDeliveries++;
      if (deleted) return; // counted as resurrected
      const earlier = ds.slice(0, k).filter((e) => e.messageId === later.messageId);
      if (earlier.length === 0) return; // the first delivery of a second copy: counted in copies
      const live = earlier.find((e) => certainlyOverlap(e, later, changes));
      if (live) duplicates.underLiveLease.push(redelivery(value, live, later));
      else duplicates.legit++;
    });
  }

  const sentValues = new Set(sends.keys());
  const unexpected = [...received].filter((v) => !sentValues.has(v));
  const failedButDelivered = [...received].filter((v) => sends.get(v) === 'fail');
  const recovered = [...received].filter((v) => sends.get(v) === 'info' || sends.get(v) === 'pending').length;
  const divergence = diverged(options.replicas ?? []);
  const deletedAt = new Map<string, number>();
  for (const [value, ds] of deletes) {
    for (const d of ds) if (d.outcome === 'ok') deletedAt.set(value, Math.min(d.completedAt, deletedAt.get(value) ?? Infinity));
  }
  const storedAfterDelete = (options.replicas ?? []).flatMap((r) =>
    r.values.filter((v) => r.at !== undefined && (deletedAt.get(v) ?? Infinity) < r.at).map((value) => ({ node: r.node, partition: r.partition, value })),
  );

  const lostCount = lost.prefix.length + lost.middle.length + lost.postfix.length + afterDelivery.length;
  const problems = [
    lostCount > 0 && `${lostCount} acknowledged messages lost`,
    unexpected.length > 0 && `${unexpected.length} unexpected messages`,
    failedButDelivered.length > 0 && `${failedButDelivered.length} failed sends delivered`,
    duplicates.underLiveLease.length > 0 && `${duplicates.underLiveLease.length} double deliveries under a live lease`,
    resurrected.length > 0 && `${resurrected.length} deliveries after an acknowledged delete`,
    duplicates.copies.length > 0 && `${duplicates.copies.length} values stored more than once`,
    divergence.length > 0 && `${divergence.length} values differ between replicas`,
    storedAfterDelete.length > 0 && `${storedAfterDelete.length} values stored after their delete was acknowledged`,
  ].filter((p): p is string => typeof p === 'string');

  const from = options.measureFrom ?? -Infinity;
  const to = options.measureTo ?? Infinity;
  const measured = (ops: readonly Timed[]) => ops.filter((o) => o.invokedAt >= from && o.invokedAt <= to && o.process !== finalReader);
  const outcomes = [...sends.values()];
  return {
    valid: problems.length === 0,
    problems,
    attempts: sendTimes.length,
    acknowledged: acked.length,
    failed: outcomes.filter((o) => o === 'fail').length,
    indeterminate: outcomes.filter((o) => o === 'info' || o === 'pending').length,
    receivedUnique: received.size,
    deliveries: seenReceipts.size,
    lost: {
      count: lostCount,
      prefix: lost.prefix.length,
      middle: lost.middle.length,
      postfix: lost.postfix.length,
      afterDelivery: afterDelivery.length,
      values: [...lost.prefix, ...lost.middle, ...lost.postfix, ...afterDelivery],
      byProducer: lost.byProducer,
    },
    unexpected,
    recovered,
    failedButDelivered,
    duplicates,
    resurrected,
    divergence,
    storedAfterDelete,
    unavailability: { send: longestGap(measured(sendTimes), start), receive: longestGap(measured(receiveTimes), start) },
  };
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

const laterOf = (d: DeliveryAt): Redelivery['later'] => ({ process: d.process, receipt: d.receipt, invokedAt: d.invokedAt, completedAt: d.completedAt });

function redelivery(value: string, earlier: DeliveryAt, later: DeliveryAt): Redelivery {
  return {
    value,
    earlier: { process: earlier.process, receipt: earlier.receipt, invokedAt: earlier.invokedAt, visibilityTimeout: earlier.visibilityTimeout },
    later: laterOf(later),
  };
}

/**
 * Lost values split per producer like Jepsen's NATS checker: `prefix` below the lowest counter of
 * that producer that was received, `postfix` above the highest (or none received: maybe just slow),
 * `middle` between (a later message of the same producer arrived, so this one is not merely late).
 */
function lostValues(acked: readonly string[], received: ReadonlySet<string>) {
  const readRange = new Map<string, { min: number; max: number }>();
  for (const v of received) {
    const p = parseValue(v);
    if (!p) continue;
    const r = readRange.get(p.producer);
    readRange.set(p.producer, r ? { min: Math.min(r.min, p.counter), max: Math.max(r.max, p.counter) } : { min: p.counter, max: p.counter });
  }
  const out = { prefix: [] as string[], middle: [] as string[], postfix: [] as string[], byProducer: {} as Report['lost']['byProducer'] };
  for (const v of acked) {
    if (received.has(v)) continue;
    const p = parseValue(v) ?? { producer: v, counter: 0 };
    const r = readRange.get(p.producer);
    const where = r === undefined || p.counter > r.max ? 'postfix' : p.counter < r.min ? 'prefix' : 'middle';
    out[where].push(v);
    const mine = (out.byProducer[p.producer] ??= { prefix: [], middle: [], postfix: [] });
    mine[where].push(v);
  }
  return out;
}

/**
 * Whether `later` was certainly handed out while `earlier`'s lease was live. The earliest the lease
 * can end is its receive's invoke time plus its visibility timeout, moved by visibility changes on
 * its receipt invoked before `later` completed (an acknowledged change sets it, an unknown one may
 * have); `later` happened at the latest when its receive completed. When the two receives overlap,
 * `later` may have come first, so the bound must hold the other way round as well. Deletes do not
 * end a lease early here: after a delete the message must not come back at all.
 */
function certainlyOverlap(earlier: DeliveryAt, later: DeliveryAt, changes: ReadonlyMap<string, ReceiptOp[]>): boolean {
  let deadline = earlier.invokedAt + earlier.visibilityTimeout * 1000;
  const moves = (changes.get(earlier.receipt) ?? []).filter((c) => c.invokedAt < later.completedAt).sort((a, b) => a.invokedAt - b.invokedAt);
  for (const c of moves) {
    const moved = c.invokedAt + (c.visibilityTimeout ?? 0) * 1000;
    if (c.outcome === 'ok') deadline = moved;
    else if (c.outcome !== 'fail') deadline = Math.min(deadline, moved);
  }
  if (later.completedAt >= deadline) return false;
  if (later.invokedAt < earlier.completedAt) return earlier.completedAt - later.invokedAt < later.visibilityTimeout * 1000;
  return true;
}

/** Values some replicas of a partition hold and others do not. */
function diverged(replicas: readonly ReplicaDump[]): Report['divergence'] {
  const byPartition = new Map<string, ReplicaDump[]>();
  for (const r of replicas) push(byPartition, r.partition, r);
  const out: Report['divergence'] = [];
  for (const [partition, dumps] of byPartition) {
    const sets = dumps.map((d) => ({ node: d.node, values: new Set(d.values) }));
    const union = new Set(dumps.flatMap((d) => d.values));
    for (const value of union) {
      const presentOn = sets.filter((s) => s.values.has(value)).map((s) => s.node);
      if (presentOn.length < sets.length) {
        out.push({ partition, value, presentOn, missingOn: sets.filter((s) => !s.values.has(value)).map((s) => s.node) });
      }
    }
  }
  return out;
}

/**
 * The longest stretch without a successful operation of one kind: from the first invoke to the first
 * `ok`, between successive `ok` completions, and from the last `ok` to the last invoke or completion.
 * A stretch with no attempts at all is not unavailability, but the workload never stops trying.
 */
function longestGap(ops: readonly Timed[], start: number): Gap {
  if (ops.length === 0) return { seconds: 0, from: 0, to: 0 };
  const first = ops.reduce((m, o) => Math.min(m, o.invokedAt), Infinity);
  const last = ops.reduce((m, o) => Math.max(m, o.invokedAt, o.completedAt), -Infinity);
  const oks = ops.filter((o) => o.outcome === 'ok').map((o) => o.completedAt).sort((a, b) => a - b);
  let best = { from: first, to: oks[0] ?? last };
  const points = [first, ...oks, last];
  for (let i = 1; i < points.length; i++) {
    const from = points[i - 1] as number;
    const to = points[i] as number;
    if (to - from > best.to - best.from) best = { from, to };
  }
  const s = (ms: number) => Math.round(ms) / 1000;
  return { seconds: s(best.to - best.from), from: s(best.from - start), to: s(best.to - start) };
}

/** One line for a test log: the figures every scenario reports. */
export function summaryLine(name: string, r: Report): string {
  return `${name}: ` + [
    `acknowledged ${r.acknowledged}/${r.attempts}`,
    `received ${r.receivedUnique}`,
    `lost ${r.lost.count} (prefix ${r.lost.prefix}, middle ${r.lost.middle}, postfix ${r.lost.postfix}, after delivery ${r.lost.afterDelivery})`,
    `duplicates ${r.duplicates.extraDeliveries} (legit ${r.duplicates.legit}, copies ${r.duplicates.copies.length})`,
    `double deliveries ${r.duplicates.underLiveLease.length}`,
    `resurrected ${r.resurrected.length}`,
    `unexpected ${r.unexpected.length}`,
    `failed-but-delivered ${r.failedButDelivered.length}`,
    `recovered ${r.recovered}`,
    `indeterminate ${r.indeterminate}`,
    `divergence ${r.divergence.length}`,
    `stored after delete ${r.storedAfterDelete.length}`,
    `unavailability send ${r.unavailability.send.seconds} s (at ${r.unavailability.send.from}–${r.unavailability.send.to}), receive ${r.unavailability.receive.seconds} s`,
    r.valid ? 'valid' : `INVALID: ${r.problems.join('; ')}`,
  ].join(', ');
}
