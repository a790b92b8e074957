/**
 * The cluster's metadata and its active cluster manager, seen from a test: a metadata cache of its
 * own (src/meta/metadata.ts) on its own NATS connection, every change of one assignment recorded
 * in order, and the manager's JSON requests (status, drain, ...). Closed on teardown.
 */
import type { ExecutionContext } from 'ava';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { ManagerStatus } from '../../src/manager/status.ts';
import { Metadata } from '../../src/meta/metadata.ts';
import { assignmentKey, type Assignment } from '../../src/meta/records.ts';
import { clusterName } from '../../src/names.ts';
import { subjects, type ManagerAction } from '../../src/protocol/subjects.ts';
import { testLogger } from './log.ts';

export interface ManagerWatch {
  readonly nc: NatsConnection;
  readonly metadata: Metadata;
  /** Every version of the assignment of `queue`.`partition` seen from now on, in order, with `mark()`ed events between. */
  record(queue: string, partition: number): AssignmentTrail;
  /** One manager request; the JSON answer. */
  ask<T = Record<string, unknown>>(action: ManagerAction, body?: unknown): Promise<T>;
  status(): Promise<ManagerStatus & { ok: boolean }>;
}

export type TrailEntry = { kind: 'assignment'; epoch: number; primary: string | null; value: Assignment } | { kind: 'mark'; what: string };

export interface AssignmentTrail {
  readonly entries: readonly TrailEntry[];
  /** Notes an event (e.g. a process exit) at its place in the sequence. */
  mark(what: string): void;
  stop(): void;
}

export async function watchManager(t: ExecutionContext<unknown>, natsUrl: string, cluster: string): Promise<ManagerWatch> {
  const nc = await connect({ servers: natsUrl, name: 'wharf-manager-watch', maxReconnectAttempts: -1 });
  const metadata = await Metadata.open(nc, cluster, { log: testLogger({ test: 'manager-watch' }) });
  t.teardown(async () => {
    await metadata.close();
    await nc.close();
  });
  const subs = subjects(clusterName(cluster));
  const ask = async <T>(action: ManagerAction, body: unknown = {}): Promise<T> => {
    const reply = await nc.request(subs.manager(action), JSON.stringify(body), { timeout: 3000 });
    return JSON.parse(new TextDecoder().decode(reply.data)) as T;
  };
  return {
    nc,
    metadata,
    ask,
    status: () => ask<ManagerStatus & { ok: boolean }>('status'),
    record(queue, partition) {
      const entries: TrailEntry[] = [];
      const push = (value: Assignment) => entries.push({ kind: 'assignment', epoch: value.epoch, primary: value.primary, value });
      const current = metadata.assignment(queue, partition)?.value;
      if (current !== undefined) push(current);
      const off = metadata.onAssignment((key, entry) => {
        if (key === assignmentKey(queue, partition) && entry !== undefined) push(entry.value);
      });
      return { entries, mark: (what) => entries.push({ kind: 'mark', what }), stop: off };
    },
  };
}

/** A trail as one line per entry, for t.log. */
export function describeTrail(trail: AssignmentTrail): string {
  return trail.entries.map((e) => (e.kind === 'mark' ? `-- ${e.what}` : `epoch ${e.epoch} primary ${e.primary ?? '(none)'}`)).join('; ');
}
