/**
 * The inspection protocol: what nodes and inspectors (the web page, `wharf top`, the Stately
 * forwarder) say to each other on the bus. Every frame is JSON, checked with these schemas on the
 * receiving side: a frame comes from any node, perhaps of another version.
 *
 *   wharf.<c>.inspect.watch          inspector → nodes   publish WatchNotice every WATCH_INTERVAL_MS
 *   wharf.<c>.inspect.<node>         node → inspectors   publish InspectFrame (only while watched)
 *   wharf.<c>.node.<node>.inspect    inspector → node    request InspectRequest, reply InspectReply
 *
 * A node publishes live events only while it has seen a watch notice in the last WATCH_TTL_MS, so
 * nobody pays for inspection when nobody looks. The subject of every node's frames (allInspect in
 * subjects.ts) also matches the watch subject: subscribers skip it (see isFrameSubject).
 */
import * as v from 'valibot';
import type { Subjects } from '../protocol/subjects.ts';

/** How often an inspector repeats its watch notice. */
export const WATCH_INTERVAL_MS = 2000;
/** How long a node keeps publishing after the last watch notice it saw. */
export const WATCH_TTL_MS = 6000;
/** Events of one actor kept for the `actors` request. */
export const RECENT_EVENTS = 20;
/** How long an inspector waits for a node's reply. */
export const INSPECT_REQUEST_TIMEOUT_MS = 5000;

/** An XState state value: a state name, or nested regions. */
export type StateValue = string | { [region: string]: StateValue };
export const stateValueSchema: v.GenericSchema<StateValue> = v.union([
  v.string(),
  v.record(
    v.string(),
    v.lazy(() => stateValueSchema),
  ),
]);

/** One value of a context summary: scalars, short lists of scalars, or small nested summaries. */
export type SummaryValue = string | number | boolean | null | SummaryValue[] | { [key: string]: SummaryValue };
const summaryValueSchema: v.GenericSchema<SummaryValue> = v.union([
  v.string(),
  v.number(),
  v.boolean(),
  v.null(),
  v.array(v.lazy(() => summaryValueSchema)),
  v.record(
    v.string(),
    v.lazy(() => summaryValueSchema),
  ),
]);
/** A small, safe digest of an actor's context: counts, ids, states; never message bodies. */
export type ContextSummary = { [key: string]: SummaryValue };
export const contextSummarySchema: v.GenericSchema<ContextSummary> = v.record(v.string(), summaryValueSchema);

// ---- watch ---------------------------------------------------------------------------------------

export const watchNoticeSchema = v.object({ watcher: v.pipe(v.string(), v.maxLength(200)) });
export type WatchNotice = v.InferOutput<typeof watchNoticeSchema>;

// ---- live events ------------------------------------------------------------------------------------

export const actorEventSchema = v.object({
  kind: v.literal('actor'),
  /** The actor's systemId when it has one (node:<id>, queue:<name>:<inc>, replica:<q>:<inc>:<p>, manager:<id>), else its sessionId. */
  actor: v.string(),
  /** The machine's id: node, queue, replica, partition, manager… */
  machine: v.string(),
  parent: v.optional(v.string()),
  status: v.picklist(['started', 'stopped']),
});
export const stateEventSchema = v.object({
  kind: v.literal('state'),
  actor: v.string(),
  machine: v.string(),
  value: stateValueSchema,
  context: contextSummarySchema,
});
export const eventEventSchema = v.object({
  kind: v.literal('event'),
  actor: v.string(),
  /** The event's type. */
  type: v.string(),
  /** Events of this type to this actor that this one stands for (1 when nothing was sampled away). */
  sampled: v.number(),
});
export const inspectEventSchema = v.variant('kind', [actorEventSchema, stateEventSchema, eventEventSchema]);
export type ActorInspectEvent = v.InferOutput<typeof actorEventSchema>;
export type StateInspectEvent = v.InferOutput<typeof stateEventSchema>;
export type EventInspectEvent = v.InferOutput<typeof eventEventSchema>;
export type InspectEvent = v.InferOutput<typeof inspectEventSchema>;

