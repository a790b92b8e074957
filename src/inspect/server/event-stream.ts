/**
 * The live stream to the browsers (server-sent events) and the watch that makes nodes publish
 * their actors' inspection events: the watch notice is repeated only while at least one browser
 * is connected, so the nodes pay for inspection only while someone looks (src/inspect/protocol.ts).
 */
import type { ServerResponse } from 'node:http';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { decodeFrame, encodeJson, isFrameSubject, WATCH_INTERVAL_MS } from '../protocol.ts';
import type { Subjects } from '../../protocol/subjects.ts';

/** A comment line keeps idle connections open through proxies and lets the server see dead ones. */
const KEEPALIVE_MS = 15_000;

export interface EventStreamOptions {
  nc: NatsConnection;
  subjects: Subjects;
  /** Names this inspector in its watch notices. */
  watcher: string;
  log: Logger;
  /** Called when the first browser connects and when the last one leaves. */
  onWatching?: (watching: boolean) => void;
}

export class EventStream {
  private readonly clients = new Set<ServerResponse>();
  private readonly frames: Subscription;
  private watchTimer: NodeJS.Timeout | undefined;
  private keepalive: NodeJS.Timeout | undefined;
  private readonly options: EventStreamOptions;

  constructor(options: EventStreamOptions) {
    this.options = options;
    this.frames = options.nc.subscribe(options.subjects.allInspect, {
      callback: (err, msg) => {
        if (err || !isFrameSubject(options.subjects, msg.subject) || this.clients.size === 0) return;
        try {
          this.send('inspect', decodeFrame(msg.data));
        } catch (e) {
          options.log.debug({ err: e, subject: msg.subject }, 'inspection frame ignored');
        }
      },
    });
  }

  get watching(): boolean {
    return this.clients.size > 0;
  }

  /** Takes over an HTTP response as an event stream; `initial` events go to this client only. */
  attach(res: ServerResponse, initial: Array<{ event: string; data: unknown }>): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
    });
    res.write('retry: 1000\n\n');
    for (const { event, data } of initial) res.write(frame(event, data));
    this.clients.add(res);
    res.on('close', () => this.detach(res));
    if (this.clients.size === 1) this.startWatching();
  }

  /** Sends one event to every connected browser. */
  send(event: string, data: unknown): void {
    if (this.clients.size === 0) return;
    const text = frame(event, data);
    for (const res of this.clients) res.write(text);
  }

  close(): void {
    this.frames.unsubscribe();
    for (const res of this.clients) res.end();
    this.clients.clear();
    this.stopWatching();
  }

  private detach(res: ServerResponse): void {
    if (!this.clients.delete(res)) return;
    if (this.clients.size === 0) this.stopWatching();
  }

  private startWatching(): void {
    const { nc, subjects, watcher, log } = this.options;
    const publish = () => {
      if (nc.isClosed()) return;
      try {
        nc.publish(subjects.inspectWatch, encodeJson({ watcher }));
      } catch (err) {
        log.debug({ err }, 'watch notice not published');
      }
    };
    publish();
    this.watchTimer = setInterval(publish, WATCH_INTERVAL_MS);
    this.keepalive = setInterval(() => {
      for (const res of this.clients) res.write(': keepalive\n\n');
    }, KEEPALIVE_MS);
    this.options.onWatching?.(true);
  }

  private stopWatching(): void {
    const was = this.watchTimer !== undefined;
    clearInterval(this.watchTimer);
    clearInterval(this.keepalive);
    this.watchTimer = undefined;
    this.keepalive = undefined;
    if (was) this.options.onWatching?.(false);
  }
}

function frame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
