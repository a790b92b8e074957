/**
 * A queue's partition layout (src/meta/layout.ts): a change of the active set records the active
 * partitions before it, which deduplication across a drain asks first; a retirement keeps them.
 */
import test from 'ava';
import { activePartitions, servedPartitions, withState } from '../../src/meta/layout.ts';
import { DEFAULT_ATTRIBUTES } from '../../src/protocol/attributes.ts';

const created = { attributes: { ...DEFAULT_ATTRIBUTES, partitions: 2 } };

test('growth and drain record the active set before them; a retirement keeps it', (t) => {
  const grown = { ...created, layout: withState(created, 2, 'active') };
  t.deepEqual(grown.layout, { states: ['active', 'active', 'active'], generation: 1, previous: [0, 1] });

  const draining = { ...created, layout: withState(grown, 0, 'draining') };
  t.deepEqual(draining.layout.previous, [0, 1, 2]);
  t.deepEqual(activePartitions(draining), [1, 2]);

  const retired = { ...created, layout: withState(draining, 0, 'retired') };
  t.deepEqual(retired.layout, { states: ['retired', 'active', 'active'], generation: 3, previous: [0, 1, 2] });
  t.deepEqual(servedPartitions(retired), [1, 2]);
});
