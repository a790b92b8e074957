/** Starts a node's SQS-compatible endpoint (docs/sqs.md) on its FrontEnd, in process. */
import { ErrorCode, WharfError } from '../errors.ts';
import type { Clock } from '../clock.ts';
import type { Metadata } from '../meta/metadata.ts';
import type { SqsConfig } from '../node/config.ts';
import type { FrontEnd } from '../node/front-end.ts';
import type { Logger } from '../node/log.ts';
import { wharfBackend } from './backend.ts';
import { loadCredentials } from './credentials.ts';
import { serveSqs, type SqsEndpoint } from './server.ts';

export async function startSqsEndpoint(config: SqsConfig, frontEnd: FrontEnd, metadata: Metadata, clock: Clock, log: Logger): Promise<SqsEndpoint> {
  const credentials = config.credentials === undefined ? new Map() : loadCredentials(config.credentials);
  const wharf = wharfBackend({
    handle: (action, request) => frontEnd.handle(action, request),
    queues: () => metadata.queues().map((q) => q.value),
  });
  const deps = {
    wharf,
    account: { region: config.region, accountId: config.accountId },
    credentials,
    allowUnsigned: config.allowUnsigned,
    now: () => clock.now(),
    log: log.child({ component: 'sqs' }),
  };
  return serveSqs(config.host, config.port, deps).catch((err: unknown) => {
    throw new WharfError(ErrorCode.Unavailable, `cannot listen on ${config.host}:${config.port} for SQS: ${(err as Error).message}`, { cause: err });
  });
}
