/**
 * What the registry knows about parked lines: the number each church's line was given (a parked line keeps it, and
 * the program must never buy one for a church that had none), and every call the fallback TeXML application sent
 * to the service, which is how a parked line's test ring knows its caller heard the fallback message.
 */
import type { Queryable } from './db';

/** The number of each church's line, from its newest job that recorded one. */
export async function lineNumbers(db: Queryable, churchIds?: readonly string[]): Promise<Map<string, string>> {
  // A shard's run asks for its own churches only: reading every job of the fleet would make each purchase cost
  // more as the fleet grows.
  const { rows } = await db.query<{ church_id: string; phone_number: string }>(
    `select distinct on (church_id) church_id, phone_number from provisioning_jobs
      where phone_number is not null${churchIds ? ' and church_id = any($1::text[])' : ''}
      order by church_id, id desc`,
    churchIds ? [churchIds] : [],
  );
  return new Map(rows.map((r) => [r.church_id, r.phone_number]));
}

/** The number of one church's line, if a job ever recorded one. */
export async function lineNumberOf(db: Queryable, churchId: string): Promise<string | undefined> {
  const { rows } = await db.query<{ phone_number: string }>(
    `select phone_number from provisioning_jobs where church_id = $1 and phone_number is not null
      order by id desc limit 1`,
    [churchId],
  );
  return rows[0]?.phone_number;
}

/** The parked (or parking) church whose line has this number, for the fallback message's wording. */
export async function parkedChurchByNumber(
  db: Queryable,
  phoneNumber: string,
): Promise<{ churchId: string; name: string } | undefined> {
  const { rows } = await db.query<{ church_id: string; name: string }>(
    `select c.church_id, c.name from churches c
      where c.status in ('parking', 'parked')
        and exists (select 1 from provisioning_jobs j where j.church_id = c.church_id and j.phone_number = $1)
      limit 1`,
    [phoneNumber],
  );
  return rows[0] && { churchId: rows[0].church_id, name: rows[0].name };
}

export interface FallbackAnswer {
  calledNumber: string;
  callerNumber: string;
  callSid?: string;
}

export async function recordFallbackAnswer(db: Queryable, answer: FallbackAnswer): Promise<void> {
  await db.query(`insert into fallback_answers (called_number, caller_number, call_sid) values ($1, $2, $3)`, [
    answer.calledNumber.slice(0, 32),
    answer.callerNumber.slice(0, 32),
    answer.callSid?.slice(0, 128) ?? null,
  ]);
}