export const inspectFrameSchema = v.object({
  node: v.string(),
  /** Rises by one per frame of this node's process: a gap means frames were lost on the way. */
  seq: v.number(),
  /** Wall time the frame was sent (ms since the epoch). */
  at: v.number(),
  /** Events left out of this frame by sampling or a full buffer (state changes are never left out). */
  dropped: v.number(),
  events: v.array(inspectEventSchema),
});
export type InspectFrame = v.InferOutput<typeof inspectFrameSchema>;

// ---- requests ------------------------------------------------------------------------------------

export const inspectRequestSchema = v.variant('op', [
  v.object({ op: v.literal('actors') }),
  v.object({ op: v.literal('counters') }),
  v.object({ op: v.literal('machine'), machine: v.string() }),
  v.object({
    op: v.literal('message'),
    queue: v.string(),
    id: v.optional(v.string()),
    receiptHandle: v.optional(v.string()),
    /** Only this partition (nodes set it when they forward a search to a partition's primary). */
    partition: v.optional(v.number()),
  }),
]);
export type InspectRequest = v.InferOutput<typeof inspectRequestSchema>;
export type MessageQuery = Extract<InspectRequest, { op: 'message' }>;

export const recentEventSchema = v.object({ type: v.string(), at: v.number() });
export type RecentEvent = v.InferOutput<typeof recentEventSchema>;

export const actorSummarySchema = v.object({
  actor: v.string(),
  machine: v.string(),
  parent: v.optional(v.string()),
  value: stateValueSchema,
  context: contextSummarySchema,
  /** The last RECENT_EVENTS events received, oldest first (`at`: wall time, ms). */
  events: v.array(recentEventSchema),
});
export type ActorSummary = v.InferOutput<typeof actorSummarySchema>;
export const actorsReplySchema = v.object({ node: v.string(), actors: v.array(actorSummarySchema) });
export type ActorsReply = v.InferOutput<typeof actorsReplySchema>;

/** A state node of a machine, for drawing: nested states and transitions by event type. */
export interface StateNodeDefinition {
  /** The state's key within its parent (the machine id at the root). */
  key: string;
  /** The full id, unique in the machine (`machine.state.sub`). */
  id: string;
  type: 'atomic' | 'compound' | 'parallel' | 'final' | 'history';
  initial?: string;
  states: { [key: string]: StateNodeDefinition };
  transitions: TransitionDefinition[];
  /** Invoked actors' sources, by id. */
  invoke: string[];
}
export interface TransitionDefinition {
  /** The event type (`xstate.after.…` for delayed transitions, `xstate.done.actor.…` for completions). */
  event: string;
  /** Ids of the target state nodes; empty for a transition that stays (actions only). */
  targets: string[];
  guard?: string;
  reenter?: boolean;
}
const transitionSchema: v.GenericSchema<TransitionDefinition> = v.object({
  event: v.string(),
  targets: v.array(v.string()),
  guard: v.exactOptional(v.string()),
  reenter: v.exactOptional(v.boolean()),
});
export const stateNodeDefinitionSchema: v.GenericSchema<StateNodeDefinition> = v.object({
  key: v.string(),
  id: v.string(),
  type: v.picklist(['atomic', 'compound', 'parallel', 'final', 'history']),
  initial: v.exactOptional(v.string()),
  states: v.record(
    v.string(),
    v.lazy(() => stateNodeDefinitionSchema),
  ),
  transitions: v.array(transitionSchema),
  invoke: v.array(v.string()),
});
export const machineReplySchema = v.object({ machine: v.string(), definition: stateNodeDefinitionSchema });
export type MachineReply = v.InferOutput<typeof machineReplySchema>;

