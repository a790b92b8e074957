/**
 * A Jepsen-style history: every client operation is recorded twice, once when it is invoked and once
 * when it completes, as one JSON line each:
 *
 *   {"type":"invoke","op":7,"process":"p1","f":"send","value":"p1-42","time":1234.5}
 *   {"type":"ok","op":7,"process":"p1","f":"send","value":"p1-42","messageId":"…","time":1240.1}
 *
 * `type` is `invoke`, then `ok` (it happened), `fail` (it definitely did not happen) or `info` (the
 * outcome is unknown: a timeout, a lost connection, an error that does not promise nothing was
 * applied). `op` pairs a completion with its invocation, so one process may have several operations
 * outstanding (the SDK batches sends). `time` is milliseconds on this process's monotonic clock
 * (`performance.now()`): only differences matter, and every record of a run comes from one process.
 *
 * Nemesis operations (kill, stop, cont, start, rollback, nats-restart...) are recorded the same way
 * by the process `nemesis`, so the checker's figures can be read against the fault schedule.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { errors as natsErrors } from '@nats-io/nats-core';
import { ErrorCode, isWharfError } from '../../src/errors.ts';

export type OpType = 'invoke' | 'ok' | 'fail' | 'info';

export const NEMESIS = 'nemesis';

/** One message as a receive returned it. */
export interface Delivery {
  /** The body as text: `<producer>-<counter>` for the workload's messages. */
  value: string;
  messageId: string;
  receipt: string;
  receiveCount: number;
}

interface Base {
  type: OpType;
  op: number;
  process: string;
  /** Monotonic milliseconds. */
  time: number;
  /** The node that served or suffered the operation, when known. */
  node?: string;
  /** The error code (or error text) of a `fail` or `info` completion. */
  error?: string;
}

export interface SendOp extends Base {
  f: 'send';
  value: string;
  messageId?: string;
}

export interface ReceiveOp extends Base {
  f: 'receive';
  /** null on invoke and on fail/info; the messages on ok (possibly none). */
  value: Delivery[] | null;
  /** Seconds: the lease every delivery of this receive got. */
  visibilityTimeout: number;
}

export interface DeleteOp extends Base {
  f: 'delete';
  value: string;
  receipt: string;
}

/** ChangeMessageVisibility of one delivery (0 releases it at once). */
export interface VisibilityOp extends Base {
  f: 'visibility';
  value: string;
  receipt: string;
  visibilityTimeout: number;
}

export type NemesisF =
  | 'kill' | 'stop' | 'cont' | 'start' | 'restart' | 'rollback' | 'nats-restart' | 'nats-kill' | 'heal'
  // the multi-host harness (chaos/nemesis.ts)
  | 'terminate' | 'partition' | 'isolate' | 'proxy' | 'bandwidth' | 'disk-full' | 'clock-jump' | 'backup' | 'restore';

export interface NemesisOp extends Base {
  f: NemesisF;
  /** What the fault hit, e.g. a node id, `nats`, or several ids joined with commas. */
  value: string | null;
}

export type ClientOp = SendOp | ReceiveOp | DeleteOp | VisibilityOp;
export type HistoryOp = ClientOp | NemesisOp;

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** What the caller says when it invokes an operation; the history adds type, op, process and time. */
export type Invocation = DistributiveOmit<HistoryOp, 'type' | 'op' | 'process' | 'time' | 'error'>;

/**
 * Whether an error proves that the operation had no effect (`fail`) or leaves it open (`info`).
 *
 * Definite: the codes a node answers before it changes anything (validation, stale receipt handles,
 * unknown queues), and the retryable ones whose contract is "nothing of it was applied":
 * `not_leader`, `storage_failure`, `over_limit`; and `unavailable` when the client itself found no
 * node to send to (NATS "no responders"). An `unavailable` answered by a node may come from a
 * front-end that had already forwarded the request, so it stays unknown; so do timeouts, a closed
 * connection (the request may have left), `internal` (a bug: anything may have happened) and
 * anything that is not a WharfError. When in doubt, unknown: calling an applied operation failed
 * would make the checker report anomalies that are not there, and hide real ones in "recovered".
 *
 * The SDK retries retryable codes itself, so the last attempt's error is what we see; when an
 * earlier attempt timed out it reports `timeout` whatever the last one said, so a definite code
 * speaks for every attempt. One case stays open: the SDK retries sends after a timeout (their
 * messages carry deduplication ids), and a batch whose retry is answered reports per-entry codes
 * from that last attempt only: an entry's `not_leader` there may follow an earlier attempt that
 * stored it. So for sends (`retriesTimeouts`) only non-retryable codes are definite.
 */
