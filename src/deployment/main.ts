/**
 * `npm run external-manager`: one instance of a deployment's external cluster manager (active or
 * standby; run two or more for availability), configured from the same WHARF_* variables as a node
 * (src/node/config.ts): WHARF_DEPLOYMENT names the deployment (required), WHARF_NODE_ID this
 * instance, WHARF_MANAGER_LEASE_MS its lease, WHARF_CLUSTER_TIMEOUT_MS and WHARF_MOVE_AFTER_MS the
 * failure rule; WHARF_NATS_* how to reach NATS. It keeps no data of its own: everything is in the
 * deployment's KV buckets.
 */
import { connect } from '@nats-io/transport-node';
import { configFromEnv } from '../node/config.ts';
import { createLogger } from '../node/log.ts';
import { DeploymentMetadata } from '../meta/deployment-metadata.ts';
import { natsAuthOptions } from '../security/nats-auth.ts';
import { drainAndClose } from '../nats/shutdown.ts';
import { startExternalManager } from './external-manager.ts';

try {
  const config = configFromEnv();
  if (config.deployment === undefined) throw new Error('WHARF_DEPLOYMENT must name the deployment');
  const log = createLogger(config.logLevel, { instance: config.nodeId, deployment: config.deployment });
  const nc = await connect({ servers: config.natsUrl.split(','), name: `wharf-external-${config.nodeId}`, maxReconnectAttempts: -1, ...natsAuthOptions(config.natsAuth) });
  const metadata = await DeploymentMetadata.open(nc, config.deployment, { log, ...(config.metaReplicas > 0 ? { replicas: config.metaReplicas } : {}) });
  const manager = await startExternalManager({
    nc,
    metadata,
    instanceId: config.nodeId,
    log,
    options: { leaseTimeoutMs: config.managerLeaseMs, clusterTimeoutMs: config.clusterTimeoutMs, moveAfterMs: config.moveAfterMs },
  });
  const shutdown = (signal: string) => {
    log.info({ signal }, 'stopping');
    void (async () => {
      await manager.stop();
      await metadata.close();
      await drainAndClose(nc);
      process.exit(0);
    })();
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
} catch (err) {
  process.stderr.write(`wharf external manager failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
