/**
 * Shared list reads for `read` while the engine refreshes: one list per vendor account (all numbers, all trunks,
 * all rules, all rows) serves every resource's read, instead of one GET per resource. A drift check of 200
 * churches then costs a handful of list calls, not 800 GETs.
 *
 * Only in the engine's provider process (the shim in dynamic-provider.ts switches it on there): that process lives
 * for one CLI command, whose refresh phase reads every resource before anything is written. Tests and tools that
 * call a provider's `read` directly keep one GET per read. A list is shared for SHARED_LIST_TTL_MS at most, and
 * every create, update or delete through the shim forgets all lists, so no read ever sees a list older than a
 * write of its own process.
 *
 * A list miss never means "gone": an object the list does not show (released, not listed yet, beyond a vendor's
 * page cap) is read on its own exactly as before, so `read` stays complete and correct.
 */
import { createHash } from 'crypto';

export const SHARED_LIST_TTL_MS = 30_000;

/** Globals, so the serialized shim (which may only use globals) can switch the mode and forget the lists. */
export const SHARED_READS_FLAG = '__churchwiseSharedReads';
export const SHARED_LISTS_STORE = '__churchwiseSharedLists';

interface Entry {
  at: number;
  items: Promise<Map<string, unknown>>;
}

function store(): Map<string, Entry> {
  const global = globalThis as Record<string, unknown>;
  return (global[SHARED_LISTS_STORE] ??= new Map<string, Entry>()) as Map<string, Entry>;
}

export function sharedReadsEnabled(): boolean {
  return (globalThis as Record<string, unknown>)[SHARED_READS_FLAG] === true;
}

export function setSharedReads(enabled: boolean): void {
  (globalThis as Record<string, unknown>)[SHARED_READS_FLAG] = enabled;
  forgetSharedLists();
}

export function forgetSharedLists(): void {
  store().clear();
}

/** Names a vendor account (endpoint + a hash of its credential) without holding the credential itself. */
export function accountKey(what: string, url: string, credential: string): string {
  return `${what} ${url} ${createHash('sha256').update(credential).digest('hex').slice(0, 16)}`;
}

/**
 * The object `id` of a vendor account: from the account's shared list when shared reads are on (loaded once by
 * the first read, by id), else from `readOne`. Not in the list, or shared reads off: `readOne` decides.
 */
export async function readThroughList<T>(options: {
  listKey: string;
  list: () => Promise<T[]>;
  idOf: (item: T) => string;
  id: string;
  readOne: () => Promise<T | undefined>;
}): Promise<T | undefined> {
  if (!sharedReadsEnabled()) return options.readOne();
  const entries = store();
  let entry = entries.get(options.listKey);
  if (!entry || Date.now() - entry.at >= SHARED_LIST_TTL_MS) {
    const items = options
      .list()
      .then((all) => new Map(all.map((item) => [options.idOf(item), item] as [string, unknown])));
    entry = { at: Date.now(), items };
    entries.set(options.listKey, entry);
    // A failed list is not shared: the next read tries again (and this read fails as a GET would have).
    const failed = entry;
    items.catch(() => entries.get(options.listKey) === failed && entries.delete(options.listKey));
  }
  const found = (await entry.items).get(options.id) as T | undefined;
  return found ?? options.readOne();
}
