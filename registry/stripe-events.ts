/**
 * `stripe_events`: Stripe delivers each event at least once, unordered, and retries for days, so the event id is
 * recorded in the same transaction as whatever the event caused; a second delivery finds it and does nothing.
 */
import type { Queryable } from './db';

/** What the service did with an event; kept for the founder's "what happened to this payment" questions. */
export type StripeEventOutcome = 'queued' | 'unchanged' | 'ignored' | 'cancelled' | 'past-due' | 'founder-notified';

export interface StripeEventRecord {
  eventId: string;
  type: string;
  churchId: string | null;
  outcome: StripeEventOutcome;
  receivedAt: Date;
}

/**
 * Records the event id; returns false when it was already recorded (a replay). Inside a transaction a concurrent
 * delivery of the same id waits on this row until the first commits, then sees it: exactly one of them proceeds.
 */
export async function recordStripeEvent(
  db: Queryable,
  event: { eventId: string; type: string; churchId?: string; outcome: StripeEventOutcome },
): Promise<boolean> {
  const { rowCount } = await db.query(
    `insert into stripe_events (event_id, type, church_id, outcome) values ($1, $2, $3, $4)
     on conflict (event_id) do nothing`,
    [event.eventId, event.type, event.churchId ?? null, event.outcome],
  );
  return rowCount === 1;
}

/** The outcome is known only after the event was handled, in the same transaction that recorded it. */
export async function setStripeEventOutcome(
  db: Queryable,
  eventId: string,
  result: { outcome: StripeEventOutcome; churchId?: string },
): Promise<void> {
  await db.query('update stripe_events set outcome = $2, church_id = coalesce($3, church_id) where event_id = $1', [
    eventId,
    result.outcome,
    result.churchId ?? null,
  ]);
}

export async function getStripeEvent(db: Queryable, eventId: string): Promise<StripeEventRecord | undefined> {
  const { rows } = await db.query<{
    event_id: string;
    type: string;
    church_id: string | null;
    outcome: StripeEventOutcome;
    received_at: Date;
  }>('select * from stripe_events where event_id = $1', [eventId]);
  const row = rows[0];
  return (
    row && {
      eventId: row.event_id,
      type: row.type,
      churchId: row.church_id,
      outcome: row.outcome,
      receivedAt: row.received_at,
    }
  );
}
