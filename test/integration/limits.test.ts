/**
 * Performance isolation limits (docs/isolation.md) against a real node: a queue over its
 * maxRequestsPerSecond or maxBytesPerSecond is refused with `throttled` and a retry-after hint,
 * storing nothing of the refused requests; a queue next to a limited one is not affected; the
 * limits are validated and can be lifted.
 */
import test from 'ava';
import { ErrorCode, WharfError } from '../../src/errors.ts';
import { eventually } from '../helpers/eventually.ts';
import { startWharf } from '../helpers/wharf.ts';

const KIB = new Uint8Array(1024).fill(97);


/** The error a rejected promise carries, or undefined when it was fulfilled. */
function errorOf(r: PromiseSettledResult<unknown>): WharfError | undefined {
  return r.status === 'rejected' && r.reason instanceof WharfError ? r.reason : undefined;
}

async function visible(client: { getQueueAttributes(q: string): Promise<{ counts: { approximateNumberOfMessages: number } }> }, queue: string) {
  return (await client.getQueueAttributes(queue)).counts.approximateNumberOfMessages;
}

test('requests over maxRequestsPerSecond are throttled with a retry-after hint; a neighbour queue is not', async (t) => {
  const fixture = await startWharf(t, {}, { maxAttempts: 1 });
  const { client } = fixture;
  await client.createQueue('limited', { maxRequestsPerSecond: 2 });
  await client.createQueue('neighbour');
  const sends = await Promise.allSettled(Array.from({ length: 40 }, (_, i) => client.sendMessage('limited', `m${i}`)));
  const neighbour = await Promise.allSettled(Array.from({ length: 40 }, (_, i) => client.sendMessage('neighbour', `n${i}`)));

  const throttled = sends.map(errorOf).filter((e): e is WharfError => e !== undefined);
  t.true(throttled.length > 0, 'some sends were throttled');
  for (const e of throttled) {
    t.is(e.code, ErrorCode.Throttled, e.message);
    t.true(e.retryable);
    t.true((e.retryAfterMs ?? 0) > 0, 'carries a retry-after hint');
    t.regex(e.message, /limited is over its maxRequestsPerSecond 2/);
  }
  const passed = sends.length - throttled.length;
  // A throttled send stored nothing: the queue holds exactly the sends that passed.
  t.is(await visible(client, 'limited'), passed);
  t.deepEqual(neighbour.map(errorOf).filter((e) => e !== undefined), [], 'the neighbour queue is unaffected');
  t.is(await visible(client, 'neighbour'), 40);

  // Control actions are never throttled: the limit can be lifted while the queue is over it.
  await client.setQueueAttributes('limited', { maxRequestsPerSecond: 0 });
  await eventually(async () => {
    const again = await Promise.allSettled(Array.from({ length: 20 }, () => client.sendMessage('limited', 'free')));
    return again.every((r) => r.status === 'fulfilled');
  });
});

test('sends over maxBytesPerSecond are throttled; the bucket allows one oversized batch, then waits for its debt', async (t) => {
  const { client } = await startWharf(t, {}, { maxAttempts: 1 });
  await client.createQueue('bytes', { maxBytesPerSecond: 1024 });
  // 8 KiB in one batch: more than a second's worth, admitted because the bucket was not in debt.
  const batch = await client.sendMessageBatch('bytes', Array.from({ length: 8 }, (_, i) => ({ id: `e${i}`, body: KIB })));
  t.is(batch.successful.length, 8);
  // Now eight seconds in debt: the next send is refused.
  const error = await t.throwsAsync<WharfError>(client.sendMessage('bytes', KIB));
  t.is(error?.code, ErrorCode.Throttled);
  t.regex(error?.message ?? '', /maxBytesPerSecond 1024/);
  t.true((error?.retryAfterMs ?? 0) > 1000, `the hint covers the debt (${error?.retryAfterMs} ms)`);
  // Receives carry no sent bytes: they pass.
  t.is((await client.receive('bytes', { maxMessages: 10 })).length, 8);
});

test('limit attributes default to unlimited and are validated', async (t) => {
  const { client } = await startWharf(t, {}, { maxAttempts: 1 });
  await client.createQueue('plain');
  const { attributes } = await client.getQueueAttributes('plain');
  t.is(attributes.maxRequestsPerSecond, 0);
  t.is(attributes.maxBytesPerSecond, 0);
  for (const [name, value] of [
    ['maxRequestsPerSecond', -1],
    ['maxRequestsPerSecond', 1.5],
    ['maxBytesPerSecond', 2 ** 41],
    ['maxBytesPerSecond', 'lots'],
  ] as const) {
    const error = await t.throwsAsync<WharfError>(client.setQueueAttributes('plain', { [name]: value }));
    t.is(error?.code, ErrorCode.InvalidAttribute, `${name} ${String(value)}`);
  }
});
