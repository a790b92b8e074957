/**
 * One SQS request, start to end: which protocol, who is asking (SigV4, or anonymous when unsigned
 * access is on), which action, its answer or its error in that protocol's shape.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '../node/log.ts';
import { sqsAction } from './actions.ts';
import { ANONYMOUS, type Principal, type WharfBackend } from './backend.ts';
import type { SqsCredential } from './credentials.ts';
import { SqsError, toSqsError } from './errors.ts';
import { isJsonRequest, jsonProtocol } from './json-protocol.ts';
import type { SqsRequest, SqsResponse } from './protocol.ts';
import { queryProtocol } from './query-protocol.ts';
import type { Account } from './queue-names.ts';
import { accessKeyOf, single, verifySigV4 } from './sigv4.ts';

export interface RouterDeps {
  wharf: WharfBackend;
  account: Account;
  credentials: ReadonlyMap<string, SqsCredential>;
  /** Serve requests without an Authorization header, as the principal `anonymous`. */
  allowUnsigned: boolean;
  now: () => number;
  log: Logger;
}

export async function routeSqs(request: SqsRequest, deps: RouterDeps): Promise<SqsResponse> {
  const requestId = randomUUID();
  const protocol = isJsonRequest(request) ? jsonProtocol : queryProtocol;
  let action = '';
  try {
    const principal = authenticate(request, deps);
    const parsed = protocol.parse(request);
    action = parsed.action;
    const handler = sqsAction(action);
    if (handler === undefined) throw new SqsError('InvalidAction', `The action ${action.slice(0, 100)} is not valid for this endpoint.`);
    const host = single(request.headers['host']) ?? 'localhost';
    const output = await handler(parsed.input, { wharf: deps.wharf, principal, account: deps.account, baseUrl: `http://${host}` });
    return protocol.reply(action, output, requestId);
  } catch (err) {
    const error = toSqsError(err);
    if (error.code === 'InternalFailure') deps.log.error({ err, action, requestId }, 'SQS request failed');
    return protocol.error(error, requestId);
  }
}

/**
 * The request's principal. With unsigned access on, a request signed with a key the node does not
 * know is served as `anonymous` too (it could as well have dropped its signature), so an SDK with
 * any credentials works against a local node; a known key must still sign correctly.
 */
function authenticate(request: SqsRequest, deps: RouterDeps): Principal {
  if (deps.allowUnsigned && (request.headers['authorization'] === undefined || !deps.credentials.has(accessKeyOf(request) ?? ''))) return ANONYMOUS;
  const accessKeyId = verifySigV4(request, (id) => deps.credentials.get(id)?.secretAccessKey, deps.now());
  return { name: (deps.credentials.get(accessKeyId) as SqsCredential).principal, accessKeyId };
}
