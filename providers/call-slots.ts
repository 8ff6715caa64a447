/**
 * Where test rings queue for the carrier's concurrent-call limit. Telnyx allows 2 concurrent outbound calls on a new
 * account (10 after Level 2 verification); past it `POST /calls` answers 403 "User channel limit exceeded". A burst
 * of purchases, or a fleet-wide re-ring, would otherwise dial every line at once.
 *
 * A slot is a PostgreSQL session advisory lock in the customer registry, `(CALL_SLOT_LOCK_CLASS, slot)` for slot
 * 0..limit-1: every provider process of every run, every service instance and the founder's laptop share the
 * registry, so they share the slots; a process that dies drops its connection and with it its slot, so a crash
 * never leaks one. Without a registry (a bare provider test) the limit holds within the process only, and says so.
 */
import { Client } from 'pg';
import { outboundCallLimit, registryDatabaseUrl } from '../vendors/vendor-settings';
import { sleep } from '../common/timing';

/** First key of the two-key advisory locks that are call slots (the second is the slot number). */
export const CALL_SLOT_LOCK_CLASS = 0x43_57_56_31; // "CWV1"

export interface CallSlotOptions {
  /** Slots in all; default the `outboundCallLimit` setting (2). */
  limit?: number;
  /**
   * The registry the slots live in; default the `registryDatabaseUrl` setting
   * (or REGISTRY_DATABASE_URL/DATABASE_URL).
   */
  databaseUrl?: string;
  /** Give up waiting after this long (default 10 minutes: a fleet re-ring at 2 calls at a time takes a while). */
  waitTimeoutMs?: number;
  /** Told once when the call has to wait for a slot, and then about every 30 s. */
  onWait?: (message: string) => void;
}

const DEFAULT_WAIT_TIMEOUT_MS = 10 * 60_000;

/** Calls placed by this process when there is no registry to share slots through. */
let localCalls = 0;

/**
 * Runs `work` (one outbound call, dial to hangup) while holding one of `limit` call slots, waiting for a free one.
 * The slot is released when `work` settles, whatever its outcome.
 */
export async function withOutboundCallSlot<T>(work: () => Promise<T>, options: CallSlotOptions = {}): Promise<T> {
  const limit = options.limit ?? outboundCallLimit();
  const databaseUrl = options.databaseUrl ?? registryDatabaseUrl();
  const deadline = Date.now() + (options.waitTimeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS);
  let toldAt = 0;
  const waiting = (inUse: string) => {
    if (Date.now() - toldAt < 30_000) return;
    toldAt = Date.now();
    options.onWait?.(
      `waiting for a free outbound call slot (${inUse} of ${limit} in use; the Telnyx account allows ${limit} at once)`,
    );
  };
  const timedOut = () =>
    new Error(
      `no outbound call slot came free ` +
        `within ${Math.round((options.waitTimeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS) / 1000)} s ` +
        `(outboundCallLimit ${limit}): other rings held every slot; the ring was not placed`,
    );

  if (!databaseUrl) {
    options.onWait?.('no registry database is configured: the outbound call limit holds within this process only');
    for (let pause = 100; localCalls >= limit; pause = Math.min(pause * 2, 2_000)) {
      if (Date.now() > deadline) throw timedOut();
      waiting(String(localCalls));
      await sleep(pause);
    }
    localCalls += 1;
    try {
      return await work();
    } finally {
      localCalls -= 1;
    }
  }

  const db = new Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    for (let pause = 100; ; pause = Math.min(pause * 2, 2_000)) {
      const slot = await takeFreeSlot(db, limit);
      if (slot !== undefined) {
        try {
          return await work();
        } finally {
          await db.query('select pg_advisory_unlock($1, $2)', [CALL_SLOT_LOCK_CLASS, slot]).catch(() => undefined);
        }
      }
      if (Date.now() > deadline) throw timedOut();
      waiting(String(limit));
      // Jitter, so waiters of several processes do not ask in lockstep.
      await sleep(pause / 2 + Math.random() * (pause / 2));
    }
  } finally {
    await db.end().catch(() => undefined);
  }
}

/** The first slot this session could lock, or undefined when all are held. */
async function takeFreeSlot(db: Client, limit: number): Promise<number | undefined> {
  for (let slot = 0; slot < limit; slot++) {
    const { rows } = await db.query<{ taken: boolean }>('select pg_try_advisory_lock($1, $2) as taken', [
      CALL_SLOT_LOCK_CLASS,
      slot,
    ]);
    if (rows[0]?.taken) return slot;
  }
  return undefined;
}

/** How many slots are held right now, by anyone (for progress and tests). */
export async function callSlotsInUse(databaseUrl: string): Promise<number> {
  const db = new Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const { rows } = await db.query<{ held: string }>(
      // pg_locks lists every database's locks; advisory locks (so the slots) belong to one registry database.
      `select count(*) as held from pg_locks
        where locktype = 'advisory' and classid = $1::int::oid and granted
          and database = (select oid from pg_database where datname = current_database())`,
      [CALL_SLOT_LOCK_CLASS],
    );
    return Number(rows[0]?.held ?? 0);
  } finally {
    await db.end().catch(() => undefined);
  }
}
