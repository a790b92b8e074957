/**
 * Forwarding to Stately's inspector (`@statelyai/inspect`): watches the bus like any inspector
 * (publishing the watch notice, reading every node's frames) and replays the actors, their states
 * and their events to the inspector's WebSocket (for example `npx @statelyai/inspect`'s bridge, or
 * createInspectorServer from `@statelyai/inspect/server`).
 *
 * Actors are named `<node>/<actor>` (two nodes both have a `partition` machine, and sessionIds
 * repeat across processes). The statechart of each machine is asked of the node once and handed to
 * Stately as an XState machine definition.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { createInspector } from '@statelyai/inspect';
import { createMachine, type AnyStateMachine } from 'xstate';
import type { ClusterName } from '../names.ts';
import { StatelySocket, type StatelySocketOptions } from './stately-socket.ts';
import { subjects } from '../protocol/subjects.ts';
import {
  decodeFrame,
  decodeJson,
  encodeJson,
  INSPECT_REQUEST_TIMEOUT_MS,
  isFrameSubject,
  machineReplySchema,
  WATCH_INTERVAL_MS,
  type InspectFrame,
  type StateNodeDefinition,
} from './protocol.ts';

type MachineConfig = Parameters<typeof createMachine>[0];

export async function forwardToStately(
  nc: NatsConnection,
  cluster: ClusterName,
  url: string,
  options: StatelySocketOptions = {},
): Promise<() => Promise<void>> {
  const subs = subjects(cluster);
  // Our own socket (stately-socket.ts): its stop leaves nothing running, so the process can end.
  const socket = new StatelySocket(url, options);
  const inspector = createInspector(socket);
  inspector.start();
  /** Definitions by node and machine id, asked once (a promise, so concurrent frames share it). */
  const definitions = new Map<string, Promise<MachineConfigJson | undefined>>();
  const definitionOf = (node: string, machine: string): Promise<MachineConfigJson | undefined> => {
    const key = `${node}/${machine}`;
    let found = definitions.get(key);
    if (!found) {
      found = nc
        .request(subs.inspectRequest(node), encodeJson({ op: 'machine', machine }), { timeout: INSPECT_REQUEST_TIMEOUT_MS })
        .then((msg) => machineConfig(decodeJson(machineReplySchema, msg.data).definition))
        .catch(() => undefined);
      definitions.set(key, found);
    }
    return found;
  };
  const named = (node: string, actor: string) => `${node}/${actor}`;

  // Frames are replayed in order: an actor's registration waits for its definition.
  let chain: Promise<void> = Promise.resolve();
  const forward = async (frame: InspectFrame) => {
    for (const e of frame.events) {
      switch (e.kind) {
        case 'actor':
          if (e.status === 'started') {
            const config = await definitionOf(frame.node, e.machine);
            inspector.actor(actorLike(named(frame.node, e.actor), config, e.parent === undefined ? undefined : named(frame.node, e.parent)));
          } else {
            inspector.snapshot(named(frame.node, e.actor), { status: 'stopped' });
          }
          break;
        case 'state':
          inspector.snapshot(named(frame.node, e.actor), { status: 'active', value: e.value, context: e.context });
          break;
        case 'event':
          inspector.event(named(frame.node, e.actor), { type: e.type, sampled: e.sampled });
          break;
      }
    }
  };
  const sub = nc.subscribe(subs.allInspect, {
    callback: (err, msg) => {
      if (err || !isFrameSubject(subs, msg.subject)) return;
      let frame: InspectFrame;
      try {
        frame = decodeFrame(msg.data);
      } catch {
        return; // not a frame this version reads
      }
      chain = chain.then(() => forward(frame));
    },
  });
  const watcher = `stately-${process.pid}`;
  const watch = () => {
    if (!nc.isClosed()) nc.publish(subs.inspectWatch, encodeJson({ watcher }));
  };
  watch();
  const timer = setInterval(watch, WATCH_INTERVAL_MS);
  return async () => {
    clearInterval(timer);
    sub.unsubscribe();
    await chain;
    inspector.stop();
  };
}

type MachineConfigJson = Record<string, unknown>;

/**
 * What Stately's `inspector.actor` reads from an actor: its sessionId, the machine config it draws
 * (`logic.config`) and its parent (it ignores a parent or definition given as plain options).
 */
function actorLike(sessionId: string, config: MachineConfigJson | undefined, parent: string | undefined) {
  const ref = {
    sessionId,
    send: () => undefined,
    getSnapshot: () => ({ status: 'active' }),
    ...(config ? { logic: { config } } : {}),
    ...(parent !== undefined ? { _parent: { sessionId: parent, send: () => undefined, getSnapshot: () => ({ status: 'active' }) } } : {}),
  };
  return ref;
}

/** The XState machine config of a node's machine (no implementations: it is only drawn). */
export function machineConfig(definition: StateNodeDefinition): MachineConfigJson {
  return configOf(definition, true);
}

/** An XState machine with the shape of a node's machine, to check the config draws what runs. */
export function xstateMachine(definition: StateNodeDefinition): AnyStateMachine {
  return createMachine(machineConfig(definition) as MachineConfig);
}

function configOf(node: StateNodeDefinition, root: boolean): Record<string, unknown> {
  const on: Record<string, Array<{ target?: string[]; reenter?: boolean }>> = {};
  const always: Array<{ target?: string[] }> = [];
  for (const t of node.transitions) {
    const target = t.targets.length > 0 ? { target: t.targets.map((id) => `#${id}`) } : {};
    if (t.event === '') always.push(target);
    else (on[t.event] ??= []).push({ ...target, ...(t.reenter ? { reenter: true } : {}) });
  }
  const states: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(node.states)) states[key] = configOf(child, false);
  return {
    ...(root ? { id: node.id } : {}),
    ...(node.type !== 'atomic' && node.type !== 'compound' ? { type: node.type } : {}),
    ...(node.initial !== undefined ? { initial: node.initial } : {}),
    ...(Object.keys(states).length > 0 ? { states } : {}),
    ...(Object.keys(on).length > 0 ? { on } : {}),
    ...(always.length > 0 ? { always } : {}),
  };
}
