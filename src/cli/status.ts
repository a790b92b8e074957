/**
 * `wharf status`: a one-shot summary of the cluster — nodes (alive, suspected, dead), queues with
 * their counts, and partitions with primary, followers, learners, epoch, in-sync set and each
 * replica's lag. The nodes and partitions are the active cluster manager's view (its `status`
 * request: liveness as it judges it from the heartbeats); the counts come from the API.
 * `wharf top` (top.ts) shows the same, refreshed.
 */
import type { Command } from 'commander';
import type { NatsConnection } from '@nats-io/transport-node';
import type { WharfClient } from '../client/client.ts';
import { ErrorCode, isWharfError, WharfError } from '../errors.ts';
import type { ManagerStatus } from '../manager/status.ts';
import { clusterName } from '../names.ts';
import { subjects } from '../protocol/subjects.ts';
import { globalsOf, outputOf, withConnection } from './connection.ts';
import { formatTable } from './output.ts';
import { listAll } from './queue.ts';

export interface StatusView {
  /** The node whose cluster manager answered (the active one). */
  manager: string;
  nodes: Array<{ id: string; state: string; liveness: string; silentMs: number }>;
  queues: Array<{ name: string; messages: number; inFlight: number; delayed: number; partitions: number; oldestAge: number }>;
  partitions: Array<{
    queue: string;
    partition: number;
    epoch: number;
    primary: string | null;
    followers: string[];
    learners: string[];
    isr: string[];
    /** Entries each replica is behind the primary's log end; null while unknown. */
    lag: Record<string, number | null>;
    roles: Record<string, string>;
    /** Absent: active (auto-scaling drains and retires partitions). */
    state?: 'draining' | 'retired';
  }>;
}

/** The reply of the manager's status request. */
type StatusReply = ({ ok: true } & ManagerStatus) | { ok: false; error: { code: string; message: string } };

export async function managerStatus(nc: NatsConnection, cluster: string, timeoutMs: number): Promise<ManagerStatus> {
  let msg;
  try {
    msg = await nc.request(subjects(clusterName(cluster)).manager('status'), new Uint8Array(), { timeout: timeoutMs });
  } catch (err) {
    throw new WharfError(ErrorCode.Unavailable, `no cluster manager answered in cluster ${cluster}: ${(err as Error).message}`, { cause: err });
  }
  const reply = JSON.parse(new TextDecoder().decode(msg.data)) as StatusReply;
  if (!reply.ok) throw new WharfError(ErrorCode.Unavailable, `the cluster manager: ${reply.error.message}`);
  return reply;
}

export async function collectStatus(nc: NatsConnection, client: WharfClient, cluster: string, timeoutMs: number): Promise<StatusView> {
  const [status, queues] = await Promise.all([managerStatus(nc, cluster, timeoutMs), queueCounts(client)]);
  return {
    manager: status.manager,
    nodes: status.nodes.map((n) => ({ id: n.id, state: n.state, liveness: n.liveness, silentMs: n.silentMs })),
    queues,
    partitions: status.assignments.map((a) => ({
      queue: a.queue,
      partition: a.partition,
      epoch: a.epoch,
      primary: a.primary,
      followers: a.replicas.filter((r) => r !== a.primary),
      learners: a.learners,
      isr: a.isr,
      lag: Object.fromEntries(a.reports.map((r) => [r.node, r.lag])),
      roles: Object.fromEntries(a.reports.map((r) => [r.node, r.role])),
      ...(a.state === undefined || a.state === 'active' ? {} : { state: a.state }),
    })),
  };
}

async function queueCounts(client: WharfClient): Promise<StatusView['queues']> {
  const out: StatusView['queues'] = [];
  for (const name of await listAll(client)) {
    try {
      const d = await client.getQueueAttributes(name);
      out.push({
        name,
        messages: d.counts.approximateNumberOfMessages,
        inFlight: d.counts.approximateNumberOfMessagesNotVisible,
        delayed: d.counts.approximateNumberOfMessagesDelayed,
        partitions: d.attributes.partitions,
        oldestAge: d.counts.approximateAgeOfOldestMessage,
      });
    } catch (err) {
      if (!isWharfError(err, ErrorCode.QueueNotFound)) throw err; // deleted meanwhile
    }
  }
  return out;
}

