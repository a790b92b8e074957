/**
 * Message move tasks in NATS JetStream KV: bucket `wharf-<cluster>-tasks`, key `<taskId>`, value
 * the task as JSON (MessageMoveTask plus the owner's boot id), and key `index`, the ids of the tasks
 * (a key listing would race the tasks' own frequent writes). Every write is a compare-and-swap on
 * the revision read, so two nodes never both advance one task: the loser reads again.
 */
import { jetstream } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import * as v from 'valibot';
import { ErrorCode, WharfError } from '../errors.ts';
import type { MessageMoveTask } from '../protocol/messages.ts';
import { tasksBucket } from './records.ts';

/** A task as stored: the API's view plus which process of its owner runs it. */
export type StoredMoveTask = MessageMoveTask & { ownerBoot?: string };

const taskSchema = v.looseObject({
  taskId: v.string(),
  sourceQueue: v.string(),
  destinationQueue: v.exactOptional(v.string()),
  maxMessagesPerSecond: v.exactOptional(v.number()),
  status: v.picklist(['running', 'cancelling', 'cancelled', 'completed', 'failed']),
  moved: v.number(),
  total: v.number(),
  failures: v.number(),
  lastError: v.exactOptional(v.string()),
  owner: v.exactOptional(v.string()),
  ownerBoot: v.exactOptional(v.string()),
  startedAt: v.number(),
  updatedAt: v.number(),
});

const INDEX_KEY = 'index';

const isConflict = (err: unknown) => /wrong last sequence|key exists/i.test((err as Error).message);

export interface VersionedTask {
  task: StoredMoveTask;
  revision: number;
}

export class MoveTaskStore {
  private readonly kv: KV;

  private constructor(kv: KV) {
    this.kv = kv;
  }

  static async open(nc: NatsConnection, cluster: string, replicas: number): Promise<MoveTaskStore> {
    try {
      const kv = await new Kvm(jetstream(nc)).create(tasksBucket(cluster), { history: 1, replicas, description: 'Wharf message move tasks' });
      return new MoveTaskStore(kv);
    } catch (err) {
      throw new WharfError(ErrorCode.Unavailable, `move tasks: cannot open the bucket: ${(err as Error).message}`, { cause: err });
    }
  }

  async get(taskId: string): Promise<VersionedTask | undefined> {
    const entry = await this.guard(() => this.kv.get(taskId));
    if (entry === null || entry.operation !== 'PUT') return undefined;
    const parsed = v.safeParse(taskSchema, entry.json());
    return parsed.success ? { task: parsed.output as StoredMoveTask, revision: entry.revision } : undefined;
  }

  /** The ids in the index and its revision (0 when there is none yet). */
  private async index(): Promise<{ ids: string[]; revision: number }> {
    const entry = await this.guard(() => this.kv.get(INDEX_KEY));
    if (entry === null || entry.operation !== 'PUT') return { ids: [], revision: entry?.revision ?? 0 };
    const parsed = v.safeParse(v.array(v.string()), entry.json());
    return { ids: parsed.success ? parsed.output : [], revision: entry.revision };
  }

  /** Changes the index by CAS, retrying against concurrent changes. */
  private async changeIndex(change: (ids: string[]) => string[]): Promise<void> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const { ids, revision } = await this.index();
      const bytes = new TextEncoder().encode(JSON.stringify(change(ids)));
      try {
        await (revision === 0 ? this.kv.create(INDEX_KEY, bytes) : this.kv.update(INDEX_KEY, bytes, revision));
        return;
      } catch (err) {
        if (!isConflict(err)) throw new WharfError(ErrorCode.Unavailable, `move tasks: index: ${(err as Error).message}`, { cause: err });
      }
    }
    throw new WharfError(ErrorCode.Unavailable, 'move tasks: the index is changing; retry');
  }

  async list(): Promise<VersionedTask[]> {
    const { ids } = await this.index();
    const tasks = await Promise.all(ids.map((id) => this.get(id)));
    return tasks.filter((t): t is VersionedTask => t !== undefined).sort((a, b) => a.task.startedAt - b.task.startedAt);
  }

  /** Creates (revision 0) or updates a task by CAS; undefined when another writer got there first. */
  async put(task: StoredMoveTask, revision: number): Promise<number | undefined> {
    const bytes = new TextEncoder().encode(JSON.stringify(task));
    let written: number;
    try {
      written = revision === 0 ? await this.kv.create(task.taskId, bytes) : await this.kv.update(task.taskId, bytes, revision);
    } catch (err) {
      if (isConflict(err)) return undefined;
      throw new WharfError(ErrorCode.Unavailable, `move tasks: write ${task.taskId}: ${(err as Error).message}`, { cause: err });
    }
    // A new task joins the index after its record exists: a crash in between leaves a record nobody lists (harmless).
    if (revision === 0) await this.changeIndex((ids) => [...ids.filter((id) => id !== task.taskId), task.taskId]);
    return written;
  }

  async remove(taskId: string): Promise<void> {
    await this.changeIndex((ids) => ids.filter((id) => id !== taskId));
    await this.guard(() => this.kv.purge(taskId));
  }

  private async guard<R>(op: () => Promise<R>): Promise<R> {
    try {
      return await op();
    } catch (err) {
      throw new WharfError(ErrorCode.Unavailable, `move tasks: ${(err as Error).message}`, { cause: err });
    }
  }
}
