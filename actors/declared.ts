/**
 * Typed placeholders for effects: a machine names what it needs with its input and output types, and
 * the composition root in src/ provides the implementation with `machine.provide(...)`. A forgotten
 * effect fails loudly instead of hanging.
 */
import { fromPromise } from 'xstate';

export function declared<TOutput, TInput>(name: string) {
  return fromPromise<TOutput, TInput>(() => Promise.reject(new Error(`effect '${name}' was not provided`)));
}

/** A placeholder for an action implemented in src/. */
export function declaredAction(name: string) {
  return (): void => {
    throw new Error(`action '${name}' was not provided`);
  };
}