/** The human text of a status view; `rates` adds per-second changes of the counts (for top). */
export function renderStatus(view: StatusView, rates?: Map<string, { messages: number; inFlight: number }>): string {
  const alive = view.nodes.filter((n) => n.liveness === 'alive').length;
  const lines: string[] = [
    `nodes: ${view.nodes.length} (${alive} alive, ${view.nodes.filter((n) => n.liveness === 'suspected').length} suspected, ${view.nodes.filter((n) => n.liveness === 'dead').length} dead)   manager: ${view.manager}`,
    '',
  ];
  lines.push(
    formatTable([
      ['NODE', 'LIVENESS', 'STATE', 'SILENT'],
      ...view.nodes.map((n) => [n.id, n.liveness, n.state, `${(n.silentMs / 1000).toFixed(1)}s`]),
    ]).trimEnd(),
    '',
  );
  if (view.queues.length === 0) lines.push('no queues');
  else {
    const rateOf = (q: string) => rates?.get(q);
    lines.push(
      formatTable([
        ['QUEUE', 'MESSAGES', 'IN-FLIGHT', 'DELAYED', 'OLDEST', 'PARTITIONS', ...(rates ? ['Δ MESSAGES/S', 'Δ IN-FLIGHT/S'] : [])],
        ...view.queues.map((q) => [
          q.name,
          String(q.messages),
          String(q.inFlight),
          String(q.delayed),
          `${q.oldestAge}s`,
          String(q.partitions),
          ...(rates ? [signed(rateOf(q.name)?.messages), signed(rateOf(q.name)?.inFlight)] : []),
        ]),
      ]).trimEnd(),
    );
  }
  lines.push('');
  if (view.partitions.length === 0) lines.push('no partitions');
  else {
    lines.push(
      formatTable([
        ['PARTITION', 'EPOCH', 'PRIMARY', 'FOLLOWERS', 'LEARNERS', 'IN-SYNC', 'LAG'],
        ...view.partitions.map((p) => [
          `${p.queue}/${p.partition}${p.state === undefined ? '' : ` (${p.state})`}`,
          String(p.epoch),
          p.primary ?? (p.state === 'retired' ? '-' : '(electing)'),
          p.followers.join(',') || '-',
          p.learners.join(',') || '-',
          p.isr.join(',') || '-',
          Object.entries(p.lag)
            .filter(([node]) => node !== p.primary)
            .map(([node, lag]) => `${node}:${lag ?? '?'}`)
            .join(' ') || '-',
        ]),
      ]).trimEnd(),
    );
  }
  return `${lines.join('\n')}\n`;
}

function signed(n: number | undefined): string {
  if (n === undefined) return '';
  const r = Math.round(n * 10) / 10;
  return r > 0 ? `+${r}` : String(r);
}

/** Runs `fn` with a NATS connection and a client on it, as the status views need both. */
export async function withStatusSources<T>(command: Command, fn: (collect: () => Promise<StatusView>) => Promise<T>): Promise<T> {
  return withConnection(command, async (nc, globals) => {
    const { WharfClient } = await import('../client/client.ts');
    const client = await WharfClient.connect({ connection: nc, cluster: globals.cluster, timeoutMs: globals.timeout });
    try {
      return await fn(() => collectStatus(nc, client, globals.cluster, globals.timeout));
    } finally {
      await client.close();
    }
  });
}

export function registerStatusCommand(program: Command): void {
  program
    .command('status')
    .description('one-shot cluster summary: nodes, queues with counts, partitions with replicas and lag')
    .addHelpText(
      'after',
      `
Nodes and partitions are the active cluster manager's view: liveness (alive, suspected, dead) from
the heartbeats it heard, each partition's epoch, primary, followers, learners, in-sync set and each
replica's lag (entries behind the primary's log end). Counts are those of \`wharf stats\`.
\`wharf top\` shows the same, refreshed every second.`,
    )
    .action(async (_flags: unknown, command: Command) => {
      const out = outputOf(command);
      const view = await withStatusSources(command, (collect) => collect());
      out.document(view);
      if (!globalsOf(command).json) process.stdout.write(renderStatus(view));
    });
}
