/**
 * What a node holds of its actors' inspection events between two frames, and what it lets through.
 * Pure: time comes from the injected clock, nothing is published from here.
 *
 * - Nothing is kept unless an inspector watched within the watch TTL (`watched`).
 * - Events are rate limited per actor and per node (token buckets); the ones over the limit are
 *   sampled away, counted per actor and event type, and reported as one event carrying the count.
 * - State changes are coalesced per actor: the latest state of every actor that changed goes into
 *   the next frame whatever the rate of others, so a quiet actor never loses a change to a busy one.
 * - Memory is bounded under any flood: the event queue, the sample counters, the rate buckets and
 *   the recent-event rings all have caps; the pending states are one per live actor.
 */
import { RECENT_EVENTS, WATCH_TTL_MS, type ActorInspectEvent, type EventInspectEvent, type RecentEvent } from './protocol.ts';

export interface InspectLimits {
  /** Events per second one actor may publish before its events are sampled. */
  actorEventsPerSecond: number;
  /** Events per second the whole node may publish. */
  nodeEventsPerSecond: number;
  /** Lifecycle and event entries held between frames; beyond it they are dropped (and counted). */
  maxBuffered: number;
  /** Event entries in one frame (pending states come on top: one per changed actor). */
  maxFrameEvents: number;
  /** Distinct (actor, event type) counters of sampled events. */
  maxSampleKeys: number;
  /** Actors tracked for rate buckets and recent events. */
  maxActors: number;
  /** How long a watch notice keeps the node publishing. */
  watchTtlMs: number;
}

export const DEFAULT_LIMITS: InspectLimits = {
  actorEventsPerSecond: 50,
  nodeEventsPerSecond: 2000,
  maxBuffered: 4096,
  maxFrameEvents: 256,
  maxSampleKeys: 1024,
  maxActors: 4096,
  watchTtlMs: WATCH_TTL_MS,
};

export interface BufferClock {
  now(): number;
}

/** A state change waiting for the next frame: `payload` is summarised only when the frame is built. */
export interface PendingState<S> {
  kind: 'state';
  actor: string;
  machine: string;
  payload: S;
}

export type BufferedEntry<S> = ActorInspectEvent | EventInspectEvent | PendingState<S>;

