/**
 * A Wharf node with its SQS endpoint on (a random port, one credential), and official AWS SDK
 * clients pointed at it. Built on startWharf (real nats-server, real RocksDB).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { NodeOptions } from '../../src/node/config.ts';
import { startWharf, type WharfFixture } from './wharf.ts';
import { tempDir } from './temp-dir.ts';

export const ACCESS_KEY_ID = 'AKIDWHARFTEST';
export const SECRET = 'wharf-test-secret';

export interface SqsFixture {
  wharf: WharfFixture;
  endpoint: string;
  sqs: SQSClient;
  /** Another SDK client on the same endpoint, with other credentials. */
  client(credentials: { accessKeyId: string; secretAccessKey: string }): SQSClient;
}

export async function startSqs(t: ExecutionContext<unknown>, options: NodeOptions = {}): Promise<SqsFixture> {
  const dir = await tempDir(t, 'wharf-sqs-');
  const credentials = join(dir, 'credentials.json');
  await writeFile(credentials, JSON.stringify({ credentials: [{ accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET, principal: 'test-app' }] }));
  const wharf = await startWharf(t, { sqsPort: 0, sqsCredentials: credentials, ...options });
  const endpoint = `http://127.0.0.1:${wharf.node.sqsPort}`;
  const clients: SQSClient[] = [];
  const client = (c: { accessKeyId: string; secretAccessKey: string }) => {
    const sqs = new SQSClient({ endpoint, region: 'us-east-1', credentials: c, maxAttempts: 1 });
    clients.push(sqs);
    return sqs;
  };
  t.teardown(() => clients.forEach((c) => c.destroy()));
  return { wharf, endpoint, sqs: client({ accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET }), client };
}

/** The SDK's error for a failed command: its name (the modelled error) and query-compatible code. */
export async function sqsError(p: Promise<unknown>): Promise<{ name: string; code: string | undefined; status: number | undefined }> {
  try {
    await p;
  } catch (err) {
    const e = err as { name: string; Code?: string; $metadata?: { httpStatusCode?: number } };
    return { name: e.name, code: e.Code, status: e.$metadata?.httpStatusCode };
  }
  throw new Error('expected the command to fail');
}
