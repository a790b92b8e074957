/**
 * The multi-host harness's short tier (chaos/): the scenarios marked `short`, 20 s of faults each,
 * every node and NATS server in its own network namespace. Needs root: where `ip netns add` is not
 * permitted the test logs "namespaces unavailable" and passes without running anything.
 */
import test from 'ava';
import { commit, summaryLine, toReport, writeReport } from '../../chaos/report.ts';
import { runScenario } from '../../chaos/runner.ts';
import { SCENARIOS } from '../../chaos/scenarios/index.ts';
import { canUseNamespaces } from '../helpers/namespaces.ts';

const head = commit();
const seed = Number(process.env['WHARF_CHAOS_SEED'] ?? Math.floor(Math.random() * 2 ** 31));

for (const scenario of SCENARIOS.filter((s) => s.short === true)) {
  test.serial(`chaos (namespaces): ${scenario.name}`, async (t) => {
    t.timeout(300_000);
    if (!(await canUseNamespaces(t))) return;
    const result = await runScenario(scenario, { seed, seconds: 20, log: (line) => t.log(line) });
    const report = toReport(result, head);
    const files = await writeReport(report, scenario.description);
    t.log(`${summaryLine(report)} [seed ${seed}] ${files.txt}`);
    t.is(report.figures.lost, 0, `lost: ${report.examples.lost.join(' ')}`);
    t.is(report.figures.doubleDeliveriesUnderLiveLease, 0, 'double deliveries under a live lease');
    t.is(report.figures.divergence, 0, 'replicas diverge');
    t.deepEqual(report.problems, [], 'the checker found nothing else');
  });
}
