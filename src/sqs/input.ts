/**
 * Reading an action's input, whichever protocol it came by. The JSON protocol gives numbers and
 * booleans typed; the query protocol gives every value as text (query-protocol.ts builds the same
 * shape): the readers take both, and answer SQS's MissingParameter or InvalidParameterValue.
 */
import { SqsError } from './errors.ts';

export type Input = Record<string, unknown>;

export function optionalString(input: Input, name: string): string | undefined {
  const value = input[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new SqsError('InvalidParameterValue', `${name} must be a string`);
  return value;
}

export function requiredString(input: Input, name: string): string {
  const value = optionalString(input, name);
  if (value === undefined) throw new SqsError('MissingParameter', `The request must contain the parameter ${name}.`);
  return value;
}

export function optionalInt(input: Input, name: string, min: number, max: number): number | undefined {
  const value = input[name];
  if (value === undefined || value === null) return undefined;
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new SqsError('InvalidParameterValue', `Value ${String(value).slice(0, 40)} for parameter ${name} is invalid. Reason: must be between ${min} and ${max}.`);
  }
  return n;
}

export function requiredInt(input: Input, name: string, min: number, max: number): number {
  const value = optionalInt(input, name, min, max);
  if (value === undefined) throw new SqsError('MissingParameter', `The request must contain the parameter ${name}.`);
  return value;
}

export function stringList(input: Input, name: string): string[] {
  const value = input[name];
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    throw new SqsError('InvalidParameterValue', `${name} must be a list of strings`);
  }
  return value as string[];
}

export function stringMap(input: Input, name: string): Record<string, string> {
  const value = input[name];
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value) || !Object.values(value).every((v) => typeof v === 'string')) {
    throw new SqsError('InvalidParameterValue', `${name} must be a map of strings`);
  }
  return { ...(value as Record<string, string>) };
}

export function objectMap(input: Input, name: string): Record<string, Input> {
  const value = input[name];
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value) || !Object.values(value).every(isInput)) {
    throw new SqsError('InvalidParameterValue', `${name} must be a map of structures`);
  }
  return value as Record<string, Input>;
}

export function objectList(input: Input, name: string): Input[] {
  const value = input[name];
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || !value.every(isInput)) throw new SqsError('InvalidParameterValue', `${name} must be a list of structures`);
  return value as Input[];
}

function isInput(value: unknown): value is Input {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
