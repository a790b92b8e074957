/**
 * `node --import tsx bench/profile-summary.ts <file-or-dir>... [--top n]`: sums the self time of
 * .cpuprofile files (Chrome DevTools format, e.g. from bench/focus.ts) by function and by file, and
 * prints the largest. Each file is summarised on its own.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

function shortUrl(url: string): string {
  if (url === '') return '(native)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) return url.slice(nm + 'node_modules/'.length);
  const repo = url.indexOf('/work/');
  return repo >= 0 ? url.slice(url.indexOf('/', repo + '/work/'.length) + 1) : url.replace(/^file:\/\//, '');
}

/** Nodes inside the profiler's own calls (bench/profiler.ts): a restart's first sample carries the time the stop before it took. */
function profilerNodes(profile: Profile): Set<number> {
  const out = new Set<number>();
  const byId = new Map<number, ProfileNode>(profile.nodes.map((n) => [n.id, n]));
  const mark = (id: number) => {
    if (out.has(id)) return;
    out.add(id);
    for (const c of byId.get(id)?.children ?? []) mark(c);
  };
  for (const n of profile.nodes) if (n.callFrame.url.endsWith('bench/profiler.ts')) mark(n.id);
  return out;
}

function summarise(profile: Profile, top: number): string {
  const byNode = new Map<number, ProfileNode>(profile.nodes.map((n) => [n.id, n]));
  const own = profilerNodes(profile);
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    if (!own.has(id)) selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const total = profile.endTime - profile.startTime;
  const idle = new Set(['(idle)', '(program)', '(garbage collector)']);
  const byFunction = new Map<string, number>();
  const byFile = new Map<string, number>();
  let busy = 0;
  for (const [id, us] of selfUs) {
    const node = byNode.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const name = functionName || '(anonymous)';
    if (name !== '(idle)') busy += us;
    const file = idle.has(name) ? name : shortUrl(url);
    const fn = idle.has(name) ? name : `${name} ${file}:${lineNumber + 1}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
    byFile.set(file, (byFile.get(file) ?? 0) + us);
  }
  const table = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, us]) => `${(us / 1000).toFixed(0).padStart(8)} ms ${((100 * us) / busy).toFixed(1).padStart(5)} %  ${k}`)
      .join('\n');
  return [
    `wall ${(total / 1e6).toFixed(1)} s, busy (not idle) ${(busy / 1e6).toFixed(1)} s`,
    '-- self time by file --',
    table(byFile),
    '-- self time by function --',
    table(byFunction),
  ].join('\n');
}

async function files(paths: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) {
    if ((await stat(p)).isDirectory()) {
      for (const f of (await readdir(p)).sort()) if (f.endsWith('.cpuprofile')) out.push(join(p, f));
    } else out.push(p);
  }
  return out;
}

const args = process.argv.slice(2);
const topAt = args.indexOf('--top');
const top = topAt >= 0 ? Number(args[topAt + 1]) : 40;
const paths = topAt >= 0 ? args.filter((_, i) => i !== topAt && i !== topAt + 1) : args;
if (paths.length === 0) {
  process.stderr.write('usage: profile-summary.ts <file-or-dir>... [--top n]\n');
  process.exit(1);
}
for (const file of await files(paths)) {
  const profile = JSON.parse(await readFile(file, 'utf8')) as Profile;
  process.stdout.write(`\n== ${file}\n${summarise(profile, top)}\n`);
}
