/**
 * SQS's older query protocol: form-encoded parameters (`Action=SendMessage&QueueUrl=…`, lists and
 * maps flattened as `Attribute.1.Name`), XML replies. Parameters are unflattened into the JSON
 * protocol's shape, so both protocols share the action handlers; replies are the same output
 * written as SQS's XML.
 */
import { SqsError } from './errors.ts';
import type { Input } from './input.ts';
import type { Protocol } from './protocol.ts';

const XMLNS = 'http://queue.amazonaws.com/doc/2012-11-05/';

/** Flattened query maps: query name → [JSON name, key member, value member]. */
const MAPS: Record<string, [string, string, string]> = {
  Attribute: ['Attributes', 'Name', 'Value'],
  Tag: ['Tags', 'Key', 'Value'],
  MessageAttribute: ['MessageAttributes', 'Name', 'Value'],
  MessageSystemAttribute: ['MessageSystemAttributes', 'Name', 'Value'],
};
/** Flattened query lists: query name → JSON name. */
const LISTS: Record<string, string> = {
  AttributeName: 'AttributeNames',
  MessageAttributeName: 'MessageAttributeNames',
  MessageSystemAttributeName: 'MessageSystemAttributeNames',
  TagKey: 'TagKeys',
  SendMessageBatchRequestEntry: 'Entries',
  DeleteMessageBatchRequestEntry: 'Entries',
  ChangeMessageVisibilityBatchRequestEntry: 'Entries',
};
/** Output maps, written as repeated `<Element><Key/><Value/></Element>`. */
const OUTPUT_MAPS: Record<string, [string, string, string]> = {
  Attributes: ['Attribute', 'Name', 'Value'],
  Tags: ['Tag', 'Key', 'Value'],
  MessageAttributes: ['MessageAttribute', 'Name', 'Value'],
};
/** Output lists, written as repeated elements; `Successful`'s element is named after the action. */
const OUTPUT_LISTS: Record<string, (action: string) => string> = {
  QueueUrls: () => 'QueueUrl',
  queueUrls: () => 'QueueUrl',
  Messages: () => 'Message',
  Successful: (action) => `${action}ResultEntry`,
  Failed: () => 'BatchResultErrorEntry',
  Results: () => 'ListMessageMoveTasksResultEntry',
};
/** Actions whose reply has no result members: SQS writes no `<…Result>` element for them. */
const NO_RESULT = new Set(['DeleteMessage', 'DeleteQueue', 'PurgeQueue', 'SetQueueAttributes', 'TagQueue', 'UntagQueue', 'ChangeMessageVisibility']);

type Tree = { [key: string]: Tree | string };
/** Names that would reach an object's prototype: refused rather than dropped. */
const RESERVED = new Set(['__proto__', 'constructor', 'prototype']);

export const queryProtocol: Protocol = {
  parse(request) {
    const params = new URLSearchParams(request.query);
    if (request.method === 'POST') for (const [k, v] of new URLSearchParams(request.body.toString('utf8'))) params.append(k, v);
    const action = params.get('Action');
    if (action === null) throw new SqsError('MissingParameter', 'The request must contain the parameter Action.');
    const tree: Tree = {};
    for (const [key, value] of params) {
      if (key === 'Action' || key === 'Version' || key.startsWith('X-Amz-')) continue;
      const path = key.split('.');
      if (path.some((p) => RESERVED.has(p))) throw new SqsError('InvalidParameterValue', `The parameter ${key.slice(0, 100)} is not valid.`);
      insert(tree, path, value);
    }
    const input = normalize(tree) as Input;
    // A query request may be sent to the queue's URL instead of naming it.
    const segments = request.path.split('/').filter((s) => s !== '');
    if (input['QueueUrl'] === undefined && segments.length === 2) input['QueueUrl'] = request.path;
    return { action, input };
  },

  reply(action, output, requestId) {
    const result = NO_RESULT.has(action) ? '' : `<${action}Result>${members(action, output)}</${action}Result>`;
    return xml(200, `<${action}Response xmlns="${XMLNS}">${result}<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`);
  },

  error(err, requestId) {
    return xml(
      err.status,
      `<ErrorResponse xmlns="${XMLNS}"><Error><Type>${err.fault}</Type><Code>${escape(err.queryCode)}</Code><Message>${escape(err.message)}</Message><Detail/></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
    );
  },
};

function insert(tree: Tree, path: string[], value: string): void {
  const [head, ...rest] = path as [string, ...string[]];
  if (rest.length === 0) {
    tree[head] = value;
    return;
  }
  const child = Object.hasOwn(tree, head) ? tree[head] : undefined;
  const next: Tree = typeof child === 'object' ? child : {};
  tree[head] = next;
  insert(next, rest, value);
}

/** Numbered members become lists, and the flattened lists and maps get their JSON names. */
function normalize(node: Tree | string): unknown {
  if (typeof node === 'string') return node;
  const keys = Object.keys(node);
  if (keys.length > 0 && keys.every((k) => /^\d+$/.test(k))) {
    return keys.sort((a, b) => Number(a) - Number(b)).map((k) => normalize(node[k] as Tree | string));
  }
  const out: Record<string, unknown> = {};
  for (const key of keys) {
    const value = normalize(node[key] as Tree | string);
    const map = MAPS[key];
    if (map !== undefined && Array.isArray(value)) {
      const [name, k, v] = map;
      out[name] = Object.fromEntries(value.map((e) => [(e as Record<string, unknown>)[k], (e as Record<string, unknown>)[v]]));
    } else if (LISTS[key] !== undefined && Array.isArray(value)) {
      out[LISTS[key]] = value;
    } else {
      out[key] = value;
    }
  }
  return out;
}

function members(action: string, output: Record<string, unknown>): string {
  return Object.entries(output).map(([key, value]) => member(action, key, value)).join('');
}

function member(action: string, key: string, value: unknown): string {
  const map = OUTPUT_MAPS[key];
  if (map !== undefined && typeof value === 'object' && value !== null) {
    const [element, k, v] = map;
    return Object.entries(value)
      .map(([name, val]) => `<${element}><${k}>${escape(name)}</${k}>${member(action, v, val)}</${element}>`)
      .join('');
  }
  const list = OUTPUT_LISTS[key];
  if (list !== undefined && Array.isArray(value)) return value.map((v) => member(action, list(action), v)).join('');
  if (typeof value === 'object' && value !== null) return `<${key}>${members(action, value as Record<string, unknown>)}</${key}>`;
  return `<${key}>${escape(String(value))}</${key}>`;
}

function xml(status: number, body: string): { status: number; headers: Record<string, string>; body: string } {
  return { status, headers: { 'content-type': 'text/xml' }, body: `<?xml version="1.0"?>${body}` };
}

function escape(text: string): string {
  return text.replace(/[&<>"'\r]/g, (c) => `&#${c.charCodeAt(0)};`);
}
