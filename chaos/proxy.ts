/**
 * A fault-injecting TCP proxy: the kernel here has no netem, so delay, jitter, loss and stalls are
 * made in user space, between a broker node and its NATS server. Each connection accepted on
 * `listen` is piped to `upstream`, both directions through a scheduler that applies the current
 * faults to every chunk:
 *
 * - delay + jitter: a chunk leaves `delayMs + random·jitterMs` after it arrived, but never before
 *   the chunk ahead of it (TCP is a byte stream: reordering would corrupt it);
 * - bandwidth: a chunk also waits until the direction's byte budget allows it;
 * - stall: nothing leaves while stalled; the data waits (as behind a dead link with the socket
 *   still open, so only the protocol's own pings notice);
 * - loss: a chunk is "lost" with probability `lossRate`; a byte stream cannot lose bytes and stay
 *   readable, so a loss closes the connection (both sides, reset), which is what TCP does in the
 *   end when a path loses everything.
 *
 * Faults apply to connections already open and to new ones alike; `set({})` clears them.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface Faults {
  delayMs?: number;
  jitterMs?: number;
  /** Probability, per chunk, that the connection is cut. */
  lossRate?: number;
  stall?: boolean;
  /** Bytes per second, each direction, each connection. */
  bytesPerSecond?: number;
}

export interface ProxyOptions {
  listenHost: string;
  upstreamHost: string;
  upstreamPort: number;
  /** Random numbers in [0, 1): seeded by the run. */
  random: () => number;
}

/** One direction of one connection: chunks with the time each may leave. */
class Pipe {
  private queue: Array<{ chunk: Buffer; at: number }> = [];
  private last = 0;
  private budgetAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly to: Socket;
  private readonly proxy: FaultProxy;
  private readonly cut: () => void;

  constructor(to: Socket, proxy: FaultProxy, cut: () => void) {
    this.to = to;
    this.proxy = proxy;
    this.cut = cut;
  }

  push(chunk: Buffer): void {
    const f = this.proxy.faults;
    if ((f.lossRate ?? 0) > 0 && this.proxy.random() < (f.lossRate ?? 0)) {
      this.cut();
      return;
    }
    const now = Date.now();
    let at = Math.max(now + (f.delayMs ?? 0) + this.proxy.random() * (f.jitterMs ?? 0), this.last);
    if (f.bytesPerSecond !== undefined && f.bytesPerSecond > 0) {
      this.budgetAt = Math.max(this.budgetAt, now) + (chunk.length * 1000) / f.bytesPerSecond;
      at = Math.max(at, this.budgetAt);
    }
    this.last = at;
    this.queue.push({ chunk, at });
    this.pump();
  }

  /** Sends what is due; re-arms a timer for the next chunk (or a poll while stalled). */
  pump(): void {
    if (this.timer !== undefined) return;
    while (this.queue.length > 0 && !this.proxy.faults.stall) {
      const head = this.queue[0];
      if (head === undefined || head.at > Date.now()) break;
      this.queue.shift();
      if (!this.to.destroyed) this.to.write(head.chunk);
    }
    if (this.queue.length === 0) return;
    const head = this.queue[0];
    const wait = this.proxy.faults.stall || head === undefined ? 50 : Math.max(1, head.at - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.pump();
    }, wait);
  }

  close(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.queue = [];
  }
}

export class FaultProxy {
  faults: Faults = {};
  readonly random: () => number;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private port = 0;
  private readonly options: ProxyOptions;

  private constructor(options: ProxyOptions) {
    this.options = options;
    this.random = options.random;
    this.server = createServer((client) => this.accept(client));
  }

  static async start(options: ProxyOptions): Promise<FaultProxy> {
    const proxy = new FaultProxy(options);
    await new Promise<void>((resolve, reject) => {
      proxy.server.once('error', reject);
      proxy.server.listen(0, options.listenHost, () => resolve());
    });
    const address = proxy.server.address();
    if (address === null || typeof address === 'string') throw new Error('proxy has no port');
    proxy.port = address.port;
    return proxy;
  }

  get url(): string {
    return `nats://${this.options.listenHost}:${this.port}`;
  }

  set(faults: Faults): void {
    this.faults = { ...faults };
  }

  private accept(client: Socket): void {
    const upstream = connect(this.options.upstreamPort, this.options.upstreamHost);
    this.sockets.add(client);
    this.sockets.add(upstream);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    const cut = () => {
      client.resetAndDestroy();
      upstream.resetAndDestroy();
    };
    const up = new Pipe(upstream, this, cut);
    const down = new Pipe(client, this, cut);
    client.on('data', (chunk: Buffer) => up.push(chunk));
    upstream.on('data', (chunk: Buffer) => down.push(chunk));
    const closed = () => {
      up.close();
      down.close();
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on('close', closed);
    upstream.on('close', closed);
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
  }

  /** Cuts every open connection (reset) without changing the faults. */
  dropConnections(): void {
    for (const s of this.sockets) s.resetAndDestroy();
  }

  async close(): Promise<void> {
    this.dropConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
