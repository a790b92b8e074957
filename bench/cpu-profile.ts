/**
 * Preloaded into a node process (`--import` of bench/cpu-profile-gate.mjs, see bench/focus.ts) when BENCH_CPU_PROF_DIR is set:
 * samples its CPU from start and writes `<dir>/<label>-<pid>.cpuprofile` (bench/profiler.ts). A
 * SIGUSR2 starts the profile afresh, the next one ends and writes it: bench/focus.ts sends one
 * before and one after the phase of interest. `node --cpu-prof` would profile the whole life, and
 * NODE_OPTIONS may not carry it; the nodes are started by the tests' launcher, which passes only
 * environment variables.
 */
import { cpuProfiler } from './profiler.ts';

const dir = process.env['BENCH_CPU_PROF_DIR'];
if (dir) {
  const profiler = cpuProfiler(dir, process.env['WHARF_NODE_ID'] ?? 'process', Number(process.env['BENCH_CPU_PROF_INTERVAL_US'] ?? 1000));
  process.on('SIGUSR2', () => profiler.mark());
}
