/**
 * Preloaded into a node process (`--import`, see bench/focus.ts) when BENCH_CPU_PROF_DIR is set:
 * samples its CPU from start to exit and writes `<dir>/<label>-<pid>.cpuprofile` (Chrome DevTools
 * format); SIGUSR2 discards what was sampled so far. `node --cpu-prof` would do the same, but NODE_OPTIONS may not carry it, and the nodes are
 * started by the tests' launcher, which passes only environment variables.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';

const dir = process.env['BENCH_CPU_PROF_DIR'];
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: Number(process.env['BENCH_CPU_PROF_INTERVAL_US'] ?? 1000) });
  session.post('Profiler.start');
  // SIGUSR2 starts the profile afresh: the phase of interest alone (bench/focus.ts sends it).
  process.on('SIGUSR2', () => {
    session.post('Profiler.stop');
    session.post('Profiler.start');
  });
  const label = process.env['WHARF_NODE_ID'] ?? 'process';
  // An in-thread inspector session answers synchronously, so the profile is written before exit.
  process.on('exit', () => {
    session.post('Profiler.stop', (err, result) => {
      if (err) process.stderr.write(`cpu profile: ${err.message}\n`);
      else writeFileSync(join(dir, `${label}-${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
