/**
 * An in-process CPU profiler (node:inspector) for the benchmark's phases: `mark()` starts a profile
 * afresh, discarding what was sampled before, and the next `mark()` ends it and writes
 * `<dir>/<label>-<pid>.cpuprofile` (Chrome DevTools format); marks alternate so. A profile still
 * running when the process exits is written then.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';

export function cpuProfiler(dir: string, label: string, intervalUs = 1000): { mark(): void } {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: intervalUs });
  session.post('Profiler.start');
  let running = true;
  let started = false;
  // An in-thread inspector session answers synchronously, so the profile is written before the call returns.
  const write = () =>
    session.post('Profiler.stop', (err, result) => {
      if (err) process.stderr.write(`cpu profile: ${err.message}\n`);
      else writeFileSync(join(dir, `${label}-${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  process.on('exit', () => {
    if (running) write();
  });
  return {
    mark() {
      if (running && started) {
        write();
        running = false;
        return;
      }
      if (running) session.post('Profiler.stop');
      session.post('Profiler.start');
      running = true;
      started = true;
    },
  };
}