export const messageStateSchema = v.picklist(['ready', 'inflight', 'delayed']);
export type MessageWhereaboutsState = v.InferOutput<typeof messageStateSchema>;
export const messageReplySchema = v.variant('found', [
  v.object({
    found: v.literal(false),
    /** Messages looked at: a search by id scans the partitions' messages up to a bound. */
    searched: v.number(),
    /** True when the scan stopped at its bound before looking at every message. */
    truncated: v.optional(v.boolean()),
  }),
  v.object({
    found: v.literal(true),
    /** The node holding the partition's primary, which answered. */
    node: v.string(),
    messageId: v.string(),
    partition: v.number(),
    /** Absent while delayed: a delayed message gets its offset when it becomes visible. */
    offset: v.optional(v.number()),
    state: messageStateSchema,
    /** Deliveries so far (each receive counts, SQS's ApproximateReceiveCount). */
    receiveCount: v.number(),
    /** The consumer holding the lease, when the receiving client named itself. */
    leaseOwner: v.optional(v.string()),
    /** Wall time the lease ends (in flight only). */
    leaseUntil: v.optional(v.number()),
    /** Wall time the message becomes visible (delayed only). */
    delayedUntil: v.optional(v.number()),
    sentAt: v.number(),
    /** On a cluster of independent hosts: the message's hybrid logical clock timestamp, `<physical ms>.<counter>` (docs/models.md#ordering). */
    hlc: v.optional(v.string()),
    /** Body size in bytes (never the body). */
    size: v.number(),
    searched: v.number(),
    /** Delivery attempts: a dead letter's history in its DLQ, or those recorded so far for a redelivered message. */
    attempts: v.optional(
      v.array(
        v.object({
          n: v.number(),
          at: v.optional(v.number()),
          endedAt: v.number(),
          consumer: v.optional(v.string()),
          ended: v.picklist(['lease-expired', 'released', 'dead-lettered']),
        }),
      ),
    ),
    /** In a dead-letter queue: where the message came from and why (its attempts are in `attempts`). */
    deadLetter: v.optional(v.object({ sourceQueue: v.string(), reason: v.string(), receiveCount: v.number(), deadLetteredAt: v.number(), totalAttempts: v.number() })),
  }),
]);
export type MessageReply = v.InferOutput<typeof messageReplySchema>;

/**
 * A node's message counters since it started, per queue: what its front-end answered (the
 * `wharf_messages_{sent,received,deleted}_total` counters of its metrics). `boot` changes when the
 * node restarts and its counters start again from 0.
 */
export const messageCountersSchema = v.object({ sent: v.number(), received: v.number(), deleted: v.number() });
export type MessageCounters = v.InferOutput<typeof messageCountersSchema>;
export const countersReplySchema = v.object({ node: v.string(), boot: v.string(), queues: v.record(v.string(), messageCountersSchema) });
export type CountersReply = v.InferOutput<typeof countersReplySchema>;

/** What a node answers when it cannot: the error, and the primary's node when it knows another holds it. */
export const inspectErrorSchema = v.object({ error: v.string(), primary: v.optional(v.string()) });
export type InspectError = v.InferOutput<typeof inspectErrorSchema>;

export type InspectReply = ActorsReply | CountersReply | MachineReply | MessageReply | InspectError;

// ---- codec -----------------------------------------------------------------------------------------

const text = new TextEncoder();
const untext = new TextDecoder();

export function encodeJson(value: unknown): Uint8Array {
  return text.encode(JSON.stringify(value));
}

/** Parses and checks one JSON frame; throws a readable error when it is not one. */
export function decodeJson<T>(schema: v.GenericSchema<unknown, T>, data: Uint8Array | string): T {
  const raw: unknown = JSON.parse(typeof data === 'string' ? data : untext.decode(data));
  const result = v.safeParse(schema, raw);
  if (!result.success) throw new Error(`malformed inspection frame: ${v.summarize(result.issues)}`);
  return result.output;
}

export const decodeFrame = (data: Uint8Array | string): InspectFrame => decodeJson(inspectFrameSchema, data);
export const decodeWatch = (data: Uint8Array | string): WatchNotice => decodeJson(watchNoticeSchema, data);
export const decodeInspectRequest = (data: Uint8Array | string): InspectRequest => decodeJson(inspectRequestSchema, data);

/** True for a node's frame subject among allInspect's matches (the watch subject shares the prefix). */
export function isFrameSubject(subs: Subjects, subject: string): boolean {
  return subject !== subs.inspectWatch;
}
