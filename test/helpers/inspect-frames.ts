/** Watches a cluster's nodes like an inspector: asks them to publish, and collects their frames' events. */
import type { NatsConnection } from '@nats-io/transport-node';
import { decodeFrame, encodeJson, isFrameSubject, type InspectEvent } from '../../src/inspect/protocol.ts';
import { clusterName } from '../../src/names.ts';
import { subjects } from '../../src/protocol/subjects.ts';

/** The events of every frame from now on (the array fills as they come). One watch notice is sent. */
export function watchEvents(nc: NatsConnection, cluster: string): InspectEvent[] {
  const subs = subjects(clusterName(cluster));
  const events: InspectEvent[] = [];
  nc.subscribe(subs.allInspect, {
    callback: (err, msg) => {
      if (!err && isFrameSubject(subs, msg.subject)) events.push(...decodeFrame(msg.data).events);
    },
  });
  nc.publish(subs.inspectWatch, encodeJson({ watcher: 'test' }));
  return events;
}
