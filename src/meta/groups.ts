/**
 * Consumer groups of streams in a JetStream KV bucket (`wharf-<cluster>-groups`, key
 * `<queue>.<group>`, JSON): the membership and assignment that actors/group/group.ts computes,
 * written only by compare-and-swap on the revision read, so two nodes handling joins at once never
 * both win; the loser reads again and applies its change to the winner's state.
 *
 * Not cached or watched like the catalog (metadata.ts): members heartbeat every few seconds, and a
 * decision (a commit's fence) must see the latest state, so every operation reads the bucket.
 * The record names the queue's incarnation: a group of a deleted queue reads as empty for a new
 * queue of the same name.
 */
import { Kvm, type KV } from '@nats-io/kv';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import * as v from 'valibot';
import type { Logger } from 'pino';
import { EMPTY_GROUP, type GroupState } from '../../actors/group/group.ts';
import { ErrorCode, WharfError } from '../errors.ts';
import { ensureBucket, isCasConflict } from './metadata.ts';
import { buckets, groupKey } from './records.ts';

export interface GroupRecord extends GroupState {
  incarnation: number;
}

const nat = v.pipe(v.number(), v.integer(), v.minValue(0));
const groupSchema = v.looseObject({
  incarnation: v.number(),
  generation: nat,
  members: v.array(v.looseObject({ id: v.string(), lastSeen: v.number(), sessionMs: nat })),
  assignment: v.record(v.string(), v.array(nat)),
});

/** CAS attempts of one change against concurrent ones. */
const ATTEMPTS = 10;
const SETUP_MS = 15_000;

export class GroupStore {
  private kv: Promise<KV> | undefined;
  private readonly nc: NatsConnection;
  private readonly name: string;
  private readonly replicas: number;
  private readonly log: Logger;

  constructor(nc: NatsConnection, cluster: string, replicas: number, log: Logger) {
    this.nc = nc;
    this.name = buckets(cluster).groups;
    this.replicas = replicas;
    this.log = log;
  }

  /** The bucket, created on first use (a cluster without streams never has it). */
  private bucket(): Promise<KV> {
    this.kv ??= (async () => {
      await ensureBucket(this.nc, this.name, { replicas: this.replicas, description: 'Wharf consumer groups of streams' }, Date.now() + SETUP_MS, this.log);
      return new Kvm(jetstream(this.nc)).open(this.name);
    })().catch((err: unknown) => {
      this.kv = undefined;
      throw unavailable('open', err);
    });
    return this.kv;
  }

  /** The group's state and revision (0: none stored), read from the bucket. */
  async read(queue: string, incarnation: number, group: string): Promise<{ state: GroupState; revision: number }> {
    const kv = await this.bucket();
    const entry = await kv.get(groupKey(queue, group)).catch((err: unknown) => {
      throw unavailable('read', err);
    });
    if (entry === null || entry.operation !== 'PUT') return { state: EMPTY_GROUP, revision: entry?.revision ?? 0 };
    const parsed = v.safeParse(groupSchema, safeJson(entry.string()));
    if (!parsed.success) throw new WharfError(ErrorCode.Internal, `consumer group ${queue}/${group}: malformed record`);
    const record = parsed.output as GroupRecord;
    if (record.incarnation !== incarnation) return { state: EMPTY_GROUP, revision: entry.revision };
    return { state: { generation: record.generation, members: record.members, assignment: record.assignment }, revision: entry.revision };
  }

  /**
   * Applies `change` to the stored state and stores the result by CAS, again from a fresh read when
   * another change won. `change` returns the next state (unchanged: nothing is written) and what
   * the caller answers.
   */
  async update<R>(queue: string, incarnation: number, group: string, change: (state: GroupState) => { state: GroupState; result: R }): Promise<R> {
    const kv = await this.bucket();
    const key = groupKey(queue, group);
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const { state, revision } = await this.read(queue, incarnation, group);
      const next = change(state);
      if (next.state === state) return next.result;
      const record: GroupRecord = { incarnation, ...next.state };
      const bytes = new TextEncoder().encode(JSON.stringify(record));
      try {
        if (revision === 0) await kv.create(key, bytes);
        else await kv.update(key, bytes, revision);
        return next.result;
      } catch (err) {
        if (!isCasConflict(err) && !isCreateConflict(err)) throw unavailable('write', err);
      }
    }
    throw new WharfError(ErrorCode.Unavailable, `consumer group ${queue}/${group} is being changed concurrently; retry`);
  }

  /** Names of the groups of a queue (of any incarnation). */
  async list(queue: string): Promise<string[]> {
    const kv = await this.bucket();
    const prefix = `${queue}.`;
    const names: string[] = [];
    try {
      for await (const key of await kv.keys(`${prefix}*`)) names.push(key.slice(prefix.length));
    } catch (err) {
      throw unavailable('list', err);
    }
    return names.sort();
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** `kv.create` on a key that exists (another node created the group first). */
function isCreateConflict(err: unknown): boolean {
  return err instanceof Error && /wrong last sequence|key exists/i.test(err.message);
}

function unavailable(what: string, cause: unknown): WharfError {
  if (cause instanceof WharfError) return cause;
  return new WharfError(ErrorCode.Unavailable, `consumer groups: ${what}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
}