export interface BufferedFrame<S> {
  /** Events left out since the last frame (sampled away or over the buffer). */
  dropped: number;
  entries: Array<BufferedEntry<S>>;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class InspectBuffer<S> {
  private readonly clock: BufferClock;
  private readonly limits: InspectLimits;
  private lastWatch = -Infinity;
  private queue: Array<ActorInspectEvent | EventInspectEvent> = [];
  private readonly pending = new Map<string, PendingState<S>>();
  private readonly samples = new Map<string, { actor: string; type: string; count: number }>();
  private readonly buckets = new Map<string, Bucket>();
  private readonly node: Bucket;
  private readonly recents = new Map<string, RecentEvent[]>();
  private dropped = 0;

  constructor(clock: BufferClock, limits: Partial<InspectLimits> = {}) {
    this.clock = clock;
    this.limits = { ...DEFAULT_LIMITS, ...limits };
    this.node = { tokens: this.limits.nodeEventsPerSecond, at: clock.now() };
  }

  /** An inspector asked for live events. */
  watch(): void {
    this.lastWatch = this.clock.now();
  }

  /** Whether an inspector watched within the TTL; when it turns false, whatever was held goes. */
  get watched(): boolean {
    const live = this.clock.now() - this.lastWatch < this.limits.watchTtlMs;
    if (!live && (this.queue.length > 0 || this.pending.size > 0 || this.recents.size > 0)) this.clear();
    return live;
  }

  actor(event: ActorInspectEvent): void {
    if (!this.watched) return;
    if (event.status === 'stopped') {
      // Gone: its last state would only bring it back in the inspector.
      this.pending.delete(event.actor);
      this.buckets.delete(event.actor);
      this.recents.delete(event.actor);
      for (const [key, sample] of this.samples) if (sample.actor === event.actor) this.samples.delete(key);
    }
    this.enqueue(event);
  }

  event(actor: string, type: string): void {
    if (!this.watched) return;
    const now = this.clock.now();
    this.remember(actor, type, now);
    const bucket = this.bucketOf(actor, now);
    refill(this.node, now, this.limits.nodeEventsPerSecond);
    if (bucket.tokens >= 1 && this.node.tokens >= 1 && this.queue.length < this.limits.maxBuffered) {
      bucket.tokens--;
      this.node.tokens--;
      const key = sampleKey(actor, type);
      const carried = this.samples.get(key);
      if (carried) this.samples.delete(key);
      this.queue.push({ kind: 'event', actor, type, sampled: 1 + (carried?.count ?? 0) });
      return;
    }
    this.dropped++;
    const key = sampleKey(actor, type);
    const sample = this.samples.get(key);
    if (sample) sample.count++;
    else if (this.samples.size < this.limits.maxSampleKeys) this.samples.set(key, { actor, type, count: 1 });
  }

  state(actor: string, machine: string, payload: S): void {
    if (!this.watched) return;
    this.pending.set(actor, { kind: 'state', actor, machine, payload });
  }

  /** Whether enough is held that a frame should go now rather than at the next tick. */
  get due(): boolean {
    return this.queue.length >= this.limits.maxFrameEvents;
  }

  /**
   * The next frame's entries: up to maxFrameEvents queued events, the counts of sampled events not
   * carried by one that went through, then every pending state. Undefined when there is nothing.
   */
  take(): BufferedFrame<S> | undefined {
    if (!this.watched) return undefined;
    const room = this.limits.maxFrameEvents;
    const events = this.queue.length <= room ? this.queue : this.queue.slice(0, room);
    this.queue = this.queue.length <= room ? [] : this.queue.slice(room);
    const entries: Array<BufferedEntry<S>> = events;
    if (this.queue.length === 0) {
      for (const { actor, type, count } of this.samples.values()) entries.push({ kind: 'event', actor, type, sampled: count });
      this.samples.clear();
    }
    for (const state of this.pending.values()) entries.push(state);
    this.pending.clear();
    const dropped = this.dropped;
    this.dropped = 0;
    if (entries.length === 0 && dropped === 0) return undefined;
    return { dropped, entries };
  }

  /** The last RECENT_EVENTS events an actor received while watched, oldest first. */
  recent(actor: string): RecentEvent[] {
    return [...(this.recents.get(actor) ?? [])];
  }

  /** Entries held now (for tests and the bound). */
  get size(): { queued: number; pending: number; samples: number; actors: number } {
    return { queued: this.queue.length, pending: this.pending.size, samples: this.samples.size, actors: Math.max(this.buckets.size, this.recents.size) };
  }

  private enqueue(event: ActorInspectEvent): void {
    if (this.queue.length < this.limits.maxBuffered) this.queue.push(event);
    else this.dropped++;
  }

  private bucketOf(actor: string, now: number): Bucket {
    let bucket = this.buckets.get(actor);
    if (!bucket) {
      if (this.buckets.size >= this.limits.maxActors) this.buckets.delete(this.buckets.keys().next().value as string);
      bucket = { tokens: this.limits.actorEventsPerSecond, at: now };
      this.buckets.set(actor, bucket);
    }
    refill(bucket, now, this.limits.actorEventsPerSecond);
    return bucket;
  }

  private remember(actor: string, type: string, at: number): void {
    let ring = this.recents.get(actor);
    if (!ring) {
      if (this.recents.size >= this.limits.maxActors) this.recents.delete(this.recents.keys().next().value as string);
      ring = [];
      this.recents.set(actor, ring);
    }
    if (ring.length >= RECENT_EVENTS) ring.shift();
    ring.push({ type, at });
  }

  private clear(): void {
    this.queue = [];
    this.pending.clear();
    this.samples.clear();
    this.buckets.clear();
    this.recents.clear();
    this.dropped = 0;
  }
}

function refill(bucket: Bucket, now: number, perSecond: number): void {
  const elapsed = now - bucket.at;
  if (elapsed <= 0) return;
  bucket.tokens = Math.min(perSecond, bucket.tokens + (elapsed * perSecond) / 1000);
  bucket.at = now;
}

const sampleKey = (actor: string, type: string) => `${actor}\u0000${type}`;
