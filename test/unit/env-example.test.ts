import { readFileSync } from 'node:fs';
import test from 'ava';
import { ENV, optionsFromEnv, resolveConfig } from '../../src/node/config.ts';

const example = Object.fromEntries(
  readFileSync(new URL('../../deploy/node.env.example', import.meta.url), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.startsWith('#'))
    .map((line) => line.split('=', 2) as [string, string]),
);

test('deploy/node.env.example lists exactly the variables the node reads', (t) => {
  t.deepEqual(Object.keys(example).sort(), Object.keys(ENV).sort());
});

test('deploy/node.env.example gives every variable its default', (t) => {
  const fromExample = resolveConfig(optionsFromEnv(example));
  const defaults = resolveConfig({ nodeId: 'node-1', dataDir: './.wharf/data/node-1' });
  const { clock: _a, ...a } = fromExample;
  const { clock: _b, ...b } = defaults;
  t.deepEqual(a, b);
});
