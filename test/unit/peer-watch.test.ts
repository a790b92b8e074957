import test from 'ava';
import { PeerWatch } from '../../src/node/peer-watch.ts';

function watch(options: { peers?: number; managerActive?: boolean } = {}) {
  const clock = { now: 1_000 };
  const state = { peers: options.peers ?? 2, managerActive: options.managerActive ?? false };
  const w = new PeerWatch({
    self: 'n1',
    failureTimeoutMs: 3_000,
    now: () => clock.now,
    peers: () => state.peers,
    managerActive: () => state.managerActive,
  });
  return { w, clock, state };
}

test('a node that hears its peers is not cut off; one silent past the failure timeout is', (t) => {
  const { w, clock } = watch();
  clock.now += 2_500;
  w.heard('n2');
  clock.now += 3_000;
  t.is(w.cutOff(), undefined, 'exactly the failure timeout is not yet silence');
  clock.now += 1;
  const why = w.cutOff();
  t.truthy(why);
  t.regex(why ?? '', /node n1 has heard no other node for 3001 ms/);
  w.heard('n3');
  t.is(w.cutOff(), undefined, 'any peer heard ends it');
});

test('its own heartbeats do not count', (t) => {
  const { w, clock } = watch();
  clock.now += 2_000;
  w.heard('n1');
  clock.now += 1_500;
  t.truthy(w.cutOff());
});

test('the start counts as heard: a node just started is not cut off', (t) => {
  const { w, clock } = watch();
  t.is(w.cutOff(), undefined);
  clock.now += 3_001;
  t.truthy(w.cutOff());
});

test('a node whose manager is active, or that has no peers, is never cut off', (t) => {
  const active = watch({ managerActive: true });
  active.clock.now += 60_000;
  t.is(active.w.cutOff(), undefined, 'the manager lease needs the metadata quorum: this side has it');
  active.state.managerActive = false;
  t.truthy(active.w.cutOff(), 'once the lease is lost, the silence counts');

  const alone = watch({ peers: 0 });
  alone.clock.now += 60_000;
  t.is(alone.w.cutOff(), undefined, 'a cluster of one node');
});

test('a reconnect starts the silence again', (t) => {
  const { w, clock } = watch();
  clock.now += 10_000;
  t.truthy(w.cutOff());
  w.reset();
  t.is(w.cutOff(), undefined);
  clock.now += 3_001;
  t.truthy(w.cutOff());
});
