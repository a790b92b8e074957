/**
 * Principals' policies (docs/security.md) in the JetStream KV bucket `wharf-<cluster>-principals`,
 * key the principal's name, value its PrincipalPolicy as JSON. Every node mirrors the bucket in
 * memory and keeps it fresh by a watch (watched-bucket.ts), so authorizing a request reads memory
 * only; a change reaches every node within a watch event's delivery.
 */
import { Kvm, type KV } from '@nats-io/kv';
import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import { Empty, headers, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { ErrorCode, WharfError } from '../errors.ts';
import type { PrincipalPolicy } from '../protocol/messages.ts';
import { ensureBucket } from './metadata.ts';
import { buckets } from './records.ts';
import { encodeRecord, PRINCIPAL } from './schemas.ts';
import { WatchedBucket } from './watched-bucket.ts';

const SETUP_MS = 15_000;

export class PrincipalStore {
  private readonly kv: KV;
  private readonly js: JetStreamClient;
  private readonly name: string;
  private readonly bucket: WatchedBucket<PrincipalPolicy>;

  private constructor(nc: NatsConnection, kv: KV, name: string, log: Logger) {
    this.kv = kv;
    this.js = jetstream(nc);
    this.name = name;
    this.bucket = new WatchedBucket({ nc, kv, bucket: name, kind: PRINCIPAL, log, onChange: () => undefined });
  }

  /** Creates or binds the bucket and resolves once its policies are cached. */
  static async open(nc: NatsConnection, cluster: string, replicas: number, log: Logger): Promise<PrincipalStore> {
    const name = buckets(cluster).principals;
    try {
      await ensureBucket(nc, name, { replicas, description: 'Wharf principals and their grants' }, Date.now() + SETUP_MS, log);
      const store = new PrincipalStore(nc, await new Kvm(jetstream(nc)).open(name), name, log);
      await store.bucket.start();
      return store;
    } catch (err) {
      throw new WharfError(ErrorCode.Unavailable, `principals: cannot open the bucket ${name}: ${(err as Error).message}`, { cause: err });
    }
  }

  get(name: string): PrincipalPolicy | undefined {
    return this.bucket.entries.get(name)?.value;
  }

  list(): PrincipalPolicy[] {
    return [...this.bucket.entries.values()].map((e) => e.value).sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  /** Writes a policy; this node's cache has it when the promise resolves. */
  async put(policy: PrincipalPolicy): Promise<void> {
    const { key, bytes, value } = encodeRecord(PRINCIPAL, policy);
    const revision = await this.kv.put(key, bytes);
    this.bucket.applyPut(key, revision, value);
  }

  /**
   * A delete marker published by hand (as metadata.ts does), since `kv.delete` does not return its
   * revision: this node's cache forgets the policy before the promise resolves, and a late watch
   * event of the old value cannot bring it back.
   */
  async delete(name: string): Promise<void> {
    if (this.get(name) === undefined) throw new WharfError(ErrorCode.PrincipalNotFound, `no principal ${name}`);
    const h = headers();
    h.set('KV-Operation', 'DEL');
    const ack = await this.js.publish(`$KV.${this.name}.${name}`, Empty, { headers: h });
    this.bucket.applyDelete(name, ack.seq);
  }

  close(): void {
    this.bucket.stop();
  }
}
