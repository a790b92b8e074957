/**
 * A node's inspection adapter: XState's inspection callback of the node's actor systems (the node's
 * own and the cluster manager's) feeds an InspectBuffer, whose frames go to the node's inspect
 * subject while an inspector watches; and the node's inspect request subject answers for its actors,
 * their machines and the whereabouts of messages (protocol.ts).
 *
 * Only machine actors are shown (promise and callback actors are the machines' effects). While
 * nobody watches, `observe` returns on its first line.
 */
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { Actor, StateMachine, type AnyActorRef, type AnyStateMachine, type InspectionEvent } from 'xstate';
import type { NodeId } from '../names.ts';
import type { Logger } from '../node/log.ts';
import type { Subjects } from '../protocol/subjects.ts';
import { InspectBuffer, type InspectLimits } from './buffer.ts';
import { machineDefinition } from './definition.ts';
import {
  decodeInspectRequest,
  decodeWatch,
  encodeJson,
  type ActorSummary,
  type CountersReply,
  type InspectEvent,
  type InspectFrame,
  type InspectReply,
  type MessageQuery,
  type MessageReply,
  type InspectError,
  type StateValue,
} from './protocol.ts';
import { actorName } from './actor-names.ts';
import { summarize } from './summary.ts';

/** How often held events go out as a frame while watched. */
export const FRAME_MS = 100;

export interface NodeInspectorOptions {
  nc: NatsConnection;
  subs: Subjects;
  node: NodeId;
  log: Logger;
  /** Wall clock, ms. @default Date.now */
  now?: () => number;
  limits?: Partial<InspectLimits>;
  /** Machines whose definitions are served even while no actor runs them. */
  machines?: readonly AnyStateMachine[];
}

export interface InspectorSources {
  whereabouts(query: MessageQuery): Promise<MessageReply | InspectError>;
  /** The node's message counters per queue, and its boot id. */
  counters(): Promise<Omit<CountersReply, 'node'>>;
}

interface Identity {
  actor: string;
  machine: string;
  parent?: string;
}

type MachineActor = Actor<AnyStateMachine>;

export class NodeInspector {
  private readonly options: NodeInspectorOptions;
  private readonly now: () => number;
  private readonly buffer: InspectBuffer<MachineActor>;
  /** Mirrors buffer.watched, refreshed by the timer: the hot path reads a field, not the clock. */
  private live = false;
  private readonly identities = new WeakMap<object, Identity | null>();
  /** Actors shown to inspectors since the watch began, to tell them when one stops. */
  private readonly shown = new Map<string, { ref: MachineActor; identity: Identity }>();
  private readonly machines = new Map<string, AnyStateMachine>();
  /** The root actor of each system given `observe`, walked for the `actors` request. */
  private readonly roots = new Set<MachineActor>();
  private sources: InspectorSources | undefined;
  private subs: Subscription[] = [];
  private timer: NodeJS.Timeout | undefined;
  private seq = 0;

  constructor(options: NodeInspectorOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
    this.buffer = new InspectBuffer<MachineActor>({ now: this.now }, options.limits);
    for (const m of options.machines ?? []) this.machines.set(m.id, m);
  }

  /** XState's `inspect` option: give it to every createActor of the node. */
  readonly observe = (event: InspectionEvent): void => {
    if (!this.live) {
      // Roots are learnt from their own registration, so any createActor given `observe` is covered.
      if (event.type === '@xstate.actor' && event.actorRef instanceof Actor && !event.actorRef._parent) this.roots.add(event.actorRef);
      return;
    }
    switch (event.type) {
      case '@xstate.actor': {
        // XState announces an actor from its constructor, before giving it its system id: named
        // then, it would keep its session id. It is named once built (a snapshot event may have
        // shown it first).
        const ref = event.actorRef as MachineActor;
        queueMicrotask(() => {
          const id = this.identify(ref);
          if (!id || this.shown.has(id.actor)) return;
          if (!ref._parent) this.roots.add(ref);
          this.show(ref, id);
        });
        break;
      }
      case '@xstate.event': {
        const id = this.identify(event.actorRef);
        if (id) this.buffer.event(id.actor, event.event.type);
        break;
      }
      case '@xstate.snapshot': {
        const id = this.identify(event.actorRef);
        if (!id) break;
        if (!this.shown.has(id.actor)) this.show(event.actorRef as MachineActor, id);
        else this.buffer.state(id.actor, id.machine, event.actorRef as MachineActor);
        break;
      }
      default:
        break;
    }
  };

  start(sources: InspectorSources): void {
    this.sources = sources;
    const { nc, subs, node, log } = this.options;
    this.subs = [
      nc.subscribe(subs.inspectWatch, {
        callback: (err, msg) => {
          if (err) return;
          try {
            decodeWatch(msg.data);
          } catch {
            return;
          }
          this.buffer.watch();
          if (!this.live) this.begin();
        },
      }),
      nc.subscribe(subs.inspectRequest(node), {
        callback: (err, msg) => {
          if (err || !msg.reply) return;
          this.answer(msg.data).then(
            (reply) => msg.respond(encodeJson(reply)),
            (e: unknown) => {
              log.warn({ err: e }, 'inspect request failed');
              msg.respond(encodeJson({ error: (e as Error).message }));
            },
          );
        },
      }),
    ];
  }

