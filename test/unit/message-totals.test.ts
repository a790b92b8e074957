/** Cluster totals of sent, received and deleted messages from the nodes' counters (src/inspect/server/message-totals.ts). */
import test from 'ava';
import { MessageTotals } from '../../src/inspect/server/message-totals.ts';

const reply = (node: string, boot: string, sent: number, received = 0, deleted = 0) => ({ node, boot, queues: { q: { sent, received, deleted } } });

test("a node's first answer only sets where it stands; later answers add their increase", (t) => {
  const totals = new MessageTotals();
  totals.add(reply('n1', 'a', 100, 50, 40));
  t.deepEqual(totals.of('q'), { sent: 0, received: 0, deleted: 0 });
  totals.add(reply('n1', 'a', 110, 55, 41));
  t.deepEqual(totals.of('q'), { sent: 10, received: 5, deleted: 1 });
});

test('totals sum over nodes', (t) => {
  const totals = new MessageTotals();
  for (const n of ['n1', 'n2']) totals.add(reply(n, 'a', 0));
  totals.add(reply('n1', 'a', 3));
  totals.add(reply('n2', 'a', 4));
  t.is(totals.of('q').sent, 7);
});

test('a restarted node (new boot, or a counter gone down) adds its whole count; totals never go down', (t) => {
  const totals = new MessageTotals();
  totals.add(reply('n1', 'a', 100));
  totals.add(reply('n1', 'a', 120));
  totals.add(reply('n1', 'b', 150)); // restarted and counted 150 since: more than before, still a restart
  t.is(totals.of('q').sent, 170);
  totals.add(reply('n1', 'b', 5)); // restarted unseen
  t.is(totals.of('q').sent, 175);
});

test('deleted queues and removed nodes are forgotten', (t) => {
  const totals = new MessageTotals();
  totals.add(reply('n1', 'a', 0));
  totals.add(reply('n1', 'a', 2));
  totals.keep(new Set(), new Set());
  t.is(totals.of('q').sent, 0);
  totals.add(reply('n1', 'a', 9));
  t.is(totals.of('q').sent, 0, 'a forgotten node starts again from its next answer');
});
