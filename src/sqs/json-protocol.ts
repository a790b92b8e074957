/**
 * AWS JSON 1.0, what current AWS SDKs speak to SQS: `POST /` with `X-Amz-Target: AmazonSQS.<Action>`
 * and a JSON body. Errors carry the modelled name in `__type` and, because SQS is "query
 * compatible", the query protocol's code in the `x-amzn-query-error` header.
 */
import { SqsError } from './errors.ts';
import type { Input } from './input.ts';
import type { Protocol, SqsRequest } from './protocol.ts';

const CONTENT_TYPE = 'application/x-amz-json-1.0';
const TARGET_PREFIX = 'AmazonSQS.';

export function isJsonRequest(request: SqsRequest): boolean {
  return typeof request.headers['x-amz-target'] === 'string';
}

export const jsonProtocol: Protocol = {
  parse(request) {
    const target = request.headers['x-amz-target'] as string;
    if (!target.startsWith(TARGET_PREFIX)) throw new SqsError('InvalidAction', `Unknown target ${target.slice(0, 100)}`);
    const text = request.body.toString('utf8');
    let input: unknown = {};
    try {
      if (text.trim() !== '') input = JSON.parse(text);
    } catch {
      throw new SqsError('InvalidParameterValue', 'The request body is not valid JSON.');
    }
    if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new SqsError('InvalidParameterValue', 'The request body must be a JSON object.');
    return { action: target.slice(TARGET_PREFIX.length), input: input as Input };
  },

  reply(_action, output, requestId) {
    return { status: 200, headers: { 'content-type': CONTENT_TYPE, 'x-amzn-requestid': requestId }, body: JSON.stringify(output) };
  },

  error(err, requestId) {
    return {
      status: err.status,
      headers: { 'content-type': CONTENT_TYPE, 'x-amzn-requestid': requestId, 'x-amzn-query-error': `${err.queryCode};${err.fault}` },
      body: JSON.stringify({ __type: `com.amazonaws.sqs#${err.code}`, message: err.message }),
    };
  },
};
