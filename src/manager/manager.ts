/**
 * The cluster manager's composition root: the machine of actors/manager/ with its effects — the
 * lease and every decision written by compare-and-swap through the metadata service — fed with the
 * metadata cache and the nodes' heartbeats, and, while active, answering operators and stopping
 * nodes on its manager subjects (subjects.ts: status, drain, undrain, remove, handover; JSON request/reply).
 *
 * Every node runs one (active or standby). Standbys listen to heartbeats too, so a manager that
 * takes over knows the nodes' reports from its first decision round.
 */
import { performance } from 'node:perf_hooks';
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { createActor, fromPromise, waitFor, type Actor, type InspectionEvent } from 'xstate';
import {
  DEFAULT_MANAGER_OPTIONS,
  type LeaseWriteInput,
  type LeaseWriteOutput,
  type ManagerOptions,
  type MetadataSnapshot,
  type WriteInput,
  type WriteOutcome,
  type WriteOutput,
} from '../../actors/manager/manager.events.ts';
import { drainBlockedMessage, drainBlockers } from '../../actors/manager/drain.ts';
import { releasedLease } from '../../actors/lease/lease.ts';
import { handoverPlan } from '../../actors/manager/handover.ts';
import { managerMachine, viewOf } from '../../actors/manager/manager.machine.ts';
import { keyOf, type Versioned, type Write } from '../../actors/manager/view.ts';
import { layoutGeneration } from '../meta/layout.ts';
import { ErrorCode } from '../errors.ts';
import { clusterName } from '../names.ts';
import type { Assignment, ManagerLease, NodeRecord, NodeState, QueueMeta } from '../meta/records.ts';
import { subjects, type ManagerAction } from '../protocol/subjects.ts';
import { parseHeartbeat } from './heartbeat.ts';
import { managerStatus, type ManagerStatus } from './status.ts';

/** What the manager needs of the metadata service (src/meta/metadata.ts implements it). */
export interface ManagerMetadata {
  queues(): ReadonlyArray<Versioned<QueueMeta>>;
  assignments(): ReadonlyArray<Versioned<Assignment>>;
  nodes(): ReadonlyArray<Versioned<NodeRecord>>;
  node(id: string): Versioned<NodeRecord> | undefined;
  lease(): Versioned<ManagerLease> | undefined;
  onQueue(listener: (name: string, entry: Versioned<QueueMeta> | undefined) => void): () => void;
  onAssignment(listener: (key: string, entry: Versioned<Assignment> | undefined) => void): () => void;
  onNode(listener: (id: string, entry: Versioned<NodeRecord> | undefined) => void): () => void;
  onLease(listener: (entry: Versioned<ManagerLease> | undefined) => void): () => void;
  /** The new revision, or undefined when the key is no longer at `revision` (0: must not exist). */
  casAssignment(assignment: Assignment, revision: number): Promise<number | undefined>;
  /** False when the key is no longer at `revision`. */
  deleteAssignment(queue: string, partition: number, revision?: number): Promise<boolean>;
  casLease(lease: ManagerLease, revision: number): Promise<number | undefined>;
  queue(name: string): Versioned<QueueMeta> | undefined;
  /** The new revision, or undefined when the record is no longer at `revision`. */
  updateQueue(meta: QueueMeta, revision: number): Promise<number | undefined>;
  putNode(record: NodeRecord): Promise<number>;
}

export interface StartManagerOptions {
  nc: NatsConnection;
  /** Must be loaded (Metadata.open resolves once it is): the manager trusts its first snapshot. */
  metadata: ManagerMetadata;
  cluster: string;
  /** This node: the lease's holder while this manager is active. */
  nodeId: string;
  log: Logger;
  /**
   * Timings and limits; see ManagerOptions for each. `heartbeatMs`, the nodes' heartbeat period, is
   * only checked against failureTimeoutMs (a timeout under two periods declares live nodes dead).
   */
  options?: Partial<ManagerOptions> & { heartbeatMs?: number };
  /** Monotonic clock, ms. @default performance.now */
  now?: () => number;
  /** Wall clock, ms (informational fields only). @default Date.now */
  wall?: () => number;
  /** XState's inspection callback (the node's inspector, src/inspect). */
  inspect?: (event: InspectionEvent) => void;
}

export interface ManagerHandle {
  readonly actor: Actor<typeof managerMachine>;
  /** Whether this manager holds the lease right now. */
  isActive(): boolean;
  /** What `manager.status` answers, from this manager's point of view. */
  status(): ManagerStatus;
  /** Stops deciding and answering. The lease is left to expire; the NATS connection stays open. */
  stop(): Promise<void>;
}

