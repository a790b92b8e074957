/** Every scenario of the multi-host harness, in the order `npm run chaos` runs them. */
import type { Scenario } from '../scenario.ts';
import { clockJump } from './clock-jump.ts';
import { diskFull } from './disk-full.ts';
import { bandwidth, lossyLink, slowLink, stalledLink } from './links.ts';
import { mixed } from './mixed.ts';
import { natsRestart } from './nats-restart.ts';
import { partitionNode, partitionPrimary, splitMinority } from './network.ts';
import { backupRestore, rollingRestart } from './operations.ts';
import { killPrimary, pausePrimary } from './process.ts';

export const SCENARIOS: readonly Scenario[] = [
  killPrimary,
  pausePrimary,
  partitionNode,
  partitionPrimary,
  splitMinority,
  slowLink,
  lossyLink,
  stalledLink,
  bandwidth,
  diskFull,
  natsRestart,
  clockJump,
  rollingRestart,
  backupRestore,
  mixed,
];

export function scenario(name: string): Scenario {
  const s = SCENARIOS.find((x) => x.name === name);
  if (s === undefined) throw new Error(`no scenario ${name}; there are: ${SCENARIOS.map((x) => x.name).join(', ')}`);
  return s;
}
