/**
 * The composition root of a host's shard keeper (actors/hosts/keeper.machine.ts) in a cluster of
 * model `hosts`: fed with the metadata cache and every host's heartbeat, writing its decisions by
 * compare-and-swap through the metadata service. It replaces the cluster manager there: no lease,
 * no leader; each host decides about the shards whose decider it is.
 */
import { performance } from 'node:perf_hooks';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { createActor, fromPromise, waitFor, type Actor, type InspectionEvent } from 'xstate';
import type { WriteInput, WriteOutcome, WriteOutput } from '../../actors/manager/manager.events.ts';
import { keyOf, type ManagerView } from '../../actors/manager/view.ts';
import { DEFAULT_KEEPER_OPTIONS, keeperMachine, keeperView, type KeeperEvent, type KeeperOptions } from '../../actors/hosts/keeper.machine.ts';
import { logDecision, write, type ManagerMetadata } from '../manager/manager.ts';
import { parseHeartbeat } from '../manager/heartbeat.ts';
import { clusterName } from '../names.ts';
import { subjects } from '../protocol/subjects.ts';

export interface StartKeeperOptions {
  nc: NatsConnection;
  /** Loaded: the keeper trusts its first snapshot. */
  metadata: ManagerMetadata;
  cluster: string;
  nodeId: string;
  log: Logger;
  options?: Partial<KeeperOptions>;
  /** Monotonic clock, ms. @default performance.now */
  now?: () => number;
  /** Wall clock, ms (informational fields only). @default Date.now */
  wall?: () => number;
  inspect?: (event: InspectionEvent) => void;
}

export interface KeeperHandle {
  readonly actor: Actor<typeof keeperMachine>;
  /** What this host knows of its cluster now: hosts' liveness, shards' writers and reports. */
  view(): ManagerView;
  stop(): Promise<void>;
}

export function startKeeper(start: StartKeeperOptions): KeeperHandle {
  const { nc, metadata, log } = start;
  const options: KeeperOptions = { ...DEFAULT_KEEPER_OPTIONS, ...start.options };
  const subs = subjects(clusterName(start.cluster));
  const snapshot = () => ({
    queues: new Map(metadata.queues().map((q) => [q.value.name, q.value])),
    assignments: new Map(metadata.assignments().map((a) => [keyOf(a.value), a])),
    nodes: new Map(metadata.nodes().map((n) => [n.value.id, n])),
    lease: undefined,
  });
  const machine = keeperMachine.provide({
    actors: {
      writeDecisions: fromPromise<WriteOutput, WriteInput>(async ({ input }) => {
        const outcomes: WriteOutcome[] = await Promise.all(input.decisions.map((d) => write(metadata, d)));
        input.decisions.forEach((d, i) => logDecision(log, d, outcomes[i] as WriteOutcome, 0));
        return { outcomes, snapshot: snapshot() };
      }),
    },
  });
  const actor = createActor(machine, {
    systemId: `keeper:${start.nodeId}`,
    input: { nodeId: start.nodeId, options, now: start.now ?? (() => performance.now()), wall: start.wall ?? (() => Date.now()) },
    ...(start.inspect ? { inspect: start.inspect } : {}),
  });
  actor.subscribe({ error: (err) => log.error({ err }, 'shard keeper machine failed') });
  actor.start();
  const send = (event: KeeperEvent) => {
    if (actor.getSnapshot().status === 'active') actor.send(event);
  };

  let pending = false;
  const changed = () => {
    if (pending) return;
    pending = true;
    setImmediate(() => {
      pending = false;
      send({ type: 'metadata', snapshot: snapshot() });
    });
  };
  const listeners = [metadata.onQueue(changed), metadata.onAssignment(changed), metadata.onNode(changed)];
  const heartbeats = nc.subscribe(subs.allHeartbeats, {
    callback: (err, msg) => {
      if (err) return;
      const heartbeat = parseHeartbeat(msg.data);
      if (heartbeat !== undefined) send({ type: 'heartbeat', heartbeat });
    },
  });
  const statuses = nc.status();
  void (async () => {
    for await (const s of statuses) if (s.type === 'reconnect') send({ type: 'reconnected' });
  })().catch((err: unknown) => log.debug({ err }, 'NATS status listener ended'));
  send({ type: 'metadata', snapshot: snapshot() });
  log.info({ node: start.nodeId, failureTimeoutMs: options.failureTimeoutMs }, 'shard keeper started (cluster model hosts)');

  let stopping: Promise<void> | undefined;
  return {
    actor,
    view: () => keeperView(actor.getSnapshot().context),
    stop: () =>
      (stopping ??= (async () => {
        for (const off of listeners) off();
        heartbeats.unsubscribe();
        if ('stop' in statuses && typeof statuses.stop === 'function') (statuses.stop as () => void).call(statuses);
        send({ type: 'stop' });
        await waitFor(actor, (s) => s.status !== 'active', { timeout: 5000 }).catch(() => undefined);
      })()),
  };
}
