/**
 * `wharf deployment status <name>`: a deployment of several clusters (docs/clusters.md) as its metadata
 * shows it — every cluster with its model, its own health report and load, and every queue's route
 * (its parts, which cluster each is on, active or draining; split queues have several).
 * `wharf deployment split|merge <name> <queue>` ask the active external manager to change a route.
 */
import type { Command } from 'commander';
import type { NatsConnection } from '@nats-io/transport-node';
import { ErrorCode, WharfError } from '../errors.ts';
import { DeploymentMetadata } from '../meta/deployment-metadata.ts';
import type { ClusterRecord, QueueRoute } from '../meta/deployment-records.ts';
import { clusterName } from '../names.ts';
import { deploymentSubjects, type ExternalAction } from '../protocol/subjects.ts';
import { outputOf, withConnection } from './connection.ts';
import { ExitCode, ExitWith } from './output.ts';

interface DeploymentView {
  deployment: string;
  manager: { holder: string; term: number } | null;
  clusters: Array<ClusterRecord & { reportAgeSeconds: number }>;
  routes: QueueRoute[];
}

async function collect(nc: NatsConnection, deployment: string): Promise<DeploymentView> {
  const metadata = await DeploymentMetadata.open(nc, deployment);
  try {
    const lease = metadata.lease()?.value;
    return {
      deployment,
      manager: lease === undefined ? null : { holder: lease.holder, term: lease.term },
      clusters: metadata.clusters().map(({ value }) => ({ ...value, reportAgeSeconds: Math.max(0, Math.round((Date.now() - value.reportedAt) / 1000)) })),
      routes: metadata.routes().map(({ value }) => value),
    };
  } finally {
    await metadata.close();
  }
}

type ExternalReply = { ok: true; route?: QueueRoute | null } | { ok: false; error: { code: string; message: string } };

async function askExternal(nc: NatsConnection, deployment: string, action: ExternalAction, body: unknown, timeoutMs: number): Promise<ExternalReply> {
  try {
    const msg = await nc.request(deploymentSubjects(clusterName(deployment)).external(action), JSON.stringify(body), { timeout: timeoutMs });
    return JSON.parse(new TextDecoder().decode(msg.data)) as ExternalReply;
  } catch (err) {
    throw new WharfError(ErrorCode.Unavailable, `no active external manager answered ${action}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

const partsOf = (r: QueueRoute) => r.parts.map((p) => (p.state === 'active' ? p.cluster : `${p.cluster} (draining)`)).join(', ');

export function registerDeploymentCommand(program: Command): void {
  const deployment = program
    .command('deployment')
    .description('a deployment of several clusters: their health, queue routes, split and merge');
  deployment
    .command('status')
    .description('the clusters of a deployment, their model and health, and which cluster(s) hold each queue')
    .argument('<name>', 'the deployment (WHARF_DEPLOYMENT of its nodes)')
    .addHelpText(
      'after',
      `
Reads the deployment's metadata: each cluster as its active manager last reported it (health is
healthy, degraded or failing; age is seconds since that report), the external manager's lease,
and every queue's parts. A queue with several parts is split: sends spread over its active parts,
receives drain every part.`,
    )
    .action(async (name: string, _flags: unknown, command: Command) => {
      const out = outputOf(command);
      const view = await withConnection(command, (nc) => collect(nc, name));
      out.document(view);
      out.line(`deployment ${view.deployment}, external manager: ${view.manager === null ? 'none' : `${view.manager.holder} (term ${view.manager.term})`}`);
      out.line('');
      out.table(
        ['cluster', 'model', 'health', 'nodes alive', 'queues', 'partitions', 'no primary', 'under-replicated', 'age s', 'reason'],
        view.clusters.map((c) => [c.name, c.model, c.health, `${c.alive}/${c.nodes}`, String(c.queues), String(c.partitions), String(c.leaderless), String(c.underReplicated), String(c.reportAgeSeconds), c.reason]),
      );
      out.line('');
      if (view.routes.length === 0) {
        out.line('no queues');
        return;
      }
      out.table(
        ['queue', 'split', 'parts'],
        view.routes.map((r) => [r.queue, r.parts.length > 1 ? 'yes' : 'no', partsOf(r)]),
      );
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
      if (reply.route) out.line(`${queue}: ${partsOf(reply.route)}`);
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
