/** Runs the wharf CLI (src/cli/main.ts) as a child process, against a fixture's nats-server and cluster or as told. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { WharfFixture } from './wharf.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export function cliOf(f: WharfFixture, args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return cli([...args, '--server', f.nats.url, '--cluster', f.cluster]);
}

/** Runs the CLI with exactly these arguments (killed after a minute). */
export function cli(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr });
    });
  });
}
