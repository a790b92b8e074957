/**
 * Hosts on one machine: each host is a network namespace with one veth into a private bridge made
 * here, and its own address on the bridge's /24. The root namespace keeps the bridge's own address
 * (.1): the harness (workload client, fault proxies) reaches every host through it, like a client
 * outside the cluster's network.
 *
 * Faults at the IP level are iptables rules inside a host's namespace (a partition drops packets
 * both ways, so established TCP connections stall rather than reset, as on a real network) and
 * `tc tbf` on both ends of a host's veth (bandwidth). Every name starts with the net's prefix, which
 * is random per run, and `teardown()` removes everything (also from a process `exit` hook), killing
 * whatever still runs inside the namespaces: they only ever hold processes this harness started.
 */
import { execFile, execFileSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Every namespace and link of this harness starts with it (and a random part per run). */
export const PREFIX = 'whc';

export interface Host {
  readonly name: string;
  /** The network namespace, `<prefix><name>`. */
  readonly ns: string;
  readonly ip: string;
  /** The veth end in the root namespace (on the bridge) and the one inside the host. */
  readonly outer: string;
  readonly inner: string;
}

async function sh(cmd: string, args: readonly string[]): Promise<void> {
  try {
    await run(cmd, args);
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new Error(`${cmd} ${args.join(' ')} failed: ${stderr.trim() || (err as Error).message}`);
  }
}

/** Whether this process may create network namespaces (root, or CAP_SYS_ADMIN and CAP_NET_ADMIN). */
export async function namespacesAvailable(): Promise<{ ok: true } | { ok: false; why: string }> {
  const probe = `whprobe${randomInt(1e9)}`;
  try {
    await sh('ip', ['netns', 'add', probe]);
  } catch (err) {
    return { ok: false, why: (err as Error).message };
  }
  await sh('ip', ['netns', 'del', probe]).catch(() => undefined);
  return { ok: true };
}

export class Net {
  readonly prefix: string;
  readonly bridge: string;
  /** The bridge's address in the root namespace. */
  readonly gateway: string;
  private readonly subnet: string;
  private readonly hosts = new Map<string, Host>();
  /** Hosts with partition rules, so heal knows where to flush. */
  private readonly cut = new Set<string>();
  private readonly shaped = new Set<string>();
  private tornDown = false;
  private readonly exitHook = () => this.teardownSync();

  private constructor(prefix: string, subnet: string) {
    this.prefix = prefix;
    this.bridge = `${prefix}br`;
    this.subnet = subnet;
    this.gateway = `${subnet}.1`;
    process.once('exit', this.exitHook);
  }

  /** A bridge on a random 10.x.y.0/24 and, per name, a namespace at .11, .12, ... */
  static async create(names: readonly string[]): Promise<Net> {
    // Interface names are at most 15 characters: prefix (7) + host name (<= 5) + 'o'/'i'.
    const prefix = `${PREFIX}${randomInt(36 ** 4).toString(36).padStart(4, '0')}`;
    const net = new Net(prefix, `10.${randomInt(200, 250)}.${randomInt(256)}`);
    try {
      await sh('ip', ['link', 'add', net.bridge, 'type', 'bridge']);
      await sh('ip', ['addr', 'add', `${net.gateway}/24`, 'dev', net.bridge]);
      await sh('ip', ['link', 'set', net.bridge, 'up']);
      let octet = 11;
      for (const name of names) await net.addHost(name, `${net.subnet}.${octet++}`);
    } catch (err) {
      await net.teardown();
      throw err;
    }
    return net;
  }

  host(name: string): Host {
    const h = this.hosts.get(name);
    if (h === undefined) throw new Error(`no host ${name} (hosts: ${[...this.hosts.keys()].join(', ')})`);
    return h;
  }

  private async addHost(name: string, ip: string): Promise<void> {
    if (name.length > 5) throw new Error(`host name ${name} is longer than 5 characters`);
    const host: Host = { name, ns: `${this.prefix}${name}`, ip, outer: `${this.prefix}${name}o`, inner: `${this.prefix}${name}i` };
    this.hosts.set(name, host);
    await sh('ip', ['netns', 'add', host.ns]);
    await sh('ip', ['link', 'add', host.outer, 'type', 'veth', 'peer', 'name', host.inner]);
    await sh('ip', ['link', 'set', host.outer, 'master', this.bridge, 'up']);
    await sh('ip', ['link', 'set', host.inner, 'netns', host.ns]);
    await sh('ip', ['-n', host.ns, 'addr', 'add', `${ip}/24`, 'dev', host.inner]);
    await sh('ip', ['-n', host.ns, 'link', 'set', host.inner, 'up']);
    await sh('ip', ['-n', host.ns, 'link', 'set', 'lo', 'up']);
  }

  /** Drops every packet between each host of `a` and each host of `b`, both ways. */
  async partition(a: readonly string[], b: readonly string[]): Promise<void> {
    for (const x of a) {
      for (const y of b) {
        await this.drop(x, this.host(y).ip);
        await this.drop(y, this.host(x).ip);
      }
    }
  }

  /** Drops every packet of `name` except on its loopback: the host is off the network (the harness included). */
  async isolate(name: string): Promise<void> {
    const h = this.host(name);
    await sh('ip', ['netns', 'exec', h.ns, 'iptables', '-A', 'INPUT', '!', '-i', 'lo', '-j', 'DROP']);
    await sh('ip', ['netns', 'exec', h.ns, 'iptables', '-A', 'OUTPUT', '!', '-o', 'lo', '-j', 'DROP']);
    this.cut.add(name);
  }

  private async drop(on: string, peer: string): Promise<void> {
    const h = this.host(on);
    await sh('ip', ['netns', 'exec', h.ns, 'iptables', '-A', 'INPUT', '-s', peer, '-j', 'DROP']);
    await sh('ip', ['netns', 'exec', h.ns, 'iptables', '-A', 'OUTPUT', '-d', peer, '-j', 'DROP']);
    this.cut.add(on);
  }

  /** Limits a host's traffic to `rate` (tc syntax, e.g. `1mbit`) each way with a token bucket. */
  async limitBandwidth(name: string, rate: string): Promise<void> {
    const h = this.host(name);
    const tbf = ['qdisc', 'replace', 'dev'];
    const params = ['root', 'tbf', 'rate', rate, 'burst', '32kbit', 'latency', '200ms'];
    await sh('tc', [...tbf, h.outer, ...params]);
    await sh('ip', ['netns', 'exec', h.ns, 'tc', ...tbf, h.inner, ...params]);
    this.shaped.add(name);
  }

  /** Removes every partition rule and bandwidth limit. */
  async heal(): Promise<void> {
    for (const name of this.cut) {
      await sh('ip', ['netns', 'exec', this.host(name).ns, 'iptables', '-F']);
    }
    this.cut.clear();
    for (const name of this.shaped) {
      const h = this.host(name);
      await sh('tc', ['qdisc', 'del', 'dev', h.outer, 'root']).catch(() => undefined);
      await sh('ip', ['netns', 'exec', h.ns, 'tc', 'qdisc', 'del', 'dev', h.inner, 'root']).catch(() => undefined);
    }
    this.shaped.clear();
  }

  /** Kills what still runs in the namespaces, deletes them and the bridge. Idempotent. */
  async teardown(): Promise<void> {
    this.teardownSync();
  }

  /** Synchronous, so that it also runs from a process `exit` hook. */
  private teardownSync(): void {
    if (this.tornDown) return;
    this.tornDown = true;
    process.removeListener('exit', this.exitHook);
    for (const h of this.hosts.values()) {
      for (const pid of pidsIn(h.ns)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      quiet('ip', ['netns', 'del', h.ns]);
      // Deleting the namespace deletes its veth end and so the pair; this covers a half-made host.
      quiet('ip', ['link', 'del', h.outer]);
    }
    quiet('ip', ['link', 'del', this.bridge]);
  }
}

function pidsIn(ns: string): number[] {
  try {
    return execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .split('\n')
      .map(Number)
      .filter((n) => Number.isInteger(n) && n > 0);
  } catch {
    return [];
  }
}

function quiet(cmd: string, args: readonly string[]): void {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
  } catch {
    // nothing to remove
  }
}

/**
 * Removes what an earlier run left behind when it died without its teardown (SIGKILL): namespaces
 * and bridges whose names start with {@link PREFIX}. Only for when no other run is under way.
 */
export function sweepLeftovers(prefix: string = PREFIX): string[] {
  const removed: string[] = [];
  const names = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n.startsWith(prefix));
  for (const ns of names) {
    for (const pid of pidsIn(ns)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    quiet('ip', ['netns', 'del', ns]);
    removed.push(ns);
  }
  const links = execFileSync('ip', ['-o', 'link', 'show', 'type', 'bridge'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => /^\d+:\s+([^:@]+)/.exec(l)?.[1] ?? '')
    .filter((n) => n.startsWith(prefix));
  for (const link of links) {
    quiet('ip', ['link', 'del', link]);
    removed.push(link);
  }
  return removed;
}
