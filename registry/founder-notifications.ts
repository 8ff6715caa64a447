/**
 * `founder_notifications`: an outbox of emails to the founder. The email is written in the same transaction as
 * the fact it reports (a job failed for good, a subscription was cancelled), with a dedupe key that makes each fact
 * one email; a delivery loop sends what is unsent. A crash between the fact and the SMTP send loses nothing.
 */
import type { Pool } from 'pg';
import { withTransaction, type Queryable } from './db';

export interface FounderNotification {
  id: number;
  dedupeKey: string;
  churchId: string | null;
  jobId: number | null;
  subject: string;
  body: string;
  attempts: number;
  lastError: string | null;
  sentAt: Date | null;
  createdAt: Date;
}

interface NotificationRow {
  id: string;
  dedupe_key: string;
  church_id: string | null;
  job_id: string | null;
  subject: string;
  body: string;
  attempts: number;
  last_error: string | null;
  sent_at: Date | null;
  created_at: Date;
}

function toNotification(row: NotificationRow): FounderNotification {
  return {
    id: Number(row.id),
    dedupeKey: row.dedupe_key,
    churchId: row.church_id,
    jobId: row.job_id === null ? null : Number(row.job_id),
    subject: row.subject,
    body: row.body,
    attempts: row.attempts,
    lastError: row.last_error,
    sentAt: row.sent_at,
    createdAt: row.created_at,
  };
}

/** Queues one email; returns false when an email with this dedupe key was already queued (nothing changes). */
export async function queueFounderNotification(
  db: Queryable,
  notification: { dedupeKey: string; churchId?: string; jobId?: number; subject: string; body: string },
): Promise<boolean> {
  const { rowCount } = await db.query(
    `insert into founder_notifications (dedupe_key, church_id, job_id, subject, body) values ($1, $2, $3, $4, $5)
     on conflict (dedupe_key) do nothing`,
    [
      notification.dedupeKey,
      notification.churchId ?? null,
      notification.jobId ?? null,
      notification.subject,
      notification.body,
    ],
  );
  return rowCount === 1;
}

export async function listFounderNotifications(
  db: Queryable,
  options: { churchId?: string } = {},
): Promise<FounderNotification[]> {
  const { rows } = await db.query<NotificationRow>(
    'select * from founder_notifications where ($1::text is null or church_id = $1) order by id',
    [options.churchId ?? null],
  );
  return rows.map(toNotification);
}

export interface DeliveryReport {
  sent: number;
  failed: number;
}

/**
 * Sends every due unsent notification through `send`, one row lock at a time (SKIP LOCKED: two processes never
 * send the same row). A send error leaves the row unsent with the error and a later due time. The row is marked
 * sent in the transaction that holds its lock, so the only way to send twice is a crash between the SMTP server's
 * "250 OK" and that commit.
 */
export async function deliverFounderNotifications(
  pool: Pool,
  send: (notification: FounderNotification) => Promise<void>,
  options: { retryDelayMs: (attempts: number) => number },
): Promise<DeliveryReport> {
  const report: DeliveryReport = { sent: 0, failed: 0 };
  const skipped: number[] = [];
  for (;;) {
    const handled = await withTransaction(pool, async (client) => {
      const { rows } = await client.query<NotificationRow>(
        `select * from founder_notifications
         where sent_at is null and next_attempt_at <= now() and not (id = any($1::bigint[]))
         order by id limit 1 for update skip locked`,
        [skipped],
      );
      if (!rows[0]) return false;
      const notification = toNotification(rows[0]);
      try {
        await send(notification);
      } catch (error) {
        const attempts = notification.attempts + 1;
        await client.query(
          `update founder_notifications set attempts = $2, last_error = $3,
             next_attempt_at = now() + ($4::double precision * interval '1 millisecond')
           where id = $1`,
          [notification.id, attempts, (error as Error).message, options.retryDelayMs(attempts)],
        );
        skipped.push(notification.id);
        report.failed += 1;
        return true;
      }
      await client.query(
        'update founder_notifications set sent_at = now(), attempts = attempts + 1, last_error = null where id = $1',
        [notification.id],
      );
      if (notification.jobId !== null) {
        await client.query('update provisioning_jobs set founder_notified_at = now() where id = $1', [
          notification.jobId,
        ]);
      }
      report.sent += 1;
      return true;
    });
    if (!handled) return report;
  }
}
