/**
 * Names that end up in NATS subjects and RocksDB keys, branded so a plain string cannot be passed
 * where a validated one is expected. One rule each, checked once at the boundary.
 */
import { ErrorCode, WharfError } from './errors.ts';

export type QueueName = string & { readonly __brand: 'QueueName' };
export type NodeId = string & { readonly __brand: 'NodeId' };
export type ClusterName = string & { readonly __brand: 'ClusterName' };

/**
 * SQS's rule (1–80 characters of letters, digits, `-` and `_`), which is also safe as one NATS token
 * (no `.`, `*`, `>` or white space) and as one key segment (no `/`). FIFO queues end in `.fifo`
 * in SQS; Wharf marks FIFO with an attribute instead, so the dot never reaches a subject.
 */
const QUEUE_NAME = /^[A-Za-z0-9_-]{1,80}$/;
const ID = /^[A-Za-z0-9_-]{1,64}$/;

export function queueName(name: unknown): QueueName {
  if (typeof name !== 'string' || !QUEUE_NAME.test(name)) {
    throw new WharfError(
      ErrorCode.InvalidName,
      `queue name must be 1-80 characters of A-Z, a-z, 0-9, '-' and '_': ${JSON.stringify(name)?.slice(0, 100)}`,
    );
  }
  return name as QueueName;
}

export function isQueueName(name: unknown): name is QueueName {
  return typeof name === 'string' && QUEUE_NAME.test(name);
}

export function nodeId(id: string): NodeId {
  if (!ID.test(id)) throw new WharfError(ErrorCode.InvalidName, `node id must match ${ID.source}: ${id}`);
  return id as NodeId;
}

export function clusterName(name: string): ClusterName {
  if (!ID.test(name)) throw new WharfError(ErrorCode.InvalidName, `cluster name must match ${ID.source}: ${name}`);
  return name as ClusterName;
}

/**
 * Who makes a request (docs/security.md): a NATS user name, carried in the API subject. The same
 * rule as node ids, so it is one subject token and one KV key.
 */
export type PrincipalName = string & { readonly __brand: 'PrincipalName' };

/** The principal of a request when authorization is off and the client named nobody. */
export const ANONYMOUS = 'anonymous' as PrincipalName;

export function principalName(name: unknown): PrincipalName {
  if (typeof name !== 'string' || !ID.test(name)) {
    throw new WharfError(ErrorCode.InvalidName, `principal name must match ${ID.source}: ${JSON.stringify(name)?.slice(0, 100)}`);
  }
  return name as PrincipalName;
}

/**
 * A tenant: a namespace of queues. Tenant `acme` owns every queue whose name begins with `acme_`;
 * a tenant name has no `_`, so a queue's tenant is the text before its first `_` and no name is in
 * two tenants.
 */
const TENANT = /^[A-Za-z0-9-]{1,32}$/;

export function tenantName(name: unknown): string {
  if (typeof name !== 'string' || !TENANT.test(name)) {
    throw new WharfError(ErrorCode.InvalidName, `tenant name must be 1-32 characters of A-Z, a-z, 0-9 and '-': ${JSON.stringify(name)?.slice(0, 100)}`);
  }
  return name;
}
