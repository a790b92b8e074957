/**
 * What the CLI prints and how it ends: human tables on stdout by default, one JSON document with
 * `--json`, errors as `error <code>: <message>` on stderr, and the exit codes scripts rely on.
 */
import { CommanderError } from 'commander';
import { ErrorCode, WharfError, toWharfError } from '../errors.ts';
import type { AttributeValue, MessageAttributes, QueueAttributes, QueueCounts } from '../protocol/messages.ts';

export const ExitCode = {
  /** Success. */
  Ok: 0,
  /** Bad flags or arguments (commander reports these itself). */
  Usage: 1,
  /** The server answered with an error. */
  ServerError: 2,
  /** NATS cannot be reached, or no Wharf node answers (`unavailable`, `timeout`). */
  Unavailable: 3,
  /** `receive --exit-empty` found no message. */
  Empty: 4,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export const EXIT_CODES_HELP = `
Exit codes:
  0  success
  1  usage error: unknown command or option, bad or missing argument
  2  the server answered with an error; stderr says "error <code>: <message>"
  3  NATS cannot be reached or no Wharf node answers (error unavailable or timeout)
  4  receive --exit-empty found no message

Environment:
  WHARF_NATS_URL  default of --server
  WHARF_CLUSTER   default of --cluster`;

/** Ends a command with an exit code other than 0, its reasons already printed. */
export class ExitWith extends Error {
  override readonly name = 'ExitWith';
  readonly exitCode: ExitCode;

  constructor(exitCode: ExitCode) {
    super(`exit ${exitCode}`);
    this.exitCode = exitCode;
  }
}

/** The exit code of an error that ended a command; prints it unless commander already did. */
export function reportError(err: unknown): number {
  if (err instanceof CommanderError) return err.exitCode; // commander printed it (or the help)
  if (err instanceof ExitWith) return err.exitCode;
  const error = toWharfError(err);
  printError(error);
  return exitCodeOf(error);
}

export function exitCodeOf(error: WharfError): ExitCode {
  const unreachable = error.code === ErrorCode.Unavailable || error.code === ErrorCode.Timeout;
  return unreachable ? ExitCode.Unavailable : ExitCode.ServerError;
}

export function printError(error: WharfError, context?: string): void {
  const where = context === undefined ? '' : `${context}: `;
  process.stderr.write(`error ${error.code}: ${where}${oneLine(error.message)}\n`);
}

export class Output {
  readonly json: boolean;

  constructor(json: boolean) {
    this.json = json;
  }

  /** A line of human output; nothing in JSON mode. */
  line(text: string): void {
    if (!this.json) process.stdout.write(`${text}\n`);
  }

  /** The JSON document of a command; nothing in human mode. */
  document(value: unknown): void {
    if (this.json) process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  /** Aligned columns under upper-case headers. */
  table(headers: readonly string[], rows: ReadonlyArray<readonly string[]>): void {
    if (this.json) return;
    process.stdout.write(formatTable([headers.map((h) => h.toUpperCase()), ...rows]));
  }

  /** `name  value` lines with the names aligned. */
  pairs(rows: ReadonlyArray<readonly [string, string]>): void {
    if (this.json) return;
    process.stdout.write(formatTable(rows));
  }
}

export function formatTable(rows: ReadonlyArray<readonly string[]>): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
    .map((line) => `${line}\n`)
    .join('');
}

/** 345600 → "4d", 90 → "1m30s", 0 → "0s". */
export function formatSeconds(total: number): string {
  if (total === 0) return '0s';
  const units: Array<[string, number]> = [
    ['d', 86_400],
    ['h', 3_600],
    ['m', 60],
    ['s', 1],
  ];
  let rest = total;
  let out = '';
  for (const [unit, size] of units) {
    const n = Math.floor(rest / size);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * size;
  }
  return out;
}

export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} B`;
}

export const formatTime = (ms: number): string => new Date(ms).toISOString();

/** Attribute rows of `queue attrs` and `queue set`, named like the flags that set them. */
export function attributeRows(a: QueueAttributes): Array<[string, string]> {
  return [
    ['visibility-timeout', `${a.visibilityTimeout} (${formatSeconds(a.visibilityTimeout)})`],
    ['retention', `${a.retentionPeriod} (${formatSeconds(a.retentionPeriod)})`],
    ['max-message-size', `${a.maximumMessageSize} (${formatBytes(a.maximumMessageSize)})`],
    ['delay', `${a.delaySeconds} (${formatSeconds(a.delaySeconds)})`],
    ['receive-wait', `${a.receiveWaitTime} (${formatSeconds(a.receiveWaitTime)})`],
    ['ordering', a.ordering === 'timeWindow' ? `timeWindow (${a.orderingWindowMs ?? 1000} ms)` : 'arrival'],
    ['partitions', String(a.partitions)],
    ['fifo', a.fifo ? 'yes' : 'no'],
    ['deduplication-window', `${a.deduplicationWindow} (${formatSeconds(a.deduplicationWindow)})`],
    ['deduplication-scope', a.deduplicationScope],
    ['content-based-deduplication', a.contentBasedDeduplication ? 'on' : 'off'],
    ['mode', a.mode],
    ...(a.mode === 'stream' ? [['retention-bytes', a.retentionBytes === 0 ? '0 (no limit)' : `${a.retentionBytes} (${formatBytes(a.retentionBytes)})`] as [string, string]] : []),
  ];
}

export function countRows(c: QueueCounts): Array<[string, string]> {
  return [
    ['messages', String(c.approximateNumberOfMessages)],
    ['messages-in-flight', String(c.approximateNumberOfMessagesNotVisible)],
    ['messages-delayed', String(c.approximateNumberOfMessagesDelayed)],
    ['messages-dead-lettered', String(c.approximateNumberOfMessagesDeadLettered)],
    ['oldest-message-age', `${c.approximateAgeOfOldestMessage} (${formatSeconds(c.approximateAgeOfOldestMessage)})`],
  ];
}

/** Message attributes for JSON: binary values as base64. */
export function attributesJson(attributes: MessageAttributes): Record<string, { type: string; value: string }> {
  return Object.fromEntries(
    Object.entries(attributes).map(([name, a]) => [
      name,
      { type: a.type, value: a.type === 'binary' ? Buffer.from(a.value).toString('base64') : a.value },
    ]),
  );
}

export function attributeText(name: string, a: AttributeValue): string {
  const value = a.type === 'binary' ? `base64:${Buffer.from(a.value).toString('base64')}` : a.value;
  return a.type === 'string' ? `${name}=${value}` : `${name}(${a.type})=${value}`;
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ');
}
