/**
 * A run's report: the checker's figures against the sync-mode targets, as JSON (everything,
 * including the first anomalies of each kind) and as a readable summary, both under chaos/results/.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RunResult } from './runner.ts';

export const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));

export interface Figures {
  acknowledged: number;
  attempts: number;
  received: number;
  lost: number;
  resurrected: number;
  unexpected: number;
  duplicates: number;
  legitRedeliveries: number;
  storedTwice: number;
  doubleDeliveriesUnderLiveLease: number;
  /** The workload uses standard queues, where order is not promised: nothing to check. */
  fifoViolations: 'n/a';
  divergence: number;
  storedAfterDelete: number;
  failedButDelivered: number;
  unavailabilitySendSeconds: number;
  unavailabilityReceiveSeconds: number;
  /** Where those stretches were, seconds since the history began (the faults' times are on the same scale). */
  unavailabilitySendWindow: [number, number];
  unavailabilityReceiveWindow: [number, number];
}

export interface ScenarioReport {
  scenario: string;
  seed: number;
  faultSeconds: number;
  startedAt: string;
  durationSeconds: number;
  commit: string;
  /** Zero lost, zero double deliveries under a live lease, zero divergence, and the checker found nothing else. */
  passed: boolean;
  figures: Figures;
  problems: string[];
  faults: RunResult['faults'];
  phases: Record<string, number>;
  logCounts: Record<string, number>;
  workDir: string | null;
  examples: {
    lost: string[];
    doubleDeliveries: unknown[];
    divergence: unknown[];
    resurrected: unknown[];
  };
}

export function commit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', cwd: fileURLToPath(new URL('..', import.meta.url)) }).trim();
  } catch {
    return 'unknown';
  }
}

export function figuresOf(r: RunResult['report']): Figures {
  return {
    acknowledged: r.acknowledged,
    attempts: r.attempts,
    received: r.receivedUnique,
    lost: r.lost.count,
    resurrected: r.resurrected.length,
    unexpected: r.unexpected.length,
    duplicates: r.duplicates.extraDeliveries,
    legitRedeliveries: r.duplicates.legit,
    storedTwice: r.duplicates.copies.length,
    doubleDeliveriesUnderLiveLease: r.duplicates.underLiveLease.length,
    fifoViolations: 'n/a',
    divergence: r.divergence.length,
    storedAfterDelete: r.storedAfterDelete.length,
    failedButDelivered: r.failedButDelivered.length,
    unavailabilitySendSeconds: r.unavailability.send.seconds,
    unavailabilityReceiveSeconds: r.unavailability.receive.seconds,
    unavailabilitySendWindow: [r.unavailability.send.from, r.unavailability.send.to],
    unavailabilityReceiveWindow: [r.unavailability.receive.from, r.unavailability.receive.to],
  };
}

/** `head`: the commit the run's code was loaded from (taken when the invocation started). */
export function toReport(result: RunResult, head: string): ScenarioReport {
  const r = result.report;
  const figures = figuresOf(r);
  return {
    scenario: result.scenario,
    seed: result.seed,
    faultSeconds: result.seconds,
    startedAt: result.startedAt,
    durationSeconds: result.durationSeconds,
    commit: head,
    passed: r.valid && figures.lost === 0 && figures.doubleDeliveriesUnderLiveLease === 0 && figures.divergence === 0,
    figures,
    problems: r.problems,
    faults: result.faults,
    phases: result.phases,
    logCounts: result.logCounts,
    workDir: result.kept ? result.workDir : null,
    examples: {
      lost: r.lost.values.slice(0, 20),
      doubleDeliveries: r.duplicates.underLiveLease.slice(0, 5),
      divergence: r.divergence.slice(0, 10),
      resurrected: r.resurrected.slice(0, 5),
    },
  };
}

/** One line per scenario: the figures the issue asks for. */
export function summaryLine(s: ScenarioReport): string {
  const f = s.figures;
  return [
    `${s.scenario.padEnd(17)} ${s.passed ? 'PASS' : 'FAIL'}`,
    `acked ${f.acknowledged}/${f.attempts}`,
    `lost ${f.lost}`,
    `resurrected ${f.resurrected}`,
    `unexpected ${f.unexpected}`,
    `duplicates ${f.duplicates}`,
    `double deliveries ${f.doubleDeliveriesUnderLiveLease}`,
    `fifo ${f.fifoViolations}`,
    `divergence ${f.divergence}`,
    `unavailable send ${f.unavailabilitySendSeconds} s / receive ${f.unavailabilityReceiveSeconds} s`,
  ].join(', ');
}

