/**
 * `wharf cluster`: the cluster as the metadata service and the nodes' heartbeats describe it —
 * its back-end model, nodes (alive or not, active or draining), and every partition with its epoch, primary,
 * replicas, learners, in-sync set, and each replica's role, log end and lag behind the primary;
 * and, from the active cluster manager when one answers, what holds up a drain.
 * `wharf cluster drain <node>`: asks the active cluster manager to drain a node.
 */
import type { Command } from 'commander';
import type { NatsConnection } from '@nats-io/transport-node';
import type { DrainBlocker } from '../../actors/manager/drain.ts';
import { ErrorCode, WharfError } from '../errors.ts';
import { modelOf, type ClusterModel, type Heartbeat, type ReplicaReport } from '../meta/records.ts';
import { clusterName } from '../names.ts';
import { subjects, type ManagerAction } from '../protocol/subjects.ts';
import { outputOf, withConnection } from './connection.ts';
import { ExitCode, ExitWith } from './output.ts';

/** Heartbeats are collected this long (a few heartbeat periods) before the view is printed. */
const LISTEN_MS = 1500;

interface ClusterView {
  /** The back-end model the nodes' records name (docs/models.md); `mixed` if they disagree. */
  model: ClusterModel | 'mixed' | 'unknown';
  nodes: Array<{ id: string; state: string; alive: boolean; model: ClusterModel }>;
  partitions: Array<{
    queue: string;
    partition: number;
    epoch: number;
    primary: string | null;
    replicas: string[];
    learners: string[];
    isr: string[];
    reports: Array<{ node: string; role: string; logEnd: number; commitIndex: number; lag: number }>;
  }>;
  /** Draining nodes and what keeps each drain from finishing, as the active manager sees it (empty when none answered). */
  drains: Array<{ node: string; blocked: DrainBlocker[] }>;
}

/** A manager's JSON answer (src/manager/manager.ts). */
type ManagerReply = { ok: true; [field: string]: unknown } | { ok: false; error: { code: string; message: string; blocked?: DrainBlocker[] } };

