/** Starts a node's SQS-compatible endpoint (docs/sqs.md) on its FrontEnd, in process. */
import { ErrorCode, WharfError } from '../errors.ts';
import type { Metadata } from '../meta/metadata.ts';
import type { NodeConfig } from '../node/config.ts';
import type { FrontEnd } from '../node/front-end.ts';
import type { Logger } from '../node/log.ts';
import { wharfBackend } from './backend.ts';
import { loadCredentials } from './credentials.ts';
import { serveSqs, type SqsEndpoint } from './server.ts';

/** The endpoint of `config.sqsPort` (which must be set). */
export async function startSqsEndpoint(config: NodeConfig & { sqsPort: number }, frontEnd: FrontEnd, metadata: Metadata, log: Logger): Promise<SqsEndpoint> {
  const credentials = config.sqsCredentials === undefined ? new Map() : loadCredentials(config.sqsCredentials);
  const wharf = wharfBackend({
    handle: (principal, action, request) => frontEnd.handle(action, request, principal),
    queues: () => metadata.queues().map((q) => q.value),
    sees: (principal, queue) => frontEnd.sees(principal, queue),
  });
  const deps = {
    wharf,
    account: { region: config.sqsRegion, accountId: config.sqsAccountId },
    credentials,
    allowUnsigned: config.sqsAllowUnsigned,
    now: () => config.clock.now(),
    log: log.child({ component: 'sqs' }),
  };
  return serveSqs(config.sqsHost, config.sqsPort, deps).catch((err: unknown) => {
    throw new WharfError(ErrorCode.Unavailable, `cannot listen on ${config.sqsHost}:${config.sqsPort} for SQS: ${(err as Error).message}`, { cause: err });
  });
}
