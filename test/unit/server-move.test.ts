import test from 'ava';
import type { NatsConnection, Server } from '@nats-io/nats-core';
import { ServerMove } from '../../src/client/server-move.ts';

const server = (listen: string): Server => ({ hostname: listen.split(':')[0] ?? '', port: Number(listen.split(':')[1]), listen, src: listen, tlsName: '', reconnects: 0, lastConnect: 0, gossiped: false, didConnect: false });

/** The part of a connection a move uses: its server, whether that server is clustered, and reconnect(). */
function connection(current: string, clustered = true) {
  const calls = { reconnects: 0 };
  const nc = {
    info: clustered ? { cluster: 'c' } : {},
    getServer: () => current,
    reconnect: async () => {
      calls.reconnects++;
    },
  } as unknown as NatsConnection;
  return { nc, calls };
}

test('the dial after a move skips the server being left; other dials keep nats.js’s choice', (t) => {
  const move = new ServerMove();
  const pool = [server('10.0.0.1:4222'), server('10.0.0.2:4222'), server('10.0.0.3:4222')];
  t.is(move.pick(pool), null, 'no move under way');
  const { nc, calls } = connection('10.0.0.1:4222');
  move.move(nc);
  t.is(calls.reconnects, 1);
  t.is(move.pick(pool)?.listen, '10.0.0.2:4222');
  t.is(move.pick(pool), null, 'only the one dial that follows the move');
});

test('a move needs a clustered server, and comes at most once per interval', (t) => {
  const alone = connection('10.0.0.1:4222', false);
  const move = new ServerMove();
  move.move(alone.nc);
  t.is(alone.calls.reconnects, 0, 'a lone server has no other to move to');
  const clustered = connection('10.0.0.1:4222');
  move.move(clustered.nc);
  move.move(clustered.nc);
  t.is(clustered.calls.reconnects, 1, 'the second move within 2 s is skipped');
  t.is(move.pick([server('10.0.0.1:4222')]), null, 'a pool with only the server being left: nats.js chooses');
});
