/** The church_timeline table: every lifecycle transition of a church, with who or what caused it. */
import type { Queryable } from './db';

export type TimelineActor = 'stripe' | 'founder' | 'service';

export interface TimelineEntry {
  churchId: string;
  kind: string;
  fromStatus?: string | null;
  toStatus?: string | null;
  actor: TimelineActor;
  /** When the cause happened (a Stripe event's created time); default: now. */
  occurredAt?: Date;
  cause?: string;
  detail?: string;
}

export interface RecordedTimelineEntry extends Required<Omit<TimelineEntry, 'occurredAt' | 'cause' | 'detail'>> {
  at: Date;
  occurredAt: Date | null;
  cause: string | null;
  detail: string | null;
}

export async function recordTimeline(db: Queryable, entry: TimelineEntry): Promise<void> {
  await db.query(
    `insert into church_timeline (church_id, kind, from_status, to_status, actor, occurred_at, cause, detail)
     values ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [
      entry.churchId,
      entry.kind,
      entry.fromStatus ?? null,
      entry.toStatus ?? null,
      entry.actor,
      entry.occurredAt ?? null,
      entry.cause ?? null,
      entry.detail ?? null,
    ],
  );
}

/** A church's timeline, oldest first. */
export async function churchTimeline(db: Queryable, churchId: string): Promise<RecordedTimelineEntry[]> {
  const { rows } = await db.query<{
    church_id: string;
    kind: string;
    from_status: string | null;
    to_status: string | null;
    actor: TimelineActor;
    at: Date;
    occurred_at: Date | null;
    cause: string | null;
    detail: string | null;
  }>('select * from church_timeline where church_id = $1 order by at, id', [churchId]);
  return rows.map((r) => ({
    churchId: r.church_id,
    kind: r.kind,
    fromStatus: r.from_status,
    toStatus: r.to_status,
    actor: r.actor,
    at: r.at,
    occurredAt: r.occurred_at,
    cause: r.cause,
    detail: r.detail,
  }));
}