type Reply =
  | { ok: true; [field: string]: unknown }
  | { ok: false; error: { code: string; message: string; [detail: string]: unknown } };

export async function startManager(start: StartManagerOptions): Promise<ManagerHandle> {
  const { nc, metadata, log } = start;
  const { heartbeatMs, ...given } = start.options ?? {};
  const options: ManagerOptions = { ...DEFAULT_MANAGER_OPTIONS, ...withoutUndefined(given) };
  if (heartbeatMs !== undefined && options.failureTimeoutMs < 2 * heartbeatMs) {
    log.warn({ failureTimeoutMs: options.failureTimeoutMs, heartbeatMs }, 'failure timeout shorter than two heartbeats: live nodes will look dead');
  }
  const subs = subjects(clusterName(start.cluster));
  const now = start.now ?? (() => performance.now());
  const wall = start.wall ?? (() => Date.now());

  const snapshot = (): MetadataSnapshot => ({
    queues: new Map(metadata.queues().map((q) => [q.value.name, q.value])),
    assignments: new Map(metadata.assignments().map((a) => [keyOf(a.value), a])),
    nodes: new Map(metadata.nodes().map((n) => [n.value.id, n])),
    lease: metadata.lease(),
  });

  // Decision writes under way: a stopping manager gives its lease up only after the last one.
  const writing = new Set<Promise<unknown>>();
  const tracked = <T>(work: Promise<T>): Promise<T> => {
    writing.add(work);
    const forget = () => void writing.delete(work);
    work.then(forget, forget);
    return work;
  };
  const machine = managerMachine.provide({
    actors: {
      casLease: fromPromise<LeaseWriteOutput, LeaseWriteInput>(async ({ input }) => {
        const revision = await metadata.casLease(input.lease, input.revision).catch((err: unknown) => {
          log.debug({ err, term: input.lease.term, revision: input.revision }, 'manager lease write failed');
          throw err;
        });
        // Otherwise silent: a standby that keeps losing would look like one that never tried.
        if (revision === undefined) log.info({ term: input.lease.term, revision: input.revision, now: metadata.lease()?.revision }, 'lost the compare-and-swap on the manager lease');
        return revision;
      }),
      writeDecisions: fromPromise<WriteOutput, WriteInput>(({ input }) =>
        tracked(
          (async () => {
            const outcomes = await Promise.all(input.decisions.map((d) => write(metadata, d)));
            input.decisions.forEach((d, i) => logDecision(log, d, outcomes[i] as WriteOutcome, input.term));
            return { outcomes, snapshot: snapshot() };
          })(),
        ),
      ),
    },
  });
  const actor = createActor(machine, { systemId: `manager:${start.nodeId}`, input: { nodeId: start.nodeId, options, now, wall }, ...(start.inspect ? { inspect: start.inspect } : {}) });

  // ---- operators' requests, served by the active manager only ----
  let served: Subscription[] = [];
  const serve = () => {
    // A closed connection (the node is stopping) serves nothing; subscribing would throw.
    if (served.length > 0 || nc.isClosed()) return;
    const handle = (action: ManagerAction, fn: (body: unknown) => Promise<Reply> | Reply) =>
      nc.subscribe(subs.manager(action), {
        callback: (err, msg) => {
          if (err) return;
          void answer(msg, fn).catch((e: unknown) => log.warn({ err: e, action }, 'manager request failed'));
        },
      });
    served = [
      handle('status', () => ({ ok: true, ...managerStatus(actor.getSnapshot().context, isActive()) })),
      handle('drain', (body) => setNodeState(body, 'draining')),
      handle('undrain', (body) => cancelDrain(body)),
      handle('remove', (body) => setNodeState(body, 'removed')),
      handle('handover', (body) => handOver(body)),
    ];
  };
  const unserve = () => {
    for (const s of served) s.unsubscribe();
    served = [];
  };

  const nodeOf = (body: unknown): string | undefined => {
    const id = typeof body === 'object' && body !== null ? (body as { node?: unknown }).node : undefined;
    return typeof id === 'string' && id !== '' ? id : undefined;
  };

  const setNodeState = async (body: unknown, state: NodeState): Promise<Reply> => {
    const id = nodeOf(body);
    if (id === undefined) return failure('invalid_request', 'expected {"node": "<node id>"}');
    const record = metadata.node(id);
    if (record === undefined) return failure('not_found', `no node ${id} is registered`);
    if (!isActive()) return failure('not_leader', 'this manager is no longer active');
    if (record.value.state === 'removed') return failure('invalid_state', `node ${id} was removed already`);
    if (state === 'draining') {
      // A drain with partitions that have nowhere to go would never finish: refused up front
      // (or, when it was already under way, the answer says what holds it up).
      const blocked = drainBlockers(viewOf(actor.getSnapshot().context), id);
      if (blocked.length > 0) {
        log.warn({ node: id, blocked: blocked.length, state: record.value.state }, 'drain cannot finish');
        return { ok: false, error: { code: ErrorCode.DrainBlocked, message: drainBlockedMessage(id, blocked), node: id, state: record.value.state, blocked } };
      }
    }
    if (record.value.state === state) return { ok: true, node: id, state };
    await metadata.putNode({ ...record.value, state });
    log.info({ node: id, from: record.value.state, to: state }, state === 'draining' ? 'node drain requested' : 'node removal requested');
    return { ok: true, node: id, state };
  };

  /**
   * Stops a drain: the node is active again and keeps what it still holds. Copies already made
   * elsewhere stay as learners or replicas and rebalancing evens the placement out, so cancelling
   * never removes a copy that is needed. A node already removed cannot come back this way.
   */
  const cancelDrain = async (body: unknown): Promise<Reply> => {
    const id = nodeOf(body);
    if (id === undefined) return failure('invalid_request', 'expected {"node": "<node id>"}');
    const record = metadata.node(id);
    if (record === undefined) return failure('not_found', `no node ${id} is registered`);
    if (!isActive()) return failure('not_leader', 'this manager is no longer active');
    if (record.value.state === 'removed') return failure('invalid_state', `node ${id} was removed already: its drain finished`);
    if (record.value.state === 'active') return { ok: true, node: id, state: 'active' };
    await metadata.putNode({ ...record.value, state: 'active' });
    log.info({ node: id }, 'node drain cancelled');
    return { ok: true, node: id, state: 'active' };
  };

  const handOver = (body: unknown): Reply => {
    const id = nodeOf(body);
    if (id === undefined) return failure('invalid_request', 'expected {"node": "<node id>"}');
    if (!isActive()) return failure('not_leader', 'this manager is no longer active');
    actor.send({ type: 'handover', node: id });
    const plan = handoverPlan(viewOf(actor.getSnapshot().context), id);
    log.info({ node: id, moving: plan.moving.length, staying: plan.staying.length }, 'node stopping: handing its primaries over');
    return { ok: true, node: id, ...plan };
  };

  const isActive = () => actor.getSnapshot().matches('active');

  actor.on('leadership', (e) => {
    if (e.active) {
      log.info({ term: e.term }, 'cluster manager active');
      serve();
    } else {
      unserve();
      log.warn({ term: e.term, reason: e.reason }, 'cluster manager standing by');
    }
  });
  actor.subscribe({ error: (err) => log.error({ err }, 'cluster manager machine failed') });
  actor.start();

  // ---- inputs: metadata changes (coalesced into one snapshot per turn) and heartbeats ----
  let pending = false;
  const changed = () => {
    if (pending) return;
    pending = true;
    setImmediate(() => {
      pending = false;
      if (actor.getSnapshot().status === 'active') actor.send({ type: 'metadata', snapshot: snapshot() });
    });
  };
  const listeners = [metadata.onQueue(changed), metadata.onAssignment(changed), metadata.onNode(changed), metadata.onLease(changed)];
  const heartbeats = nc.subscribe(subs.allHeartbeats, {
    callback: (err, msg) => {
      if (err) return;
      const hb = parseHeartbeat(msg.data);
      if (hb === undefined) {
        log.debug({ subject: msg.subject }, 'ignoring a malformed heartbeat');
        return;
      }
      actor.send({ type: 'heartbeat', heartbeat: hb });
    },
  });
  // Heartbeats missed while disconnected must not make live nodes look dead after reconnecting.
  const statuses = nc.status();
  void (async () => {
    for await (const s of statuses) {
      if (s.type === 'reconnect' && actor.getSnapshot().status === 'active') actor.send({ type: 'reconnected' });
    }
  })().catch((err: unknown) => log.debug({ err }, 'NATS status listener ended'));
  actor.send({ type: 'metadata', snapshot: snapshot() });
  log.info({ node: start.nodeId, ...options }, 'cluster manager started');

  let stopping: Promise<void> | undefined;
  return {
    actor,
    isActive,
    status: () => managerStatus(actor.getSnapshot().context, isActive()),
    stop: () =>
      (stopping ??= (async () => {
        for (const off of listeners) off();
        heartbeats.unsubscribe();
        // The status iterator's `stop` is not in its public type.
        if ('stop' in statuses && typeof statuses.stop === 'function') (statuses.stop as () => void).call(statuses);
        unserve();
        const { held } = actor.getSnapshot().context;
        actor.send({ type: 'stop' });
        await waitFor(actor, (s) => s.status !== 'active', { timeout: 5000 }).catch(() => undefined);
        // Nothing acts for this manager any more: a standby may take the lease now rather than after
        // it runs out. A lost swap means another holder already has it.
        if (held !== undefined) {
          await Promise.allSettled([...writing]);
          const given = await metadata.casLease(releasedLease(held, start.nodeId, wall()), held.revision).catch(() => undefined);
          if (given !== undefined) log.info({ term: held.term }, 'manager lease given up');
        }
      })()),
  };
}

