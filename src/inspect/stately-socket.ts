/**
 * The WebSocket that carries inspection events to Stately's inspector: an adapter for
 * `@statelyai/inspect`'s createInspector, in place of its own WebSocketAdapter. That one retries a
 * failed connection from a timer its `stop` cannot cancel (the retry calls a closure, not the
 * method), so a forwarder that never reached its address kept the process alive after stopping.
 * Here `stop` ends the socket and the retry timer both, and nothing starts again.
 *
 * While not connected, events wait in a bounded queue (the oldest go first) and are sent on connect.
 */
import { createRequire } from 'node:module';
import type { StatelyInspectionEvent } from '@statelyai/inspect';

/** The part of the `ws` package's WebSocket used here. */
interface Socket {
  onopen: (() => void) | null;
  onclose: (() => void) | null;
  onerror: (() => void) | null;
  onmessage: (() => void) | null;
  send(data: string): void;
  terminate(): void;
}
type SocketClass = new (url: string) => Socket;

// `ws` is @statelyai/inspect's own dependency (its adapter uses it): resolved from that package, so
// it is the copy installed with it, not a dependency of Wharf's.
const requireFromStately = createRequire(createRequire(import.meta.url).resolve('@statelyai/inspect'));
const WebSocketClass = (requireFromStately('ws') as { WebSocket: SocketClass }).WebSocket;

export interface StatelySocketOptions {
  /** Wait before connecting again after a failed or closed connection, ms. @default 5000 (Stately's) */
  retryMs?: number;
  /** Events kept while not connected. @default 200 (Stately's) */
  maxDeferred?: number;
}

export class StatelySocket {
  private readonly url: string;
  private readonly retryMs: number;
  private readonly maxDeferred: number;
  private socket: Socket | undefined;
  private open = false;
  private stopped = true;
  private retry: NodeJS.Timeout | undefined;
  private readonly deferred: StatelyInspectionEvent[] = [];
  /** Connections attempted so far (for tests and logs). */
  attempts = 0;

  constructor(url: string, options: StatelySocketOptions = {}) {
    this.url = url;
    this.retryMs = options.retryMs ?? 5000;
    this.maxDeferred = options.maxDeferred ?? 200;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.connect();
  }

  /** Closes the socket and cancels any retry: nothing of this adapter is left running. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.retry);
    this.retry = undefined;
    const socket = this.socket;
    this.socket = undefined;
    this.open = false;
    // terminate, not close: a socket still connecting is dropped at once instead of waiting out a
    // closing handshake with a server that may never answer.
    socket?.terminate();
  }

  /** Whether a socket or a retry timer is still alive. */
  get idle(): boolean {
    return this.socket === undefined && this.retry === undefined;
  }

  send(event: StatelyInspectionEvent): void {
    if (this.open && this.socket !== undefined) {
      this.socket.send(JSON.stringify(event));
      return;
    }
    this.deferred.push(event);
    if (this.deferred.length > this.maxDeferred) this.deferred.shift();
  }

  private connect(): void {
    this.retry = undefined;
    if (this.stopped) return;
    this.attempts++;
    const socket = new WebSocketClass(this.url);
    this.socket = socket;
    socket.onmessage = () => undefined;
    // An error is always followed by a close, which decides about retrying; a listener must exist
    // or `ws` would throw the error.
    socket.onerror = () => undefined;
    socket.onopen = () => {
      this.open = true;
      for (const event of this.deferred.splice(0)) socket.send(JSON.stringify(event));
    };
    socket.onclose = () => {
      if (this.socket !== socket) return; // stopped, or replaced
      this.socket = undefined;
      this.open = false;
      if (!this.stopped) this.retry = setTimeout(() => this.connect(), this.retryMs);
    };
  }
}
