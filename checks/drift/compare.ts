/**
 * Whether a property changed: the state's outputs against what the vendor reports after the refresh.
 */
import { isDeepStrictEqual } from 'util';
import { formatValue, type Outputs } from '../../providers/resource-kind';
import { isEngineKey } from '../../providers/resource-inputs';
import type { PropertyDrift } from './types';

/** How a value is printed; it lives beside the descriptors, whose drift sentences print values too. */
export { formatValue };

/** Absent, null, "", [] and {} all mean "nothing set"; string lists compare as sets (LiveKit may reorder). */
export function normalized(value: unknown): unknown {
  if (value === undefined || value === null || value === '') return undefined;
  if (Array.isArray(value)) {
    if (value.length === 0) return undefined;
    const items = value.map(normalized);
    return items.every((v) => typeof v === 'string') ? [...(items as string[])].sort() : items;
  }
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .map(([k, v]) => [k, normalized(v)] as const)
      .filter(([, v]) => v !== undefined);
    return entries.length === 0 ? undefined : Object.fromEntries(entries.sort(([a], [b]) => a.localeCompare(b)));
  }
  return value;
}

/** Output properties whose value differs after the read, engine keys and the kind's `bookkeeping` left out. */
export function changedProperties(
  before: Outputs,
  after: Outputs,
  bookkeeping: readonly string[] = [],
): PropertyDrift[] {
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])]
    .filter((k) => !isEngineKey(k) && !bookkeeping.includes(k))
    .sort();
  return keys
    .filter((k) => !isDeepStrictEqual(normalized(before[k]), normalized(after[k])))
    .map((property) => ({ property, before: before[property], after: after[property] }));
}
