import type { ExecutionContext } from 'ava';
import { namespacesAvailable } from '../../chaos/netns.ts';

/**
 * Whether a test of the multi-host harness (network namespaces, root only) can run here. Where it
 * cannot, the test logs why and passes without running anything.
 */
export async function canUseNamespaces(t: ExecutionContext<unknown>): Promise<boolean> {
  const available = await namespacesAvailable();
  if (available.ok) return true;
  t.log(`namespaces unavailable: ${available.why}`);
  t.pass();
  return false;
}
