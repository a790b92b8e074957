/**
 * The independent-hosts model's pure decisions (actors/hosts/): placement of one shard per host,
 * takeover of a dead host's shards by the survivors (deterministic, never two writers at one epoch,
 * never a host without every committed entry), hand-back to the home host, and rendezvous hashing.
 * Time and the cluster are simulated (manager-fakes.ts's World), and every live host decides in
 * every round, as in a real hosts cluster.
 */
import test from 'ava';
import { deciderOf, decideHosts, homeOf, takeoverOrder } from '../../actors/hosts/decide.ts';
import { rank, winner } from '../../actors/hosts/rendezvous.ts';
import { keyOf, type Decision, type ManagerView } from '../../actors/manager/view.ts';
import { World, written } from './manager-fakes.ts';

const HOSTS = ['a', 'b', 'c'];

/** Every live host decides from the same view; the writes race as compare-and-swaps. */
const everyHost = (w: World) => (view: ManagerView): Decision[] =>
  HOSTS.filter((h) => !w.down.has(h)).flatMap((h) => decideHosts(view, h));

function hostsWorld(partitions = 3): World {
  const w = new World({ failureTimeoutMs: 3000 });
  for (const h of HOSTS) w.addNode(h, 'active', `${h}-1`);
  w.addQueue('q', partitions);
  w.heartbeat();
  w.settle(everyHost(w));
  return w;
}

/** Epoch → writer over every written decision: a second writer at one epoch would be double ownership. */
function writers(decisions: readonly Decision[]): Map<string, string> {
  const seen = new Map<string, string>();
  for (const d of decisions) {
    const a = written(d);
    if (a === undefined || a.primary === null) continue;
    const at = `${keyOf(a)}@${a.epoch}`;
    const before = seen.get(at);
    if (before !== undefined && before !== a.primary) throw new Error(`${at} written by ${before} and ${a.primary}`);
    seen.set(at, a.primary);
  }
  return seen;
}

test('placement: one shard per host, each written by its home, all on the same hosts', (t) => {
  const w = hostsWorld(3);
  const shards = [0, 1, 2].map((p) => w.get('q', p));
  t.deepEqual(shards.map((a) => a.primary).sort(), HOSTS);
  for (const a of shards) {
    t.is(a.primary, homeOf(a) ?? null);
    t.deepEqual(a.replicas, shards[0]?.replicas);
    t.is(a.epoch, 1);
  }
  t.deepEqual([...(shards[0]?.replicas ?? [])].sort(), HOSTS);
});

test('placement: only the queue\'s decider writes, so three hosts make one set of creations', (t) => {
  const w = new World();
  for (const h of HOSTS) w.addNode(h, 'active', `${h}-1`);
  w.addQueue('q', 3);
  w.heartbeat();
  const view = w.view();
  const deciding = HOSTS.filter((h) => decideHosts(view, h).length > 0);
  t.deepEqual(deciding, [winner('q', HOSTS)]);
  t.is(decideHosts(view, deciding[0] as string).length, 3);
});

test('takeover: a dead host\'s shard goes to one survivor at a higher epoch; the others keep theirs', (t) => {
  const w = hostsWorld(3);
  const dead = w.get('q', 0).primary as string;
  for (let p = 0; p < 3; p++) w.append('q', p, 10);
  w.heartbeat();
  w.down.add(dead);
  w.now += 3000;
  const log = w.settle(everyHost(w));
  writers(log);
  const after = w.get('q', 0);
  t.not(after.primary, dead);
  t.true(after.primary !== null && HOSTS.includes(after.primary));
  t.is(after.epoch, 2);
  // The survivors' own shards did not move.
  for (const p of [1, 2]) t.is(w.get('q', p).epoch, 1);
  // Deterministic: with equal logs, the first survivor of the takeover order.
  const order = takeoverOrder(after);
  const survivors = HOSTS.filter((h) => h !== dead).sort((x, y) => order(x) - order(y));
  t.is(after.primary, survivors[0] ?? null);
});

test('takeover: not before the failure timeout', (t) => {
  const w = hostsWorld(3);
  const dead = w.get('q', 0).primary as string;
  w.down.add(dead);
  w.now += 2900;
  w.heartbeat();
  t.deepEqual(everyHost(w)(w.view()), []);
});

