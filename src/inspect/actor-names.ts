/**
 * Names of actors as inspectors show them. An actor with a system id (`node:<id>`, `queue:<name>:<incarnation>`,
 * `replica:<queue>:<incarnation>:<partition>`, `manager:<id>`, `keeper:<id>`) goes by it. A partition actor has
 * none (it is its replica's invoked child, started anew at each promotion, and a system id would
 * have to be unique across those), so it is named after its replica and its role:
 * `partition:<queue>/<partition>:primary`. Any other actor goes by its session id.
 */
import type { AnyActorRef } from 'xstate';

const REPLICA = /^replica:(.+):(\d+):(\d+)$/;

interface Named {
  sessionId: string;
  id?: string | undefined;
  systemId?: string | undefined;
  _parent?: AnyActorRef | undefined;
}

export function actorName(ref: Named): string {
  if (ref.systemId !== undefined) return ref.systemId;
  const parent = ref._parent as Named | undefined;
  const replica = parent?.systemId === undefined ? null : REPLICA.exec(parent.systemId);
  // The replica invokes its partition actor with the id `partition` (actors/replica/replica.machine.ts).
  if (replica !== null && ref.id === 'partition') return `partition:${replica[1]}/${replica[3]}:primary`;
  return ref.sessionId;
}
