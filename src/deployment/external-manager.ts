/**
 * The external cluster manager's composition root: the machine of actors/external/ with its
 * effects — the lease and the routes written by compare-and-swap in the deployment's metadata, and
 * the queues created, checked and deleted on each cluster through that cluster's own API (a
 * WharfClient on the cluster's subjects) — fed with the deployment metadata's cache and, while
 * active, answering on the deployment's `external.<action>` subjects (subjects.ts).
 *
 * Every instance runs the machine (active or standby); only the active one answers requests.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { createActor, fromPromise, waitFor, type Actor, type InspectionEvent } from 'xstate';
import { externalView, externalMachine } from '../../actors/external/external.machine.ts';
import {
  DEFAULT_EXTERNAL_OPTIONS,
  type DeploymentSnapshot,
  type ExternalAnswer,
  type ExternalDecision,
  type ExternalOptions,
  type ExternalOutcome,
  type ExternalRequest,
  type ExternalWriteInput,
  type ExternalWriteOutput,
} from '../../actors/external/external.events.ts';
import type { LeaseWriteInput, LeaseWriteOutput } from '../../actors/manager/manager.events.ts';
import { WharfClient } from '../client/client.ts';
import { ErrorCode, isWharfError, toWharfError, WharfError } from '../errors.ts';
import type { DeploymentMetadata } from '../meta/deployment-metadata.ts';
import { clusterName, queueName } from '../names.ts';
import { creationAttributes } from '../protocol/attributes.ts';
import type { QueueTags } from '../protocol/messages.ts';
import { deploymentSubjects, type ExternalAction } from '../protocol/subjects.ts';
import { checkTags } from '../protocol/tags.ts';

export interface StartExternalManagerOptions {
  nc: NatsConnection;
  metadata: DeploymentMetadata;
  /** This instance's id: the lease's holder while it is active. */
  instanceId: string;
  log: Logger;
  options?: Partial<ExternalOptions>;
  /** Monotonic clock, ms. @default performance.now */
  now?: () => number;
  /** Wall clock, ms. @default Date.now */
  wall?: () => number;
  inspect?: (event: InspectionEvent) => void;
}

export interface ExternalManagerHandle {
  readonly actor: Actor<typeof externalMachine>;
  isActive(): boolean;
  stop(): Promise<void>;
}

type Reply = { ok: true; [field: string]: unknown } | { ok: false; error: { code: string; message: string } };