test('takeover: the survivor must hold every committed entry, whatever the rendezvous order says', (t) => {
  const w = hostsWorld(3);
  const a = w.get('q', 0);
  const dead = a.primary as string;
  const order = takeoverOrder(a);
  const [first, second] = HOSTS.filter((h) => h !== dead).sort((x, y) => order(x) - order(y)) as [string, string];
  w.append('q', 0, 10);
  w.heartbeat();
  w.down.add(dead);
  // Committed on the dead host and `second` only (a majority of three): `first` lags behind.
  const key = keyOf(a);
  w.log(dead, key).logEnd = 15;
  w.log(second, key).logEnd = 15;
  w.log(first, key).logEnd = 10;
  w.now += 3000;
  writers(w.settle(everyHost(w)));
  t.is(w.get('q', 0).primary, second);
});

test('takeover: with one survivor of three there is no quorum of logs, so nobody takes over', (t) => {
  const w = hostsWorld(3);
  const dead = w.get('q', 0).primary as string;
  const [, second] = HOSTS.filter((h) => h !== dead) as [string, string];
  w.down.add(dead);
  w.down.add(second);
  w.now += 3000;
  w.settle(everyHost(w));
  t.is(w.get('q', 0).primary, null, 'fenced, waiting for a quorum of frozen logs');
});

test('concurrent deciders with split views: the compare-and-swap lets one write win, never two writers', (t) => {
  const w = hostsWorld(3);
  const dead = w.get('q', 0).primary as string;
  const [x, y] = HOSTS.filter((h) => h !== dead) as [string, string];
  w.down.add(dead);
  w.now += 3000;
  w.heartbeat();
  // Both survivors act as deciders at once (as if each thought itself first): same revision, two writes.
  const view = w.view();
  const key = keyOf(w.get('q', 0));
  const decider = deciderOf(view, key, w.get('q', 0).replicas);
  t.true(decider === x || decider === y);
  const fence = decideHosts(view, decider as string).filter((d) => written(d)?.partition === 0);
  const outcomes = w.apply([...fence, ...fence]);
  t.deepEqual(outcomes.map((o) => o.kind), ['written', 'conflict']);
  writers(w.settle(everyHost(w)));
  t.is(w.get('q', 0).epoch, 2);
});

test('hand-back: the home host comes back, catches up, and takes its shard back at a higher epoch', (t) => {
  const w = hostsWorld(3);
  const home = w.get('q', 0).primary as string;
  w.down.add(home);
  w.now += 3000;
  const log = w.settle(everyHost(w));
  const takenBy = w.get('q', 0).primary;
  t.not(takenBy, home);
  w.append('q', 0, 5);
  w.down.delete(home);
  // The taker holds the shard for a failure timeout before handing it back.
  w.heartbeat();
  t.deepEqual(everyHost(w)(w.view()).filter((d) => written(d)?.partition === 0), []);
  w.now += 3000;
  log.push(...w.settle(everyHost(w)));
  writers(log);
  const back = w.get('q', 0);
  t.is(back.primary, home);
  t.is(back.epoch, 3, 'one fence for the takeover, one for the hand-back');
});

test('a deleted queue\'s shards are deleted by one host', (t) => {
  const w = hostsWorld(3);
  w.deleteQueue('q');
  w.heartbeat();
  w.settle(everyHost(w));
  t.is(w.assignments.size, 0);
});

test('rendezvous: every host ranks alike; removing a host moves only the keys it won', (t) => {
  const keys = Array.from({ length: 3000 }, (_, i) => `queue-${i}.0`);
  const before = new Map(keys.map((k) => [k, winner(k, HOSTS)]));
  const wins = new Map<string, number>();
  for (const w of before.values()) wins.set(w as string, (wins.get(w as string) ?? 0) + 1);
  for (const h of HOSTS) t.true((wins.get(h) ?? 0) > 800, `${h} wins ${wins.get(h)} of 3000`);
  for (const k of keys) {
    const after = winner(k, ['c', 'a']);
    if (before.get(k) !== 'b') t.is(after, before.get(k));
    else t.is(after, rank(k, HOSTS)[1]);
  }
  t.deepEqual(rank('x', ['c', 'b', 'a']), rank('x', ['a', 'b', 'c']));
  t.is(winner('x', []), undefined);
});