  async stop(): Promise<void> {
    for (const s of this.subs) s.unsubscribe();
    this.subs = [];
    this.end();
  }

  // ---- live frames ------------------------------------------------------------------------------

  /** A watch began: every live actor and its state go out first, then changes as they come. */
  private begin(): void {
    this.live = true;
    this.shown.clear();
    for (const { ref, identity } of this.walk()) this.show(ref, identity);
    this.timer = setInterval(() => this.tick(), FRAME_MS);
    this.timer.unref();
  }

  private end(): void {
    this.live = false;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.shown.clear();
  }

  private tick(): void {
    if (!this.buffer.watched) {
      this.end();
      return;
    }
    for (const [actor, { ref, identity }] of this.shown) {
      if (ref.getSnapshot().status === 'active') continue;
      this.shown.delete(actor);
      this.buffer.actor({ kind: 'actor', ...identity, status: 'stopped' });
    }
    // A flood leaves more than a frame's worth: send them all now, not one frame per tick.
    do this.publish();
    while (this.buffer.due);
  }

  private publish(): void {
    const taken = this.buffer.take();
    if (!taken || this.options.nc.isClosed()) return;
    const events: InspectEvent[] = taken.entries.map((e) => {
      if (e.kind !== 'state') return e;
      const snapshot = e.payload.getSnapshot();
      return { kind: 'state', actor: e.actor, machine: e.machine, value: snapshot.value as StateValue, context: summarize(snapshot.context) };
    });
    const frame: InspectFrame = { node: this.options.node, seq: ++this.seq, at: this.now(), dropped: taken.dropped, events };
    this.options.nc.publish(this.options.subs.inspect(this.options.node), encodeJson(frame));
  }

  private show(ref: MachineActor, identity: Identity): void {
    this.shown.set(identity.actor, { ref, identity });
    this.buffer.actor({ kind: 'actor', ...identity, status: 'started' });
    this.buffer.state(identity.actor, identity.machine, ref);
  }

  // ---- identities ---------------------------------------------------------------------------------

  private identify(ref: object): Identity | undefined {
    let id = this.identities.get(ref);
    if (id === undefined) {
      id = identityOf(ref);
      this.identities.set(ref, id);
      if (id && ref instanceof Actor) this.machines.set(id.machine, ref.logic as AnyStateMachine);
    }
    return id ?? undefined;
  }

  /** Every machine actor under the roots, parents before children. */
  private walk(): Array<{ ref: MachineActor; identity: Identity }> {
    const out: Array<{ ref: MachineActor; identity: Identity }> = [];
    const visit = (ref: AnyActorRef) => {
      const identity = this.identify(ref);
      if (!identity) return;
      const snapshot = (ref as MachineActor).getSnapshot();
      if (snapshot.status !== 'active') return;
      out.push({ ref: ref as MachineActor, identity });
      for (const child of Object.values(snapshot.children as Record<string, AnyActorRef | undefined>)) if (child) visit(child);
    };
    for (const root of this.roots) {
      if (root.getSnapshot().status === 'active') visit(root);
      else this.roots.delete(root);
    }
    return out;
  }

  // ---- requests ------------------------------------------------------------------------------------

  private async answer(data: Uint8Array): Promise<InspectReply> {
    let request;
    try {
      request = decodeInspectRequest(data);
    } catch (err) {
      return { error: (err as Error).message };
    }
    switch (request.op) {
      case 'actors':
        return { node: this.options.node, actors: this.walk().map(({ ref, identity }) => this.summary(ref, identity)) };
      case 'machine': {
        if (!this.machines.has(request.machine)) this.walk();
        const machine = this.machines.get(request.machine);
        if (!machine) return { error: `no machine ${request.machine} on node ${this.options.node}` };
        return { machine: request.machine, definition: machineDefinition(machine) };
      }
      case 'message':
        if (!this.sources) return { error: 'the node is starting' };
        return this.sources.whereabouts(request);
      case 'counters':
        if (!this.sources) return { error: 'the node is starting' };
        return { node: this.options.node, ...(await this.sources.counters()) };
    }
  }

  private summary(ref: MachineActor, identity: Identity): ActorSummary {
    const snapshot = ref.getSnapshot();
    return {
      ...identity,
      value: snapshot.value as StateValue,
      context: summarize(snapshot.context),
      events: this.buffer.recent(identity.actor),
    };
  }
}

function identityOf(ref: object): Identity | null {
  if (!(ref instanceof Actor) || !(ref.logic instanceof StateMachine)) return null;
  const parent = ref._parent;
  return {
    actor: actorName(ref),
    machine: (ref.logic as AnyStateMachine).id,
    ...(parent ? { parent: actorName(parent) } : {}),
  };
}

