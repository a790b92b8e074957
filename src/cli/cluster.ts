/**
 * `wharf cluster`: the cluster as the metadata service and the nodes' heartbeats describe it —
 * nodes (alive or not, active or draining), and every partition with its epoch, primary,
 * replicas, learners, in-sync set, and each replica's role, log end and lag behind the primary.
 */
import type { Command } from 'commander';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Heartbeat, ReplicaReport } from '../meta/records.ts';
import { clusterName } from '../names.ts';
import { subjects } from '../protocol/subjects.ts';
import { outputOf, withConnection } from './connection.ts';

/** Heartbeats are collected this long (a few heartbeat periods) before the view is printed. */
const LISTEN_MS = 1500;

interface ClusterView {
  nodes: Array<{ id: string; state: string; alive: boolean }>;
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
  try {
    await new Promise((resolve) => setTimeout(resolve, LISTEN_MS));
  } finally {
    sub.unsubscribe();
    await metadata.close();
  }
  const report = (node: string, queue: string, partition: number): ReplicaReport | undefined =>
    beats.get(node)?.replicas.find((r) => r.queue === queue && r.partition === partition);
  return {
    nodes: metadata.nodes().map(({ value }) => ({ id: value.id, state: value.state, alive: beats.has(value.id) })),
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
  };
}

export function registerClusterCommand(program: Command): void {
  program
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
      out.table(
        ['node', 'alive', 'state'],
        view.nodes.map((n) => [n.id, n.alive ? 'yes' : 'no', n.state]),
      );
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
}