/** One decision as a compare-and-swap: a lost swap is a conflict (decided again), never retried blindly. */
export async function write(metadata: ManagerMetadata, d: Write): Promise<WriteOutcome> {
  try {
    switch (d.kind) {
      case 'layout': {
        // Over the generation it was decided from, and by CAS on the record: a SetQueueAttributes
        // meanwhile makes it a conflict, decided again from the new record.
        const current = metadata.queue(d.queue);
        if (current === undefined || current.value.incarnation !== d.incarnation || layoutGeneration(current.value) !== d.generation) return { kind: 'conflict' };
        const revision = await metadata.updateQueue({ ...current.value, layout: d.layout }, current.revision);
        return revision === undefined ? { kind: 'conflict' } : { kind: 'written', revision };
      }
      case 'create':
      case 'update': {
        const revision = await metadata.casAssignment(d.assignment, d.revision);
        return revision === undefined ? { kind: 'conflict' } : { kind: 'written', revision };
      }
      case 'delete': {
        const deleted = await metadata.deleteAssignment(d.assignment.queue, d.assignment.partition, d.revision);
        return deleted ? { kind: 'deleted' } : { kind: 'conflict' };
      }
      case 'node': {
        // Node records are plain puts (each node writes its own); the check narrows the window in
        // which an operator's or the node's own write could be overwritten.
        if (metadata.node(d.record.id)?.revision !== d.revision) return { kind: 'conflict' };
        return { kind: 'written', revision: await metadata.putNode(d.record) };
      }
    }
  } catch (err) {
    return { kind: 'failed', error: err instanceof Error ? err.message : String(err) };
  }
}

