/**
 * `npm run chaos -- [options]`: runs scenarios of the multi-host harness one after the other and
 * writes each one's report (JSON and a readable summary) under chaos/results/, then one summary of
 * the whole run (a line per scenario, and a Markdown table). Needs root (network namespaces, iptables, tc, mount).
 *
 *   --scenario <name>[,<name>...]   scenarios to run (default: all); --list shows them
 *   --tier short|long               short: the CI scenarios, 20 s of faults each;
 *                                   long: every scenario with 3 seeds, 120 s each (mixed: 600 s)
 *   --seconds <s>                   fault phase per scenario (default 60; overrides the tier's)
 *   --seed <n>                      seed of the workload and nemesis choices (default random)
 *   --keep                          keep each run's work dir (data, logs, history) even when it passed
 *   --cleanup                       remove namespaces and bridges a killed run left behind, then exit
 *
 * Exit code: 0 when every run passed, 1 when one failed its targets, 2 on a usage error.
 */
import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { namespacesAvailable, sweepLeftovers } from './netns.ts';
import { commit, markdownSummary, RESULTS_DIR, summaryLine, toReport, writeReport, type ScenarioReport } from './report.ts';
import { runScenario } from './runner.ts';
import { SCENARIOS, scenario } from './scenarios/index.ts';
import type { Scenario } from './scenario.ts';

interface Job {
  scenario: Scenario;
  seed: number;
  seconds: number;
}

function usage(message: string): never {
  process.stderr.write(`chaos: ${message}\n`);
  process.exit(2);
}

function plan(values: { scenario?: string; tier?: string; seconds?: string; seed?: string }): Job[] {
  const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
  if (!Number.isSafeInteger(seed)) usage(`--seed must be an integer, got ${values.seed}`);
  const seconds = values.seconds === undefined ? undefined : Number(values.seconds);
  if (seconds !== undefined && !(seconds >= 0)) usage(`--seconds must be a number >= 0, got ${values.seconds}`);
  const named = values.scenario === undefined || values.scenario === 'all' ? undefined : values.scenario.split(',').map((n) => scenario(n.trim()));
  switch (values.tier) {
    case undefined:
      return (named ?? SCENARIOS).map((s) => ({ scenario: s, seed, seconds: seconds ?? 60 }));
    case 'short':
      return (named ?? SCENARIOS.filter((s) => s.short === true)).map((s) => ({ scenario: s, seed, seconds: seconds ?? 20 }));
    case 'long':
      return (named ?? SCENARIOS).flatMap((s) =>
        [0, 1, 2].map((k) => ({ scenario: s, seed: seed + k, seconds: seconds ?? (s.name === 'mixed' ? 600 : 120) })),
      );
    default:
      return usage(`--tier must be short or long, got ${values.tier}`);
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      scenario: { type: 'string' },
      tier: { type: 'string' },
      seconds: { type: 'string' },
      seed: { type: 'string' },
      keep: { type: 'boolean' },
      cleanup: { type: 'boolean' },
      list: { type: 'boolean' },
    },
  });
  if (values.list) {
    for (const s of SCENARIOS) process.stdout.write(`${s.name.padEnd(18)}${s.short ? '[short] ' : '        '}${s.description}\n`);
    return 0;
  }
  if (values.cleanup) {
    const removed = sweepLeftovers();
    process.stdout.write(removed.length === 0 ? 'nothing to remove\n' : `removed ${removed.join(' ')}\n`);
    return 0;
  }
  const jobs = plan(values);
  const available = await namespacesAvailable();
  if (!available.ok) {
    process.stderr.write(`chaos: network namespaces are unavailable (the harness needs root): ${available.why}\n`);
    return 2;
  }
  // SIGINT/SIGTERM end the process through `exit`, whose hooks remove the namespaces and mounts.
  process.once('SIGINT', () => process.exit(130));
  process.once('SIGTERM', () => process.exit(143));

  await mkdir(RESULTS_DIR, { recursive: true });
  const summary = join(RESULTS_DIR, `${new Date().toISOString().replace(/[:.]/g, '-')}-summary.txt`);
  const log = (line: string) => process.stderr.write(`${new Date().toISOString().slice(11, 23)} ${line}\n`);
  const reports: ScenarioReport[] = [];
  const head = commit();
  for (const job of jobs) {
    log(`${job.scenario.name}: seed ${job.seed}, ${job.seconds} s of faults`);
    let line: string;
    try {
      const result = await runScenario(job.scenario, { seed: job.seed, seconds: job.seconds, log, keep: values.keep === true });
      const report = toReport(result, head);
      reports.push(report);
      const files = await writeReport(report, job.scenario.description);
      line = `${summaryLine(report)} [seed ${job.seed}, ${job.seconds} s]`;
      log(`${line}\n    ${files.txt}`);
    } catch (err) {
      line = `${job.scenario.name.padEnd(17)} ERROR ${(err as Error).stack ?? String(err)} [seed ${job.seed}]`;
      log(line);
    }
    await appendFile(summary, `${line}\n`);
  }
  const markdown = summary.replace(/\.txt$/, '.md');
  await writeFile(markdown, markdownSummary(reports, `npm run chaos -- ${process.argv.slice(2).join(' ')}`.trim()));
  process.stdout.write(`\n${reports.map(summaryLine).join('\n')}\nsummary: ${summary}, ${markdown}\n`);
  return reports.length === jobs.length && reports.every((r) => r.passed) ? 0 : 1;
}

process.exitCode = await main();
