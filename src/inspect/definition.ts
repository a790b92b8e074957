/**
 * A machine's statechart as plain JSON for drawing: nested states, and each state's transitions by
 * event type with their targets and guards. Read from the machine's own StateNode tree, so it is the
 * chart the actors run, never a copy that drifts.
 */
import type { AnyStateMachine } from 'xstate';
import type { StateNodeDefinition, TransitionDefinition } from './protocol.ts';

type AnyStateNode = AnyStateMachine['root'];

export function machineDefinition(machine: AnyStateMachine): StateNodeDefinition {
  return nodeDefinition(machine.root);
}

function nodeDefinition(node: AnyStateNode): StateNodeDefinition {
  const states: { [key: string]: StateNodeDefinition } = {};
  for (const [key, child] of Object.entries(node.states)) states[key] = nodeDefinition(child as AnyStateNode);
  const transitions: TransitionDefinition[] = [];
  for (const [event, list] of node.transitions) {
    for (const t of list) transitions.push(transition(event, t.target, t.guard, t.reenter));
  }
  for (const t of node.always ?? []) transitions.push(transition('', t.target, t.guard, t.reenter));
  const initial = node.type === 'compound' ? node.initial.target[0]?.key : undefined;
  return {
    key: node.key,
    id: node.id,
    type: node.type,
    ...(initial !== undefined ? { initial } : {}),
    states,
    transitions,
    invoke: node.invoke.map((i) => (typeof i.src === 'string' ? i.src : i.id)),
  };
}

function transition(event: string, targets: ReadonlyArray<AnyStateNode> | undefined, guard: unknown, reenter: boolean): TransitionDefinition {
  const name = guardName(guard);
  return {
    event,
    targets: (targets ?? []).map((t) => t.id),
    ...(name !== undefined ? { guard: name } : {}),
    ...(reenter ? { reenter } : {}),
  };
}

function guardName(guard: unknown): string | undefined {
  if (guard === undefined) return undefined;
  if (typeof guard === 'string') return guard;
  if (typeof guard === 'function') return guard.name || 'guard';
  if (typeof guard === 'object' && guard !== null && typeof (guard as { type?: unknown }).type === 'string') return (guard as { type: string }).type;
  return 'guard';
}
