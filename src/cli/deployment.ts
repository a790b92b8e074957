/**
 * `wharf deployment status [name]`: a deployment of several clusters (docs/clusters.md) — every
 * cluster with its model, its own health report and load, the health the active external manager
 * acts on, and every queue's route (its parts, which cluster each is on, active or draining; split
 * queues have several). Without a deployment, the cluster of `--cluster` alone with its model and
 * its health judged from its nodes' heartbeats (src/deployment/deployment-view.ts).
 * `wharf deployment split|merge <name> <queue>` ask the active external manager to change a route.
 */
import { Option, type Command } from 'commander';
import type { NatsConnection } from '@nats-io/transport-node';
import { askExternal, deploymentView, externalStatus, routeState, soloView, type DeploymentView } from '../deployment/deployment-view.ts';
import { DeploymentMetadata } from '../meta/deployment-metadata.ts';
import type { QueueRoute } from '../meta/deployment-records.ts';
import { clusterName } from '../names.ts';
import { subjects } from '../protocol/subjects.ts';
import { outputOf, withConnection } from './connection.ts';
import { ExitCode, ExitWith } from './output.ts';
import { clusterArg, integerIn } from './parse.ts';

/** Heartbeats are collected this long (a few heartbeat periods) before a lone cluster's health is judged. */
const LISTEN_MS = 1500;

async function collect(nc: NatsConnection, deployment: string, timeoutMs: number): Promise<DeploymentView> {
  const metadata = await DeploymentMetadata.open(nc, deployment);
  try {
    return deploymentView(metadata, await externalStatus(nc, deployment, Math.min(timeoutMs, 2000)), Date.now());
  } finally {
    await metadata.close();
  }
}

/** A cluster outside any deployment, from its metadata and its nodes' heartbeats, as the inspector's map sees it. */
async function collectSolo(nc: NatsConnection, cluster: string, failureTimeoutMs: number): Promise<DeploymentView> {
  const [{ Metadata }, { ClusterMap }, { observedRecord }] = await Promise.all([
    import('../meta/metadata.ts'),
    import('../inspect/server/cluster-map.ts'),
    import('../inspect/server/clusters.ts'),
  ]);
  const name = clusterName(cluster);
  const metadata = await Metadata.open(nc, name);
  const map = new ClusterMap({ nc, subjects: subjects(name), metadata, cluster: name, failureTimeoutMs });
  try {
    await new Promise((resolve) => setTimeout(resolve, LISTEN_MS));
    return soloView(observedRecord(map.view(), 'cli', Date.now()));
  } finally {
    map.close();
    await metadata.close();
  }
}

const partsOf = (r: Pick<QueueRoute, 'parts'>) => r.parts.map((p) => (p.state === 'active' ? p.cluster : `${p.cluster} (draining)`)).join(', ');

function print(out: ReturnType<typeof outputOf>, view: DeploymentView): void {
  out.document(view);
  const { external } = view;
  out.line(
    view.deployment === null
      ? `cluster ${view.clusters[0]?.name ?? '?'}: no deployment (run with a deployment name or WHARF_DEPLOYMENT to see one)`
      : `deployment ${view.deployment}, external manager: ${external === null ? 'none' : `${external.holder} (term ${external.term})${external.answered ? '' : ', not answering'}`}`,
  );
  out.line('');
  out.table(
    ['cluster', 'model', 'health', 'manager view', 'nodes alive', 'queues', 'active parts', 'partitions', 'no primary', 'under-replicated', 'age s', 'reason'],
    view.clusters.map((c) => [
      c.name,
      c.model,
      c.health,
      c.managerStatus === null ? '-' : c.badForMs > 0 ? `${c.managerStatus} ${Math.round(c.badForMs / 1000)}s` : c.managerStatus,
      `${c.alive}/${c.nodes}`,
      String(c.queues),
      String(c.activeParts),
      String(c.partitions),
      String(c.leaderless),
      String(c.underReplicated),
      String(c.reportAgeSeconds),
      c.reason,
    ]),
  );
  if (view.deployment === null) return;
  out.line('');
  if (view.routes.length === 0) {
    out.line('no queues');
    return;
  }
  out.table(
    ['queue', 'state', 'parts'],
    view.routes.map((r) => [r.queue, r.state, partsOf(r)]),
  );
}