export async function startExternalManager(start: StartExternalManagerOptions): Promise<ExternalManagerHandle> {
  const { nc, metadata, log } = start;
  const options: ExternalOptions = { ...DEFAULT_EXTERNAL_OPTIONS, ...start.options };
  const subs = deploymentSubjects(clusterName(metadata.deployment));
  const now = start.now ?? (() => performance.now());
  const wall = start.wall ?? (() => Date.now());
  const clients = new Map<string, WharfClient>();
  const clientOf = async (cluster: string) => {
    let client = clients.get(cluster);
    if (client === undefined) {
      client = await WharfClient.connect({ connection: nc, cluster, timeoutMs: 10_000, maxAttempts: 2 });
      clients.set(cluster, client);
    }
    return client;
  };

  const snapshot = (): DeploymentSnapshot => ({
    clusters: new Map(metadata.clusters().map((c) => [c.value.name, c])),
    routes: new Map(metadata.routes().map((r) => [r.value.queue, r])),
    lease: metadata.lease(),
  });

  const routeWrite = async (revision: number | undefined): Promise<ExternalOutcome> =>
    revision === undefined ? { kind: 'conflict' } : { kind: 'written', revision };

  const apply = async (d: ExternalDecision): Promise<ExternalOutcome> => {
    try {
      switch (d.kind) {
        case 'place': {
          // The part exists before any client can be routed to it.
          const client = await clientOf(d.cluster);
          await client.createQueue(d.route.queue, d.route.attributes, d.route.tags);
          return await routeWrite(await metadata.casRoute(d.route, d.revision));
        }
        case 'update':
          return await routeWrite(await metadata.casRoute(d.route, d.revision));
        case 'retire': {
          const client = await clientOf(d.cluster);
          if (!(await isEmpty(client, d.queue))) return { kind: 'busy' };
          const outcome = await routeWrite(await metadata.casRoute(d.route, d.revision));
          // Clients that had not seen the new route yet may still send there: those sends fail with
          // queue_not_found once it is gone, and the SDK looks at the route again.
          if (outcome.kind === 'written') await deleteQueue(client, d.queue);
          return outcome;
        }
        case 'delete': {
          if (!(await metadata.deleteRoute(d.queue, d.revision))) return { kind: 'conflict' };
          for (const cluster of d.clusters) await deleteQueue(await clientOf(cluster), d.queue);
          return { kind: 'deleted' };
        }
      }
    } catch (err) {
      return { kind: 'failed', error: err instanceof Error ? err.message : String(err) };
    }
  };

  const machine = externalMachine.provide({
    actors: {
      casLease: fromPromise<LeaseWriteOutput, LeaseWriteInput>(async ({ input }) => {
        const revision = await metadata.casLease(input.lease, input.revision);
        if (revision === undefined) log.info({ term: input.lease.term, revision: input.revision }, 'lost the compare-and-swap on the external manager lease');
        return revision;
      }),
      writeDecisions: fromPromise<ExternalWriteOutput, ExternalWriteInput>(async ({ input }) => {
        const outcomes = await Promise.all(input.decisions.map(apply));
        input.decisions.forEach((d, i) => {
          const outcome = outcomes[i] as ExternalOutcome;
          const fields = { decision: d.kind, queue: 'queue' in d ? d.queue : d.route.queue, term: input.term, outcome: outcome.kind };
          if (outcome.kind === 'failed') log.warn({ ...fields, error: outcome.error }, `write failed: ${d.reason}`);
          else if (outcome.kind === 'busy') log.debug(fields, `not empty yet: ${d.reason}`);
          else log.info(fields, d.reason);
        });
        return { outcomes, snapshot: snapshot() };
      }),
    },
  });
  const actor = createActor(machine, {
    systemId: `external:${start.instanceId}`,
    input: { nodeId: start.instanceId, options, now, wall },
    ...(start.inspect ? { inspect: start.inspect } : {}),
  });

  const waiting = new Map<string, (answer: ExternalAnswer) => void>();
  actor.on('answer', (a) => {
    waiting.get(a.id)?.(a);
    waiting.delete(a.id);
  });
  const ask = (request: ExternalRequest) =>
    new Promise<Reply>((resolve) => {
      const id = randomUUID();
      waiting.set(id, (a) => resolve(a.ok ? { ok: true, route: a.route } : { ok: false, error: { code: a.code, message: a.message } }));
      actor.send({ type: 'request', id, request });
    });

  let served: Subscription[] = [];
  const serve = () => {
    if (served.length > 0 || nc.isClosed()) return;
    const handle = (action: ExternalAction, fn: (body: Record<string, unknown>) => Promise<Reply> | Reply) =>
      nc.subscribe(subs.external(action), {
        callback: (err, msg) => {
          if (!err) void answer(msg, fn).catch((e: unknown) => log.warn({ err: e, action }, 'external manager request failed'));
        },
      });
    served = [
      handle('status', () => ({ ok: true, ...statusOf() })),
      handle('create', (b) =>
        ask({
          kind: 'create',
          queue: queueName(b['queue']),
          attributes: creationAttributes(b['attributes'] as Record<string, unknown> | undefined),
          ...(b['tags'] === undefined ? {} : { tags: checkTags(b['tags'] as QueueTags) }),
        }),
      ),
      handle('split', (b) => ask({ kind: 'split', queue: queueName(b['queue']), parts: partsOf(b['parts']) })),
      handle('merge', (b) => ask({ kind: 'merge', queue: queueName(b['queue']), ...(typeof b['into'] === 'string' ? { into: b['into'] } : {}) })),
      handle('delete', (b) => ask({ kind: 'delete', queue: queueName(b['queue']) })),
    ];
  };
  const unserve = () => {
    for (const s of served) s.unsubscribe();
    served = [];
  };

  const isActive = () => actor.getSnapshot().matches('active');
  const statusOf = () => {
    const context = actor.getSnapshot().context;
    const view = externalView(context);
    return {
      manager: start.instanceId,
      active: isActive(),
      holder: context.observedLease?.value.holder ?? null,
      term: context.held?.term ?? context.observedLease?.value.term ?? 0,
      clusters: [...view.clusters.values()].map((c) => ({ ...c.record, status: c.status, activeParts: c.activeParts, badForMs: c.badSince === undefined ? 0 : Math.round(view.now - c.badSince) })),
      routes: [...view.routes.values()].map((r) => r.value),
    };
  };

  actor.on('leadership', (e) => {
    if (e.active) {
      log.info({ term: e.term }, 'external cluster manager active');
      serve();
    } else {
      unserve();
      log.warn({ term: e.term, reason: e.reason }, 'external cluster manager standing by');
    }
  });
  actor.subscribe({ error: (err) => log.error({ err }, 'external cluster manager machine failed') });
  actor.start();

  let pending = false;
  const changed = () => {
    if (pending) return;
    pending = true;
    setImmediate(() => {
      pending = false;
      if (actor.getSnapshot().status === 'active') actor.send({ type: 'metadata', snapshot: snapshot() });
    });
  };
  const listeners = [metadata.onCluster(changed), metadata.onRoute(changed), metadata.onLease(changed)];
  actor.send({ type: 'metadata', snapshot: snapshot() });
  log.info(options, 'external cluster manager started');

  let stopping: Promise<void> | undefined;
  return {
    actor,
    isActive,
    stop: () =>
      (stopping ??= (async () => {
        for (const off of listeners) off();
        unserve();
        actor.send({ type: 'stop' });
        await waitFor(actor, (s) => s.status !== 'active', { timeout: 5000 }).catch(() => undefined);
        for (const c of clients.values()) await c.close();
      })()),
  };
}