const DEFINITE: ReadonlySet<string> = new Set<string>([
  ErrorCode.InvalidRequest,
  ErrorCode.UnsupportedVersion,
  ErrorCode.UnknownAction,
  ErrorCode.InvalidName,
  ErrorCode.InvalidParameter,
  ErrorCode.InvalidAttribute,
  ErrorCode.MessageTooLarge,
  ErrorCode.BatchTooLarge,
  ErrorCode.BatchIdsNotDistinct,
  ErrorCode.EmptyBatch,
  ErrorCode.QueueNotFound,
  ErrorCode.QueueAlreadyExists,
  ErrorCode.InvalidReceiptHandle,
  ErrorCode.MessageNotInFlight,
  ErrorCode.OverLimit,
  ErrorCode.NotLeader,
  ErrorCode.StorageFailure,
]);

export function outcomeOf(err: unknown, retriesTimeouts = false): 'fail' | 'info' {
  if (!isWharfError(err)) return 'info';
  if (retriesTimeouts && err.retryable) return 'info';
  if (DEFINITE.has(err.code)) return 'fail';
  if (err.code === ErrorCode.Unavailable && isNoResponders(err.cause)) return 'fail';
  return 'info';
}

function isNoResponders(cause: unknown): boolean {
  return (
    cause instanceof natsErrors.NoRespondersError || (cause instanceof natsErrors.RequestError && cause.isNoResponders())
  );
}

/** The code of a WharfError, else the error's text (kept short). */
export function errorText(err: unknown): string {
  if (isWharfError(err)) return err.code;
  return (err instanceof Error ? err.message : String(err)).slice(0, 200);
}

/**
 * Appends history lines to a file. Lines gather in memory and are written with one synchronous
 * write when `maxBufferBytes` is reached or every `flushMs`: the buffer stays bounded, no record is
 * ever dropped or reordered (a synchronous append needs no back-pressure), and a test process that
 * dies loses at most the last `flushMs` of its history.
 */
export class HistoryWriter {
  readonly path: string;
  private readonly fd: number;
  private lines: string[] = [];
  private bytes = 0;
  private readonly maxBufferBytes: number;
  private readonly timer: NodeJS.Timeout;
  private closed = false;

  constructor(path: string, options: { maxBufferBytes?: number; flushMs?: number } = {}) {
    this.path = path;
    this.fd = openSync(path, 'a');
    this.maxBufferBytes = options.maxBufferBytes ?? 64 * 1024;
    this.timer = setInterval(() => this.flush(), options.flushMs ?? 200);
    this.timer.unref();
  }

  append(op: HistoryOp): void {
    if (this.closed) throw new Error(`history ${this.path} is closed`);
    const line = `${JSON.stringify(op)}\n`;
    this.lines.push(line);
    this.bytes += line.length;
    if (this.bytes >= this.maxBufferBytes) this.flush();
  }

  flush(): void {
    if (this.lines.length === 0) return;
    const text = this.lines.join('');
    this.lines = [];
    this.bytes = 0;
    writeSync(this.fd, text);
  }

  close(): void {
    if (this.closed) return;
    clearInterval(this.timer);
    this.flush();
    closeSync(this.fd);
    this.closed = true;
  }
}

/** Fields a completion may add to or change in its invocation's, e.g. a send's messageId. */
export type Completion<O extends Invocation> = Partial<Extract<Invocation, { f: O['f'] }>>;

/** An invoked operation waiting for its completion. Completing twice is a bug in the caller. */
export interface Pending<O extends Invocation = Invocation> {
  readonly op: number;
  readonly invokedAt: number;
  ok(extra?: Completion<O>): void;
  fail(err: unknown, extra?: Completion<O>): void;
  info(err: unknown, extra?: Completion<O>): void;
  /** `fail` or `info`, as {@link outcomeOf} decides (sends are retried after timeouts by the SDK). */
  error(err: unknown, extra?: Completion<O>): void;
}

/**
 * The recorder: hands out operation numbers, stamps times, keeps every record in memory (the
 * workload's drain asks what has been acknowledged) and appends it to the writer if there is one.
 */
export class History {
  readonly ops: HistoryOp[] = [];
  /** Values whose send was acknowledged. */
  readonly acked = new Set<string>();
  /** Values with an acknowledged or unknown-outcome delete: consumed, or possibly consumed. */
  readonly consumed = new Set<string>();
  private nextOp = 0;
  private readonly writer: HistoryWriter | undefined;
  private readonly clock: () => number;

  constructor(writer?: HistoryWriter, clock: () => number = () => performance.now()) {
    this.writer = writer;
    this.clock = clock;
  }

  now(): number {
    return this.clock();
  }

