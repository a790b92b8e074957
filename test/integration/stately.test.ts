/**
 * Forwarding to Stately's inspector: a local WebSocket server (the `ws` package, which
 * @statelyai/inspect depends on) receives the node's actors, with their machine definitions, their
 * states and their events, as Stately's inspector would.
 */
import { createRequire } from 'node:module';
import test from 'ava';
import type { StatelyInspectionEvent } from '@statelyai/inspect';
import { forwardToStately, xstateMachine } from '../../src/inspect/stately.ts';
import { machineDefinition } from '../../src/inspect/definition.ts';
import { clusterName } from '../../src/names.ts';
import { replicaMachine } from '../../actors/replica/replica.machine.ts';
import { eventually } from '../helpers/eventually.ts';
import { startWharf } from '../helpers/wharf.ts';

/** The part of `ws` the test uses (the package has no types installed). */
interface WsSocket {
  on(event: 'message', fn: (data: Buffer) => void): void;
  terminate(): void;
}
interface WsServer {
  on(event: 'connection', fn: (socket: WsSocket) => void): void;
  once(event: 'listening', fn: () => void): void;
  address(): { port: number };
  close(): void;
}
const { WebSocketServer } = createRequire(import.meta.url)('ws') as { WebSocketServer: new (options: { host: string; port: number }) => WsServer };

async function inspectorServer(t: { teardown(fn: () => void): void }): Promise<{ url: string; received: StatelyInspectionEvent[] }> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  const sockets: WsSocket[] = [];
  const received: StatelyInspectionEvent[] = [];
  server.on('connection', (socket) => {
    sockets.push(socket);
    socket.on('message', (data) => received.push(JSON.parse(data.toString()) as StatelyInspectionEvent));
  });
  await new Promise<void>((resolve) => server.once('listening', resolve));
  t.teardown(() => {
    for (const s of sockets) s.terminate();
    server.close();
  });
  return { url: `ws://127.0.0.1:${server.address().port}`, received };
}

test('a machine definition round-trips into an XState machine with the same states', (t) => {
  const drawn = xstateMachine(machineDefinition(replicaMachine));
  t.deepEqual(Object.keys(drawn.root.states), Object.keys(replicaMachine.root.states));
  t.is(drawn.id, 'replica');
});

test('forwardToStately replays actors, states and events to the inspector WebSocket', async (t) => {
  const { client, node, cluster } = await startWharf(t);
  await client.createQueue('forwarded');
  const { url, received } = await inspectorServer(t);

  const stop = await forwardToStately(node.nc, clusterName(cluster), url);
  t.teardown(stop);
  await client.sendMessage('forwarded', 'x');

  const nodeActor = await eventually(() =>
    received.find((e): e is Extract<StatelyInspectionEvent, { type: '@xstate.actor' }> => e.type === '@xstate.actor' && e.sessionId === 'n1/node:n1'),
  );
  t.truthy(nodeActor.definition);
  t.is((JSON.parse(nodeActor.definition ?? '{}') as { id?: string }).id, 'node');
  const replica = await eventually(() => received.find((e) => e.type === '@xstate.actor' && e.sessionId.startsWith('n1/replica:forwarded')));
  t.regex((replica as { parentId?: string }).parentId ?? '', /^n1\/queue:forwarded/);
  await eventually(() => received.some((e) => e.type === '@xstate.snapshot' && e.sessionId.startsWith('n1/replica:forwarded')));
  await eventually(() => received.some((e) => e.type === '@xstate.event'));
});
