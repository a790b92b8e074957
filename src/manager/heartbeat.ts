/**
 * Heartbeats as the manager accepts them: JSON, checked field by field, because one malformed
 * heartbeat (an old node, a bug) must neither crash the manager nor be taken for a report.
 */
import * as v from 'valibot';
import type { Heartbeat } from '../meta/records.ts';

const count = v.pipe(v.number(), v.integer(), v.minValue(0));

const replicaReport = v.object({
  queue: v.string(),
  partition: count,
  role: v.picklist(['loading', 'primary', 'follower', 'learner', 'fenced', 'failed']),
  epoch: count,
  lastEpoch: count,
  logEnd: count,
  commitIndex: count,
  isr: v.optional(v.array(v.string())),
  witness: v.optional(v.object({ lastEpoch: count, logEnd: count })),
  load: v.optional(v.object({ messages: count, bytes: count, sent: count, sealed: v.boolean() })),
});

const heartbeat = v.object({
  node: v.pipe(v.string(), v.minLength(1)),
  boot: v.string(),
  at: v.number(),
  state: v.picklist(['active', 'draining', 'removed']),
  store: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(128))),
  replicas: v.array(replicaReport),
});

/** The heartbeat in `data`, or undefined when it is not one. */
export function parseHeartbeat(data: Uint8Array): Heartbeat | undefined {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(data));
  } catch {
    return undefined;
  }
  const parsed = v.safeParse(heartbeat, json);
  if (!parsed.success) return undefined;
  const { replicas, store, ...rest } = parsed.output;
  // exactOptionalPropertyTypes: absent optional fields stay absent rather than `undefined`.
  return {
    ...rest,
    ...(store === undefined ? {} : { store }),
    replicas: replicas.map(({ isr, witness, load, ...r }) => ({
      ...r,
      ...(isr === undefined ? {} : { isr }),
      ...(witness === undefined ? {} : { witness }),
      ...(load === undefined ? {} : { load }),
    })),
  };
}