  invoke<O extends Invocation>(process: string, invocation: O): Pending<O> {
    const op = this.nextOp++;
    const invokedAt = this.clock();
    this.record({ ...invocation, type: 'invoke', op, process, time: invokedAt } as HistoryOp);
    let done = false;
    const complete = (type: Exclude<OpType, 'invoke'>, err: unknown, extra: Completion<O> | undefined) => {
      if (done) throw new Error(`operation ${op} of ${process} completed twice`);
      done = true;
      const record = { ...invocation, ...extra, type, op, process, time: this.clock() } as HistoryOp;
      if (type !== 'ok') record.error = errorText(err);
      this.record(record);
    };
    return {
      op,
      invokedAt,
      ok: (extra) => complete('ok', undefined, extra),
      fail: (err, extra) => complete('fail', err, extra),
      info: (err, extra) => complete('info', err, extra),
      error: (err, extra) => complete(outcomeOf(err, invocation.f === 'send'), err, extra),
    };
  }

  /** Runs a fault and records it: `ok` when it was done, `info` when it threw (then rethrows). */
  async nemesis<T>(f: NemesisF, value: string | null, run: () => Promise<T>): Promise<T> {
    const pending = this.invoke(NEMESIS, { f, value });
    try {
      const result = await run();
      pending.ok();
      return result;
    } catch (err) {
      pending.info(err);
      throw err;
    }
  }

  close(): void {
    this.writer?.close();
  }

  private record(op: HistoryOp): void {
    this.ops.push(op);
    if (op.type === 'ok' && op.f === 'send') this.acked.add(op.value);
    if ((op.type === 'ok' || op.type === 'info') && op.f === 'delete') this.consumed.add(op.value);
    this.writer?.append(op);
  }
}

// ---- reading -------------------------------------------------------------------------------------

const TYPES: ReadonlySet<string> = new Set(['invoke', 'ok', 'fail', 'info']);
const NEMESIS_FS: ReadonlySet<string> = new Set<NemesisF>([
  'kill', 'stop', 'cont', 'start', 'restart', 'rollback', 'nats-restart', 'nats-kill', 'heal',
  'terminate', 'partition', 'isolate', 'proxy', 'bandwidth', 'disk-full', 'clock-jump', 'backup', 'restore',
]);

type Json = Record<string, unknown>;
const isObject = (x: unknown): x is Json => typeof x === 'object' && x !== null && !Array.isArray(x);
const isString = (x: unknown): x is string => typeof x === 'string';
const isNumber = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
const optional = (x: unknown, check: (y: unknown) => boolean) => x === undefined || check(x);

function isDelivery(x: unknown): x is Delivery {
  return isObject(x) && isString(x['value']) && isString(x['messageId']) && isString(x['receipt']) && isNumber(x['receiveCount']);
}

/** Checks one parsed line field by field, so a corrupt history is reported, never half-trusted. */
export function parseOp(x: unknown): HistoryOp {
  const bad = (why: string): never => {
    throw new Error(`not a history record (${why}): ${JSON.stringify(x)?.slice(0, 200)}`);
  };
  if (!isObject(x)) return bad('not an object');
  const { type, op, process, time, f, value } = x;
  if (!isString(type) || !TYPES.has(type)) return bad('type');
  if (!isNumber(op) || !isString(process) || !isNumber(time)) return bad('op, process or time');
  if (!optional(x['node'], isString) || !optional(x['error'], isString)) return bad('node or error');
  switch (f) {
    case 'send':
      if (!isString(value) || !optional(x['messageId'], isString)) return bad('send');
      break;
    case 'receive':
      if (!(value === null || (Array.isArray(value) && value.every(isDelivery))) || !isNumber(x['visibilityTimeout'])) {
        return bad('receive');
      }
      break;
    case 'delete':
      if (!isString(value) || !isString(x['receipt'])) return bad('delete');
      break;
    case 'visibility':
      if (!isString(value) || !isString(x['receipt']) || !isNumber(x['visibilityTimeout'])) return bad('visibility');
      break;
    default:
      if (!isString(f) || !NEMESIS_FS.has(f) || !(value === null || isString(value))) return bad('f');
  }
  return x as unknown as HistoryOp;
}

/** Parses JSONL text. A last line without its newline is a write cut short by a crash: ignored. */
export function parseHistory(text: string): HistoryOp[] {
  const lines = text.split('\n');
  lines.pop(); // '' after the final newline, or the unterminated tail
  return lines.filter((l) => l.trim() !== '').map((line, i) => {
    try {
      return parseOp(JSON.parse(line));
    } catch (err) {
      throw new Error(`history line ${i + 1}: ${(err as Error).message}`, { cause: err });
    }
  });
}

export async function readHistory(path: string): Promise<HistoryOp[]> {
  return parseHistory(await readFile(path, 'utf8'));
}
