/**
 * Context summaries: small, safe digests of an actor's context for inspectors. Counts, ids, numbers
 * and states pass; bytes (message bodies) never do; collections become their sizes; nested objects
 * are followed two levels deep; strings and the whole summary are capped. An object that offers a
 * `summary()` (the partition's ledger) is asked for it instead of being walked.
 */
import { actorName } from './actor-names.ts';
import type { ContextSummary, SummaryValue } from './protocol.ts';

const MAX_STRING = 120;
const MAX_KEYS = 32;
const MAX_LIST = 8;
const MAX_DEPTH = 2;
/** Bytes of JSON above which a summary keeps only its top-level scalars. */
const MAX_JSON = 4096;

export function summarize(context: unknown): ContextSummary {
  const summary = asObject(context, 0);
  if (JSON.stringify(summary).length <= MAX_JSON) return summary;
  const flat: ContextSummary = {};
  for (const [key, value] of Object.entries(summary)) if (value === null || typeof value !== 'object') flat[key] = value;
  return flat;
}

function asObject(value: unknown, depth: number): ContextSummary {
  const out: ContextSummary = {};
  if (typeof value !== 'object' || value === null) return out;
  let n = 0;
  for (const [key, field] of Object.entries(value)) {
    if (n >= MAX_KEYS) {
      out['…'] = `${Object.keys(value).length - n} more fields`;
      break;
    }
    const digest = digestOf(field, depth + 1);
    if (digest === undefined) continue;
    out[key] = digest;
    n++;
  }
  return out;
}

function digestOf(value: unknown, depth: number): SummaryValue | undefined {
  switch (typeof value) {
    case 'number':
      return Number.isFinite(value) ? value : String(value);
    case 'boolean':
      return value;
    case 'string':
      return value.length > MAX_STRING ? `${value.slice(0, MAX_STRING)}…` : value;
    case 'bigint':
      return value.toString();
    case 'object':
      break;
    default:
      return undefined; // functions, symbols, undefined
  }
  if (value === null) return null;
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return undefined;
  if (value instanceof Map || value instanceof Set) return { size: value.size };
  if (isActorRef(value)) return actorName(value);
  if (hasSummary(value)) return asObject(value.summary(), MAX_DEPTH);
  if (Array.isArray(value)) {
    const scalars = value.length <= MAX_LIST && value.every((v) => v === null || ['string', 'number', 'boolean'].includes(typeof v));
    return scalars ? (value.map((v) => digestOf(v, depth)) as SummaryValue[]) : { length: value.length };
  }
  if (depth > MAX_DEPTH) return { fields: Object.keys(value).length };
  return asObject(value, depth);
}

function isActorRef(value: object): value is { sessionId: string; id: string; systemId?: string } {
  return 'sessionId' in value && 'send' in value && typeof (value as { send: unknown }).send === 'function';
}

function hasSummary(value: object): value is { summary(): unknown } {
  return typeof (value as { summary?: unknown }).summary === 'function';
}
