/**
 * The SQS endpoint's credentials: a JSON file (WHARF_SQS_CREDENTIALS) mapping each access key id to
 * its secret and the Wharf principal it signs for:
 *
 *   { "credentials": [ { "accessKeyId": "AKIA…", "secretAccessKey": "…", "principal": "orders-service" } ] }
 *
 * Read once at start; a malformed file stops the node with a clear error.
 */
import { readFileSync } from 'node:fs';
import * as v from 'valibot';
import { ErrorCode, WharfError } from '../errors.ts';

export interface SqsCredential {
  secretAccessKey: string;
  principal: string;
}

const schema = v.strictObject({
  credentials: v.array(
    v.strictObject({
      accessKeyId: v.pipe(v.string(), v.regex(/^[A-Za-z0-9]{1,128}$/)),
      secretAccessKey: v.pipe(v.string(), v.minLength(1), v.maxLength(256)),
      principal: v.pipe(v.string(), v.regex(/^[\x21-\x7e]{1,120}$/)),
    }),
  ),
});

export function loadCredentials(path: string): Map<string, SqsCredential> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new WharfError(ErrorCode.InvalidParameter, `cannot read the SQS credentials file ${path}: ${(err as Error).message}`, { cause: err });
  }
  const result = v.safeParse(schema, parsed);
  if (!result.success) {
    const issue = result.issues[0];
    const where = issue.path?.map((p) => String(p.key)).join('.') ?? '';
    throw new WharfError(ErrorCode.InvalidParameter, `the SQS credentials file ${path} is malformed at ${where || 'its top'}: ${issue.message}`);
  }
  const out = new Map<string, SqsCredential>();
  for (const c of result.output.credentials) {
    if (out.has(c.accessKeyId)) throw new WharfError(ErrorCode.InvalidParameter, `the SQS credentials file ${path} lists access key ${c.accessKeyId} twice`);
    out.set(c.accessKeyId, { secretAccessKey: c.secretAccessKey, principal: c.principal });
  }
  return out;
}
