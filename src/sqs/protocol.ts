/** What the router needs of a protocol: the action and its input from a request, and replies back. */
import type { Input } from './input.ts';
import type { Output } from './context.ts';
import type { SqsError } from './errors.ts';

export interface SqsRequest {
  method: string;
  /** The path, without the query string. */
  path: string;
  /** The query string's pairs, decoded. */
  query: URLSearchParams;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export interface SqsResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface Protocol {
  /** The action's name and its input in the JSON protocol's shape; SqsError for a malformed request. */
  parse(request: SqsRequest): { action: string; input: Input };
  reply(action: string, output: Output, requestId: string): SqsResponse;
  error(err: SqsError, requestId: string): SqsResponse;
}
