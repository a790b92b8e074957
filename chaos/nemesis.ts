/**
 * The nemesis: every fault the scenarios inject, each recorded in the history (process `nemesis`,
 * history.ts) with what it hit, so the checker's figures can be read against the schedule. It
 * remembers what it broke, so `healAll()` can undo all of it: partitions and bandwidth limits
 * lifted, proxy faults cleared, disks freed, clocks set back, paused processes resumed, stopped
 * ones started again.
 */
import { cp, open, readdir, rm, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { History } from '../test/chaos/history.ts';
import type { Faults } from './proxy.ts';
import type { Topology } from './topology.ts';

const FILLER = 'chaos-filler';

export class Nemesis {
  private readonly clockOffsets = new Map<string, number>();
  private readonly filled = new Set<string>();
  private readonly faulted = new Set<string>();
  private netFaults = false;

  readonly topology: Topology;
  readonly history: History;

  constructor(topology: Topology, history: History) {
    this.topology = topology;
    this.history = history;
  }

  kill(node: string): Promise<void> {
    return this.history.nemesis('kill', node, async () => {
      await this.topology.node(node).process.kill();
    });
  }

  /** SIGTERM: the graceful stop a scheduler (Swarm, systemd) does; waits for the exit. */
  terminate(node: string): Promise<void> {
    return this.history.nemesis('terminate', node, async () => {
      const exit = await this.topology.node(node).process.stop();
      if (exit.signal === 'SIGKILL') throw new Error(`${node} did not stop within its grace period and was killed`);
    });
  }

  start(node: string): Promise<void> {
    return this.history.nemesis('start', node, () => this.topology.node(node).process.start());
  }

  pause(node: string): Promise<void> {
    return this.history.nemesis('stop', node, async () => this.topology.node(node).process.signal('SIGSTOP'));
  }

  resume(node: string): Promise<void> {
    return this.history.nemesis('cont', node, async () => this.topology.node(node).process.signal('SIGCONT'));
  }

  /** Takes a host (a node or a NATS server) off the network. */
  isolate(host: string): Promise<void> {
    this.netFaults = true;
    return this.history.nemesis('isolate', host, () => this.topology.net.isolate(host));
  }

  /** No packet passes between a host of `a` and a host of `b`. */
  partition(a: readonly string[], b: readonly string[]): Promise<void> {
    this.netFaults = true;
    return this.history.nemesis('partition', `${a.join(',')}|${b.join(',')}`, () => this.topology.net.partition(a, b));
  }

  bandwidth(host: string, rate: string): Promise<void> {
    this.netFaults = true;
    return this.history.nemesis('bandwidth', `${host} ${rate}`, () => this.topology.net.limitBandwidth(host, rate));
  }

  /** Sets the faults of the proxy between `node` and its NATS server ({} clears them). */
  proxy(node: string, faults: Faults, options: { dropConnections?: boolean } = {}): Promise<void> {
    this.faulted.add(node);
    return this.history.nemesis('proxy', `${node} ${JSON.stringify(faults)}`, async () => {
      const p = this.topology.node(node).proxy;
      p.set(faults);
      if (options.dropConnections) p.dropConnections();
    });
  }

  /** Fills the node's (tmpfs) data dir until a write gets ENOSPC. */
  fillDisk(node: string): Promise<void> {
    this.filled.add(node);
    return this.history.nemesis('disk-full', node, async () => {
      const dir = this.topology.node(node).dataDir;
      const fs = await statfs(dir);
      if (fs.bavail * fs.bsize > 1024 ** 3) throw new Error(`${dir} has more than 1 GiB free: not the small disk this fault is for`);
      const file = await open(join(dir, FILLER), 'a');
      const chunk = Buffer.alloc(1024 * 1024);
      try {
        for (let size = chunk.length; size >= 512; ) {
          try {
            await file.write(chunk, 0, size);
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
            size = Math.floor(size / 2);
          }
        }
      } finally {
        await file.close();
      }
    });
  }

  freeDisk(node: string): Promise<void> {
    this.filled.delete(node);
    return this.history.nemesis('disk-full', `${node} freed`, () => rm(join(this.topology.node(node).dataDir, FILLER), { force: true }));
  }

  /** Restarts a NATS server on its store: gracefully (SIGTERM) or with kill -9. */
  restartNats(server: string, how: 'graceful' | 'kill'): Promise<void> {
    const proc = this.topology.server(server).process;
    return this.history.nemesis(how === 'kill' ? 'nats-kill' : 'nats-restart', server, async () => {
      if (how === 'kill') await proc.kill();
      else await proc.stop();
      await proc.start();
    });
  }

  /** Moves a node's wall clock by `seconds` (libfaketime reads the offset within a second). */
  clockJump(node: string, seconds: number): Promise<void> {
    const n = this.topology.node(node);
    const file = n.clockFile;
    if (file === undefined) throw new Error(`${node} does not run under libfaketime`);
    const offset = (this.clockOffsets.get(node) ?? 0) + seconds;
    this.clockOffsets.set(node, offset);
    return this.history.nemesis('clock-jump', `${node} ${seconds > 0 ? '+' : ''}${seconds} s (offset ${offset} s)`, () =>
      writeFile(file, `${offset >= 0 ? '+' : ''}${offset}\n`),
    );
  }

  /** Copies a stopped node's data dir to `to` (an offline backup). */
  backup(node: string, to: string): Promise<void> {
    const n = this.topology.node(node);
    return this.history.nemesis('backup', `${node} -> ${to}`, async () => {
      if (n.process.running) throw new Error(`stop ${node} before copying its data dir`);
      await cp(n.dataDir, to, { recursive: true, preserveTimestamps: true });
    });
  }

  /** Wipes a stopped node's data dir and puts the copy at `from` in its place. */
  restore(node: string, from: string): Promise<void> {
    const n = this.topology.node(node);
    return this.history.nemesis('restore', `${node} <- ${from}`, async () => {
      if (n.process.running) throw new Error(`stop ${node} before restoring its data dir`);
      // Empty the directory rather than remove it: it may be a mount point.
      for (const entry of await readdir(n.dataDir)) await rm(join(n.dataDir, entry), { recursive: true, force: true });
      await cp(from, n.dataDir, { recursive: true, preserveTimestamps: true });
    });
  }

  /** Undoes every fault still in place, as one `heal` (nothing is recorded when nothing is broken). */
  async healAll(): Promise<void> {
    const t = this.topology;
    const broken =
      this.netFaults ||
      this.faulted.size > 0 ||
      this.filled.size > 0 ||
      [...this.clockOffsets.values()].some((o) => o !== 0) ||
      t.servers.some((s) => !s.process.running) ||
      t.nodes.some((n) => !n.process.running || n.process.isPaused);
    if (!broken) return;
    await this.history.nemesis('heal', null, async () => {
      if (this.netFaults) {
        await t.net.heal();
        this.netFaults = false;
      }
      for (const id of this.faulted) t.node(id).proxy.set({});
      this.faulted.clear();
      for (const id of [...this.filled]) {
        await rm(join(t.node(id).dataDir, FILLER), { force: true });
        this.filled.delete(id);
      }
      for (const [id, offset] of this.clockOffsets) {
        const file = t.node(id).clockFile;
        if (offset !== 0 && file !== undefined) await writeFile(file, '+0\n');
      }
      this.clockOffsets.clear();
      await Promise.all(t.servers.filter((s) => !s.process.running).map((s) => s.process.start()));
      for (const n of t.nodes) if (n.process.isPaused) n.process.signal('SIGCONT');
      await Promise.all(t.nodes.filter((n) => !n.process.running).map((n) => n.process.start()));
    });
  }
}
