import type { Queryable } from './db';
/** A line's test ring as the registry keeps it: from a provisioning run's job, or rung on demand. */
export interface RingResult {
  ok: boolean;
  cause: string | null;
  at: Date;
}

export interface LineRing {
  churchId: string;
  ok: boolean;
  cause?: string | null;
  detail?: string | null;
  elapsedMs: number;
  at: Date;
  source: 'on-demand' | 'provisioning';
}

export async function recordRing(db: Queryable, ring: LineRing): Promise<void> {
  await db.query(
    `insert into line_rings (church_id, ok, cause, detail, elapsed_ms, rang_at, source) ` +
      `values ($1, $2, $3, $4, $5, $6, $7)`,
    [ring.churchId, ring.ok, ring.cause ?? null, ring.detail ?? null, Math.round(ring.elapsedMs), ring.at, ring.source],
  );
}

export async function latestRing(db: Queryable, churchId: string): Promise<RingResult | null> {
  const { rows } = await db.query<{ ok: boolean; cause: string | null; rang_at: Date }>(
    `select ok, cause, rang_at from line_rings where church_id = $1 order by rang_at desc limit 1`,
    [churchId],
  );
  return rows[0] ? { ok: rows[0].ok, cause: rows[0].cause, at: rows[0].rang_at } : null;
}
