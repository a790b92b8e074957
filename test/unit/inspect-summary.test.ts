/**
 * Context summaries and machine definitions for inspectors (src/inspect/summary.ts, definition.ts).
 */
import test from 'ava';
import { createActor, createMachine } from 'xstate';
import { machineDefinition } from '../../src/inspect/definition.ts';
import { summarize } from '../../src/inspect/summary.ts';

test('a summary keeps numbers, ids and states and never bytes', (t) => {
  const summary = summarize({
    queue: 'orders',
    partition: 3,
    serving: true,
    body: new TextEncoder().encode('secret'),
    now: () => 1,
    pending: [{ record: { body: new Uint8Array(10) } }],
    replicas: ['n1', 'n2'],
    heard: new Map([['n1', {}]]),
    meta: { epoch: 4, epochs: [[1, 0]], nested: { deeper: { deepest: { x: 1 } } } },
  });
  t.deepEqual(summary, {
    queue: 'orders',
    partition: 3,
    serving: true,
    pending: { length: 1 },
    replicas: ['n1', 'n2'],
    heard: { size: 1 },
    meta: { epoch: 4, epochs: { length: 1 }, nested: { deeper: { fields: 1 } } },
  });
  t.false(JSON.stringify(summary).includes('secret'));
});

test('an object with summary() is summarised by it; long strings and many fields are capped', (t) => {
  const summary = summarize({
    ledger: { summary: () => ({ visible: 2, inflight: 1 }), hidden: new Uint8Array(3) },
    note: 'x'.repeat(500),
    ...Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`f${i}`, i])),
  });
  t.deepEqual(summary['ledger'], { visible: 2, inflight: 1 });
  t.true((summary['note'] as string).length <= 121);
  t.true(Object.keys(summary).length <= 33);
});

test('an actor reference is shown by its name', (t) => {
  const actor = createActor(createMachine({ id: 'x' }), { systemId: 'queue:q:1' });
  t.deepEqual(summarize({ child: actor }), { child: 'queue:q:1' });
});

test('a machine definition has nested states, transitions with targets and guards, and invokes', (t) => {
  const machine = createMachine({
    id: 'door',
    initial: 'closed',
    states: {
      closed: { on: { open: { target: 'opened', guard: 'unlocked' } } },
      opened: {
        initial: 'still',
        invoke: { src: 'watcher', id: 'w' },
        states: { still: { after: { 1000: 'swinging' } }, swinging: {} },
        on: { close: 'closed' },
      },
    },
  });
  const d = machineDefinition(machine);
  t.is(d.id, 'door');
  t.is(d.type, 'compound');
  t.is(d.initial, 'closed');
  t.deepEqual(d.states['closed']?.transitions, [{ event: 'open', targets: ['door.opened'], guard: 'unlocked' }]);
  t.deepEqual(d.states['opened']?.transitions, [{ event: 'close', targets: ['door.closed'] }]);
  t.deepEqual(d.states['opened']?.invoke, ['watcher']);
  t.is(d.states['opened']?.states['still']?.transitions[0]?.targets[0], 'door.opened.swinging');
  t.regex(d.states['opened']?.states['still']?.transitions[0]?.event ?? '', /after/);
});