/** Whether a part holds nothing a consumer could still receive: no ready, in-flight or delayed message. */
async function isEmpty(client: WharfClient, queue: string): Promise<boolean> {
  try {
    const { counts } = await client.getQueueAttributes(queue);
    return counts.approximateNumberOfMessages === 0 && counts.approximateNumberOfMessagesNotVisible === 0 && counts.approximateNumberOfMessagesDelayed === 0;
  } catch (err) {
    if (isWharfError(err, ErrorCode.QueueNotFound)) return true;
    throw err;
  }
}

async function deleteQueue(client: WharfClient, queue: string): Promise<void> {
  try {
    await client.deleteQueue(queue);
  } catch (err) {
    if (!isWharfError(err, ErrorCode.QueueNotFound)) throw err;
  }
}

function partsOf(value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 64) {
    throw new WharfError(ErrorCode.InvalidParameter, 'parts must be an integer from 1 to 64');
  }
  return value;
}

async function answer(msg: Msg, fn: (body: Record<string, unknown>) => Promise<Reply> | Reply): Promise<void> {
  let reply: Reply;
  try {
    const text = new TextDecoder().decode(msg.data);
    const body: unknown = text === '' ? {} : JSON.parse(text);
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new WharfError(ErrorCode.InvalidParameter, 'expected a JSON object');
    reply = await fn(body as Record<string, unknown>);
  } catch (err) {
    const e = err instanceof SyntaxError ? new WharfError(ErrorCode.InvalidParameter, 'the body is not JSON') : toWharfError(err);
    reply = { ok: false, error: { code: e.code, message: e.message } };
  }
  msg.respond(JSON.stringify(reply));
}