export function logDecision(log: Logger, d: Write, outcome: WriteOutcome, term: number): void {
  const fields =
    d.kind === 'layout'
      ? { decision: d.kind, queue: d.queue, generation: d.layout.generation, states: d.layout.states.join(','), term, outcome: outcome.kind }
      : d.kind === 'node'
      ? { decision: d.kind, node: d.record.id, state: d.record.state, revision: d.revision, term, outcome: outcome.kind }
      : {
          decision: d.kind,
          queue: d.assignment.queue,
          partition: d.assignment.partition,
          epoch: d.assignment.epoch,
          primary: d.assignment.primary,
          replicas: d.assignment.replicas,
          learners: d.assignment.learners,
          leaving: d.assignment.leaving,
          revision: d.revision,
          term,
          outcome: outcome.kind,
          ...(outcome.kind === 'written' ? { newRevision: outcome.revision } : {}),
        };
  if (outcome.kind === 'written' || outcome.kind === 'deleted') log.info(fields, d.reason);
  else if (outcome.kind === 'conflict') log.info(fields, `lost the compare-and-swap, deciding again: ${d.reason}`);
  else log.warn({ ...fields, error: outcome.error }, `write failed: ${d.reason}`);
}

async function answer(msg: Msg, fn: (body: unknown) => Promise<Reply> | Reply): Promise<void> {
  let body: unknown = {};
  if (msg.data.length > 0) {
    try {
      body = JSON.parse(new TextDecoder().decode(msg.data));
    } catch {
      msg.respond(JSON.stringify(failure('invalid_request', 'the body is not JSON')));
      return;
    }
  }
  let reply: Reply;
  try {
    reply = await fn(body);
  } catch (err) {
    reply = failure('unavailable', err instanceof Error ? err.message : String(err));
  }
  msg.respond(JSON.stringify(reply));
}

function failure(code: string, message: string): Reply {
  return { ok: false, error: { code, message } };
}

/** Options given as `undefined` keep their defaults. */
function withoutUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, value]) => value !== undefined)) as Partial<T>;
}
