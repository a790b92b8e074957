/**
 * Figures and their presentation: percentiles of sorted samples, throughput, and a plain-text
 * table with right-aligned numbers.
 */

export interface Throughput {
  messages: number;
  seconds: number;
  perSecond: number;
}

export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export function throughput(messages: number, elapsedMs: number): Throughput {
  const seconds = elapsedMs / 1000;
  return { messages, seconds: round(seconds, 3), perSecond: seconds > 0 ? Math.round(messages / seconds) : 0 };
}

/** Nearest-rank percentile of an ascending array; NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  const index = Math.min(sorted.length - 1, Math.max(0, rank - 1));
  return sorted[index] ?? Number.NaN;
}

/** Summary of latencies in ms (the input is not modified). */
export function summarize(samples: readonly number[]): LatencySummary {
  const sorted = Float64Array.from(samples).sort();
  const list = Array.from(sorted);
  let sum = 0;
  for (const v of list) sum += v;
  return {
    count: list.length,
    p50: round(percentile(list, 50), 3),
    p90: round(percentile(list, 90), 3),
    p99: round(percentile(list, 99), 3),
    max: round(list[list.length - 1] ?? Number.NaN, 3),
    mean: round(list.length > 0 ? sum / list.length : Number.NaN, 3),
  };
}

export function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** a/b, or undefined when either side is missing or b is zero. */
export function ratio(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return undefined;
  return a / b;
}

/** Formats a figure for the table: thousands separators for counts, 2–3 digits for ms. */
export function fmt(value: number | undefined, kind: 'count' | 'ms' | 'ratio' | 'mb'): string {
  if (value === undefined || !Number.isFinite(value)) return '—';
  switch (kind) {
    case 'count':
      return Math.round(value).toLocaleString('en-US');
    case 'ms':
      return value < 10 ? value.toFixed(2) : value.toFixed(1);
    case 'ratio':
      return `${value.toFixed(2)}×`;
    case 'mb':
      return value.toFixed(0);
  }
}

/** A text table: first column left-aligned, the others right-aligned. */
export function renderTable(headers: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => {
        const w = widths[i] ?? 0;
        return i === 0 ? c.padEnd(w) : c.padStart(w);
      })
      .join('  ');
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(headers), rule, ...rows.map(line)].join('\n');
}

/** A project target: what it asks, what was measured, and whether it was met (undefined: not measured). */
export interface Target {
  name: string;
  goal: string;
  measured: string;
  pass: boolean | undefined;
}

/** A table of targets, each marked met, MISSED or n/a. */
export function renderTargets(list: readonly Target[]): string {
  const mark = (t: Target) => (t.pass === undefined ? 'n/a' : t.pass ? 'met' : 'MISSED');
  return renderTable(['', 'target', 'goal', 'measured'], list.map((t) => [mark(t), t.name, t.goal, t.measured]));
}

/** CPU use of a phase in cores per process, e.g. `bench 0.54, node 0.75, nats 0.07`. */
export function formatCores(cpu: Record<string, number>): string {
  return Object.entries(cpu)
    .map(([k, v]) => `${k} ${v.toFixed(2)}`)
    .join(', ');
}
