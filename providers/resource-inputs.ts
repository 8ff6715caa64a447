/**
 * How every dynamic resource reads and compares its inputs: Pulumi's engine keys and preview unknowns, type
 * checks with a reason naming the field, unknown input keys, field-by-field comparison (values, sets, maps,
 * flags), adoption mismatches, and the argument type of a resource class. Vendor-free: the rules of one vendor
 * (e.g. LiveKit's locking in providers/livekit-sip-object.ts) build on these.
 */
import * as pulumi from '@pulumi/pulumi';
import type { RuleFailure } from '../common/phone-numbers';
import { AdoptionMismatchError } from './refusals';

/**
 * How an input is compared: as a value, as a set of strings (order does not matter), as a string map, or as a
 * flag (absent = false).
 */
export type FieldKind = 'value' | 'set' | 'map' | 'flag';

/** Pulumi adds its own keys (e.g. `__provider`) to a dynamic resource's inputs. */
export function isEngineKey(key: string): boolean {
  return key.startsWith('__');
}

/**
 * During preview an input that depends on another resource's output (a trunk id, a number just ordered) arrives
 * as Pulumi's unknown sentinel, alone or inside a list or map. Such values are checked when they are known.
 */
export function containsUnknown(value: unknown): boolean {
  if (value === pulumi.runtime.unknownValue) return true;
  if (Array.isArray(value)) return value.some(containsUnknown);
  if (value && typeof value === 'object') return Object.values(value).some(containsUnknown);
  return false;
}

/** The input keys a program actually set (engine keys and absent values left out). */
export function givenKeys(news: Record<string, unknown>): string[] {
  return Object.keys(news).filter((key) => !isEngineKey(key) && news[key] !== undefined);
}

function sortedCopy(values: unknown): unknown {
  return Array.isArray(values) ? [...values].map(String).sort() : values;
}

function canonicalMap(value: unknown): string {
  const map = (value ?? {}) as Record<string, unknown>;
  return JSON.stringify(
    Object.keys(map)
      .sort()
      .map((k) => [k, map[k]]),
  );
}

export function sameField(kind: FieldKind, a: unknown, b: unknown): boolean {
  if (kind === 'set') return JSON.stringify(sortedCopy(a ?? [])) === JSON.stringify(sortedCopy(b ?? []));
  if (kind === 'map') return canonicalMap(a) === canonicalMap(b);
  if (kind === 'flag') return Boolean(a) === Boolean(b);
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Input fields whose value differs between `olds` and `news`.
 * With `onlyGiven`, fields the new inputs leave out are not compared (a locked resource's outputs carry every live
 * field, its inputs only what the program states); flags and adoptId are always compared.
 */
export function changedInputs(
  fields: Record<string, FieldKind>,
  olds: Record<string, unknown>,
  news: Record<string, unknown>,
  onlyGiven = false,
): string[] {
  return Object.entries(fields)
    .filter(([key, kind]) => !(onlyGiven && news[key] === undefined && kind !== 'flag' && key !== 'adoptId'))
    .filter(([key, kind]) => !sameField(kind, olds[key], news[key]))
    .map(([key]) => key);
}

/** Failures for input keys the resource does not know (a typo must not be silently ignored). */
export function unknownInputFailures(news: Record<string, unknown>, known: string[]): RuleFailure[] {
  return givenKeys(news)
    .filter((key) => !known.includes(key))
    .map((property) => ({ property, reason: `unknown input ${property}; known inputs: ${known.join(', ')}` }));
}

/**
 * A type failure naming the field, or undefined when the value has the type
 * (or is absent and optional, or unknown).
 */
export function checkType(
  property: string,
  value: unknown,
  type: 'string' | 'boolean' | 'string[]' | 'map',
  required: boolean,
): RuleFailure | undefined {
  if (value === undefined) return required ? { property, reason: `${property} is required` } : undefined;
  if (containsUnknown(value)) return undefined;
  const ok =
    type === 'string[]'
      ? Array.isArray(value) && value.every((v) => typeof v === 'string')
      : type === 'map'
        ? typeof value === 'object' &&
          value !== null &&
          !Array.isArray(value) &&
          Object.values(value).every((v) => typeof v === 'string')
        : typeof value === type;
  if (ok) return undefined;
  const wanted = {
    string: 'a string',
    boolean: 'a boolean',
    'string[]': 'a list of strings',
    map: 'a map of string to string',
  }[type];
  return { property, reason: `${property} must be ${wanted}, got ${JSON.stringify(value)}` };
}

/**
 * Mismatches between an adopted object (`id`) and the program, as the refusal naming them field by field with both
 * values (`holder` is who has the live object, e.g. "LiveKit"). Flags and adoptId are the program's own, so they are
 * not compared.
 */
export function adoptionMismatch(
  what: string,
  holder: string,
  id: string,
  fields: Record<string, FieldKind>,
  live: Record<string, unknown>,
  wanted: Record<string, unknown>,
): AdoptionMismatchError | undefined {
  const differing = changedInputs(fields, live, wanted, true).filter((k) => fields[k] !== 'flag' && k !== 'adoptId');
  if (differing.length === 0) return undefined;
  const differences = differing.map((field) => ({ field, holderHas: live[field], programSays: wanted[field] }));
  return new AdoptionMismatchError({ what, holder, id, differences });
}

/** Resource arguments: every input, list entry and map value may be another resource's output (e.g. a trunk id). */
export type ResourceArgs<T> = {
  [K in keyof T]: NonNullable<T[K]> extends (infer E)[]
    ? pulumi.Input<pulumi.Input<E>[]> | undefined
    : NonNullable<T[K]> extends Record<string, infer V>
      ? pulumi.Input<Record<string, pulumi.Input<V>>> | undefined
      : pulumi.Input<T[K]>;
};