/** Asks the active cluster manager; `unavailable` when none is active to answer. */
async function askManager(nc: NatsConnection, cluster: string, action: ManagerAction, body: unknown, timeoutMs: number): Promise<ManagerReply> {
  try {
    const msg = await nc.request(subjects(clusterName(cluster)).manager(action), JSON.stringify(body), { timeout: timeoutMs });
    return JSON.parse(new TextDecoder().decode(msg.data)) as ManagerReply;
  } catch (err) {
    throw new WharfError(ErrorCode.Unavailable, `no active cluster manager answered ${action}: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  }
}

async function collect(nc: NatsConnection, cluster: string): Promise<ClusterView> {
  const subs = subjects(clusterName(cluster));
  const beats = new Map<string, Heartbeat>();
  const sub = nc.subscribe(subs.allHeartbeats, {
    callback: (err, msg) => {
      if (err) return;
      try {
        const hb = JSON.parse(new TextDecoder().decode(msg.data)) as Heartbeat;
        if (typeof hb.node === 'string' && Array.isArray(hb.replicas)) beats.set(hb.node, hb);
      } catch {
        // not a heartbeat: ignored
      }
    },
  });
  const { Metadata } = await import('../meta/metadata.ts');
  const metadata = await Metadata.open(nc, cluster);
  // Only the manager knows what holds a drain up; without one the rest is still worth printing.
  const status = askManager(nc, cluster, 'status', {}, LISTEN_MS).catch(() => undefined);
  let drains: ClusterView['drains'] = [];
  try {
    await new Promise((resolve) => setTimeout(resolve, LISTEN_MS));
    const reply = await status;
    if (reply?.ok === true && Array.isArray(reply['drains'])) drains = reply['drains'] as ClusterView['drains'];
  } finally {
    sub.unsubscribe();
    await metadata.close();
  }
  const report = (node: string, queue: string, partition: number): ReplicaReport | undefined =>
    beats.get(node)?.replicas.find((r) => r.queue === queue && r.partition === partition);
  const nodes = metadata.nodes().map(({ value }) => ({ id: value.id, state: value.state, alive: beats.has(value.id), model: modelOf(value) }));
  const models = new Set(nodes.filter((n) => n.state !== 'removed').map((n) => n.model));
  return {
    model: models.size === 0 ? 'unknown' : models.size > 1 ? 'mixed' : ([...models][0] as ClusterModel),
    nodes,
    partitions: metadata.assignments().map(({ value: a }) => {
      const primaryEnd = a.primary ? (report(a.primary, a.queue, a.partition)?.logEnd ?? 0) : 0;
      return {
        queue: a.queue,
        partition: a.partition,
        epoch: a.epoch,
        primary: a.primary,
        replicas: a.replicas,
        learners: a.learners,
        isr: a.isr,
        reports: [...a.replicas, ...a.learners].map((node) => {
          const r = report(node, a.queue, a.partition);
          return {
            node,
            role: r?.role ?? 'unknown',
            logEnd: r?.logEnd ?? 0,
            commitIndex: r?.commitIndex ?? 0,
            lag: r ? Math.max(0, primaryEnd - r.logEnd) : 0,
          };
        }),
      };
    }),
    drains,
  };
}

export function registerClusterCommand(program: Command): void {
  const cluster = program
    .command('cluster')
    .description('nodes, partitions, primaries, epochs, in-sync sets and replication lag')
    .addHelpText(
      'after',
      `
Listens to the nodes' heartbeats for ${LISTEN_MS / 1000} s, then prints the metadata with what each
replica reports: its role, log end (entries persisted) and lag (entries behind the primary).`,
    )
    .action(async (_flags: unknown, command: Command) => {
      const out = outputOf(command);
      const view = await withConnection(command, (nc, globals) => collect(nc, globals.cluster));
      out.document(view);
      out.line(`model: ${view.model}${view.model === 'hosts' ? ' (independent hosts: each shard written by its home host)' : view.model === 'primary' ? ' (primary–secondary)' : ''}`);
      out.table(
        ['node', 'alive', 'state', 'model'],
        view.nodes.map((n) => [n.id, n.alive ? 'yes' : 'no', n.state, n.model]),
      );
      for (const drain of view.drains) {
        if (drain.blocked.length === 0) continue;
        out.line(`drain of ${drain.node} cannot finish: ${drain.blocked.length} partition(s) cannot move`);
        for (const b of drain.blocked) out.line(`  ${b.reason}`);
      }
      out.line('');
      if (view.partitions.length === 0) {
        out.line('no partitions');
        return;
      }
      out.table(
        ['partition', 'epoch', 'primary', 'in-sync', 'replica', 'role', 'log end', 'lag'],
        view.partitions.flatMap((p) =>
          p.reports.map((r, i) => [
            i === 0 ? `${p.queue}/${p.partition}` : '',
            i === 0 ? String(p.epoch) : '',
            i === 0 ? (p.primary ?? '(electing)') : '',
            i === 0 ? p.isr.join(',') : '',
            p.learners.includes(r.node) ? `${r.node} (learner)` : r.node,
            r.role,
            String(r.logEnd),
            String(r.lag),
          ]),
        ),
      );
    });

  cluster
    .command('drain')
    .description("move a node's replicas and primaries to other nodes, then mark it removed")
    .argument('<node>', 'the node id')
    .option('--cancel', 'stop a drain under way: the node is active again and keeps what it still holds')
    .addHelpText(
      'after',
      `
Asks the active cluster manager. A drain that could never finish — some partition has no other
active node without a copy to move to — is refused with error drain_blocked, each such partition
listed with why; the node then stays as it was. A drain can be cancelled until it finishes (the
node is then marked removed); copies already made elsewhere stay and rebalancing evens them out.`,
    )
    .action(async (node: string, flags: { cancel?: boolean }, command: Command) => {
      const out = outputOf(command);
      const action = flags.cancel === true ? 'undrain' : 'drain';
      const reply = await withConnection(command, (nc, globals) => askManager(nc, globals.cluster, action, { node }, globals.timeout));
      out.document(reply);
      if (!reply.ok) {
        // The manager's codes include some the client API has not (not_found, invalid_state): printed as they come.
        process.stderr.write(`error ${reply.error.code}: ${reply.error.message}\n`);
        for (const b of reply.error.blocked ?? []) process.stderr.write(`  ${b.reason}\n`);
        throw new ExitWith(ExitCode.ServerError);
      }
      out.line(`${node}: ${String(reply['state'])}`);
    });
}
