/**
 * The numbers churches hold before paying (a Telnyx number reservation each), and the limits on holding: a church
 * holds one number at a time (a new pick replaces the old one) and only so many a day; a client address only so
 * many at once and a day, so nobody can hold every number in an area code.
 */
import type { Queryable } from './db';

export interface NumberHold {
  id: number;
  churchId: string;
  phoneNumber: string;
  reservationId: string;
  createdAt: Date;
  expiresAt: Date;
  state: 'held' | 'replaced' | 'checkout';
}

/** How many holds are allowed; a hold counts while it has not expired, and for the day once it was made. */
export interface HoldLimits {
  perChurchPerDay: number;
  perClientAtOnce: number;
  perClientPerDay: number;
}

export const DEFAULT_HOLD_LIMITS: HoldLimits = { perChurchPerDay: 10, perClientAtOnce: 3, perClientPerDay: 20 };

interface HoldRow {
  id: string;
  church_id: string;
  phone_number: string;
  reservation_id: string;
  created_at: Date;
  expires_at: Date;
  state: NumberHold['state'];
}

const toHold = (row: HoldRow): NumberHold => ({
  id: Number(row.id),
  churchId: row.church_id,
  phoneNumber: row.phone_number,
  reservationId: row.reservation_id,
  createdAt: row.created_at,
  expiresAt: row.expires_at,
  state: row.state,
});

/** Which limit a new hold would break, in words for the pastor; undefined when it may be made. */
export async function holdLimitReached(
  db: Queryable,
  request: { churchId: string; clientAddress: string; now: Date },
  limits: HoldLimits = DEFAULT_HOLD_LIMITS,
): Promise<string | undefined> {
  const { rows } = await db.query<{ church_day: string; client_now: string; client_day: string }>(
    `select
       count(*) filter (where church_id = $1 and created_at > $3::timestamptz - interval '1 day') as church_day,
       -- Every unexpired hold counts, whatever its state: a replaced pick still holds its number at Telnyx.
       count(*) filter (where client_address = $2 and expires_at > $3) as client_now,
       count(*) filter (where client_address = $2 and created_at > $3::timestamptz - interval '1 day') as client_day
     from number_holds where church_id = $1 or client_address = $2`,
    [request.churchId, request.clientAddress, request.now],
  );
  const counts = rows[0];
  if (Number(counts.church_day) >= limits.perChurchPerDay)
    return `this church has held ${limits.perChurchPerDay} numbers today, the most allowed; try again tomorrow`;
  if (Number(counts.client_now) >= limits.perClientAtOnce)
    return `this device already holds ${limits.perClientAtOnce} numbers, the most at once; wait for one to lapse`;
  if (Number(counts.client_day) >= limits.perClientPerDay)
    return `this device has held ${limits.perClientPerDay} numbers today, the most allowed; try again tomorrow`;
  return undefined;
}

/** Records a new hold as the church's pick; its earlier picks become `replaced`. */
export async function recordHold(
  db: Queryable,
  hold: { churchId: string; phoneNumber: string; reservationId: string; clientAddress: string; expiresAt: Date },
): Promise<NumberHold> {
  await db.query(`update number_holds set state = 'replaced' where church_id = $1 and state = 'held'`, [hold.churchId]);
  const { rows } = await db.query<HoldRow>(
    `insert into number_holds (church_id, phone_number, reservation_id, client_address, expires_at)
     values ($1, $2, $3, $4, $5) returning *`,
    [hold.churchId, hold.phoneNumber, hold.reservationId, hold.clientAddress.slice(0, 64), hold.expiresAt],
  );
  return toHold(rows[0]);
}

/** The church's current pick (held or sent to checkout), expired or not; undefined when it never held one. */
export async function currentHold(db: Queryable, churchId: string): Promise<NumberHold | undefined> {
  const { rows } = await db.query<HoldRow>(
    `select * from number_holds where church_id = $1 and state in ('held', 'checkout')
      order by created_at desc, id desc limit 1`,
    [churchId],
  );
  return rows[0] && toHold(rows[0]);
}

export async function updateHold(
  db: Queryable,
  id: number,
  change: { expiresAt?: Date; state?: NumberHold['state'] },
): Promise<NumberHold> {
  const { rows } = await db.query<HoldRow>(
    `update number_holds set expires_at = coalesce($2, expires_at), state = coalesce($3, state)
      where id = $1 returning *`,
    [id, change.expiresAt ?? null, change.state ?? null],
  );
  return toHold(rows[0]);
}
