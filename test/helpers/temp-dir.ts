/**
 * A fresh directory per test under the OS temp dir. It is removed on teardown when the test passed,
 * and kept (with its path logged) when it failed, so stores and server logs can be inspected.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';

export async function tempDir(t: ExecutionContext<unknown>, prefix = 'wharf-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.teardown(async () => {
    if (t.passed) {
      await rm(dir, { recursive: true, force: true, maxRetries: 3 });
    } else {
      t.log(`kept temp dir ${dir}`);
    }
  });
  return dir;
}