export function readable(s: ScenarioReport, description: string): string {
  const f = s.figures;
  const lines = [
    `scenario   ${s.scenario}: ${description}`,
    `verdict    ${s.passed ? 'PASS' : 'FAIL'}${s.problems.length > 0 ? ` (${s.problems.join('; ')})` : ''}`,
    `run        seed ${s.seed}, ${s.faultSeconds} s of faults, ${s.durationSeconds} s in all, commit ${s.commit}, started ${s.startedAt}`,
    `sends      ${f.acknowledged} acknowledged of ${f.attempts}, ${f.received} distinct values received`,
    `lost       ${f.lost}    resurrected ${f.resurrected}    unexpected ${f.unexpected}    failed-but-delivered ${f.failedButDelivered}`,
    `duplicates ${f.duplicates} extra deliveries (${f.legitRedeliveries} after the lease could have ended, ${f.storedTwice} values stored twice)`,
    `double deliveries under a live lease ${f.doubleDeliveriesUnderLiveLease}    FIFO violations ${f.fifoViolations} (standard queue)`,
    `divergence ${f.divergence} values differ between replicas, ${f.storedAfterDelete} stored after their delete`,
    `unavailability  longest stretch without a successful send ${f.unavailabilitySendSeconds} s (at ${f.unavailabilitySendWindow.join('–')} s), receive ${f.unavailabilityReceiveSeconds} s (at ${f.unavailabilityReceiveWindow.join('–')} s)`,
    `phases     ${Object.entries(s.phases).map(([k, v]) => `${k} ${v} s`).join(', ')}`,
    `node logs  ${Object.entries(s.logCounts).map(([k, v]) => `"${k}" ${v}`).join(', ')}`,
    'faults',
    ...s.faults.map((x) => `  ${x.at.toFixed(3).padStart(9)} s  ${x.f} ${x.target ?? ''}${x.outcome === 'ok' ? '' : ` (${x.outcome})`}`),
  ];
  if (s.examples.lost.length > 0) lines.push(`lost values, first ${s.examples.lost.length}: ${s.examples.lost.join(' ')}`);
  if (s.workDir !== null) lines.push(`work dir (data, node and NATS logs, history) kept at ${s.workDir}`);
  return `${lines.join('\n')}\n`;
}

/** Writes `<timestamp>-<scenario>.json` and `.txt`; returns their paths. */
export async function writeReport(s: ScenarioReport, description: string, dir = RESULTS_DIR): Promise<{ json: string; txt: string }> {
  await mkdir(dir, { recursive: true });
  const base = join(dir, `${s.startedAt.replace(/[:.]/g, '-')}-${s.scenario}`);
  await writeFile(`${base}.json`, `${JSON.stringify(s, null, 2)}\n`);
  await writeFile(`${base}.txt`, readable(s, description));
  return { json: `${base}.json`, txt: `${base}.txt` };
}

/** A Markdown table of a whole invocation: one row per scenario run. */
export function markdownSummary(reports: readonly ScenarioReport[], command: string): string {
  const head = [
    '| scenario | verdict | seed | faults s | acknowledged / sends | lost | resurrected | unexpected | duplicates | double deliveries (live lease) | divergence | longest unavailability send / receive s |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  const rows = reports.map((r) => {
    const f = r.figures;
    return `| ${r.scenario} | ${r.passed ? 'pass' : `FAIL: ${r.problems.join('; ')}`} | ${r.seed} | ${r.faultSeconds} | ${f.acknowledged} / ${f.attempts} | ${f.lost} | ${f.resurrected} | ${f.unexpected} | ${f.duplicates} | ${f.doubleDeliveriesUnderLiveLease} | ${f.divergence} | ${f.unavailabilitySendSeconds} / ${f.unavailabilityReceiveSeconds} |`;
  });
  const first = reports[0];
  const when = first === undefined ? '' : `, started ${first.startedAt}, commit ${first.commit}`;
  return [`\`${command}\`${when}`, '', ...head, ...rows, ''].join('\n');
}