export function registerDeploymentCommand(program: Command): void {
  const deployment = program
    .command('deployment')
    .description('a deployment of several clusters: their health, queue routes, split and merge');
  deployment
    .command('status')
    .description('the clusters of a deployment, their model and health, and which cluster(s) hold each queue')
    .argument('[name]', 'the deployment (WHARF_DEPLOYMENT of its nodes; default: that variable); without one, the cluster of --cluster alone')
    .addOption(new Option('--deployment <name>').env('WHARF_DEPLOYMENT').argParser(clusterArg).hideHelp())
    .addOption(
      new Option('--failure-timeout <ms>', "without a deployment: the cluster's WHARF_FAILURE_TIMEOUT_MS, silence after which a node counts dead")
        .env('WHARF_FAILURE_TIMEOUT_MS')
        .default(3000)
        .argParser(integerIn(100, 3_600_000)),
    )
    .addHelpText(
      'after',
      `
Reads the deployment's metadata: each cluster as it last reported itself (health is healthy,
degraded or failing; age is seconds since that report), the health the active external manager
acts on (manager view: also unreachable, with how long it has been bad), the external manager's
lease, and every queue's parts. A queue's state is single (one part), split (sends spread over
several active parts, receives drain every part) or draining (a part takes no sends and is
deleted once empty: after a merge or a move away from a failing cluster).
Without a deployment, the cluster of --cluster alone, its health judged from its nodes'
heartbeats over ${LISTEN_MS / 1000} s.`,
    )
    .action(async (name: string | undefined, flags: { deployment?: string; failureTimeout: number }, command: Command) => {
      const deployment = name === undefined ? flags.deployment : clusterArg(name);
      const view = await withConnection(command, (nc, globals) =>
        deployment === undefined ? collectSolo(nc, globals.cluster, flags.failureTimeout) : collect(nc, deployment, globals.timeout),
      );
      print(outputOf(command), view);
    });

  const change = (action: 'split' | 'merge', body: (queue: string, flags: Record<string, string | undefined>) => unknown) =>
    async (name: string, queue: string, flags: Record<string, string | undefined>, command: Command) => {
      const out = outputOf(command);
      const reply = await withConnection(command, (nc, globals) => askExternal(nc, name, action, body(queue, flags), globals.timeout));
      out.document(reply);
      if (!reply.ok) {
        process.stderr.write(`error ${reply.error.code}: ${reply.error.message}\n`);
        throw new ExitWith(ExitCode.ServerError);
      }
      const route = reply['route'] as QueueRoute | null | undefined;
      if (route) out.line(`${queue}: ${partsOf(route)} (${routeState(route)})`);
    };

  deployment
    .command('split')
    .description("spread a queue over several clusters of a deployment (asks its external manager)")
    .argument('<deployment>', 'the deployment')
    .argument('<queue>', 'the queue')
    .requiredOption('--parts <n>', 'clusters to spread it over')
    .action(change('split', (queue, flags) => ({ queue, parts: Number(flags['parts']) })));

  deployment
    .command('merge')
    .description('keep one part of a split queue; the others take no sends, drain, and are deleted once empty')
    .argument('<deployment>', 'the deployment')
    .argument('<queue>', 'the queue')
    .option('--into <cluster>', 'the cluster whose part stays (default: the external manager chooses)')
    .action(change('merge', (queue, flags) => ({ queue, ...(flags['into'] === undefined ? {} : { into: flags['into'] }) })));
}
