/**
 * What the founder console reads and records beyond the other tables: its tasks (long actions with progress), the
 * last drift report, the fleet in one query, each church's whole history, and the figures its charts draw. It reads
 * only the registry: a page load never calls a vendor.
 */
import type { Queryable } from './db';

export type ConsoleTaskKind = 'drift-check' | 'doctor' | 'ring' | 'decommission';

export interface ConsoleTask {
  id: number;
  kind: ConsoleTaskKind;
  churchId: string | null;
  actor: string;
  state: 'running' | 'succeeded' | 'failed';
  progress: string;
  result: unknown;
  startedAt: Date;
  finishedAt: Date | null;
}

interface TaskRow {
  id: string;
  kind: ConsoleTaskKind;
  church_id: string | null;
  actor: string;
  state: ConsoleTask['state'];
  progress: string;
  result: unknown;
  started_at: Date;
  finished_at: Date | null;
}

const toTask = (r: TaskRow): ConsoleTask => ({
  id: Number(r.id),
  kind: r.kind,
  churchId: r.church_id,
  actor: r.actor,
  state: r.state,
  progress: r.progress,
  result: r.result,
  startedAt: r.started_at,
  finishedAt: r.finished_at,
});

export async function startConsoleTask(
  db: Queryable,
  task: { kind: ConsoleTaskKind; churchId?: string; actor: string },
): Promise<ConsoleTask> {
  const { rows } = await db.query<TaskRow>(
    `insert into console_tasks (kind, church_id, actor) values ($1, $2, $3) returning *`,
    [task.kind, task.churchId ?? null, task.actor],
  );
  return toTask(rows[0]);
}

export async function updateConsoleTask(
  db: Queryable,
  id: number,
  change: { progress?: string; state?: ConsoleTask['state']; result?: unknown },
): Promise<void> {
  await db.query(
    `update console_tasks set progress = coalesce($2, progress), state = coalesce($3, state),
       result = coalesce($4::jsonb, result),
       finished_at = case when $3 in ('succeeded', 'failed') then now() else finished_at end
     where id = $1`,
    [
      id,
      change.progress?.slice(-4000) ?? null,
      change.state ?? null,
      change.result === undefined ? null : JSON.stringify(change.result),
    ],
  );
}

export async function getConsoleTask(db: Queryable, id: number): Promise<ConsoleTask | undefined> {
  const { rows } = await db.query<TaskRow>('select * from console_tasks where id = $1', [id]);
  return rows[0] && toTask(rows[0]);
}

/** A task of this kind (and church) still running: the console starts no second one. */
/** A task still `running` after this long was left by a service that stopped (a crash, a deploy) mid-task. */
export const STALE_TASK_MINUTES = 60;

export async function runningConsoleTask(
  db: Queryable,
  kind: ConsoleTaskKind,
  churchId?: string,
): Promise<ConsoleTask | undefined> {
  // A stale task would block its action for good: it is marked failed, saying why, before anyone looks.
  await db.query(
    `update console_tasks set state = 'failed', finished_at = now(),
       progress = progress || E'\n(the service stopped while this task ran: start it again)'
     where state = 'running' and started_at < now() - make_interval(mins => $1)`,
    [STALE_TASK_MINUTES],
  );
  const { rows } = await db.query<TaskRow>(
    `select * from console_tasks where kind = $1 and state = 'running' and church_id is not distinct from $2
      order by id desc limit 1`,
    [kind, churchId ?? null],
  );
  return rows[0] && toTask(rows[0]);
}

/** Where each check's reports are kept. */
const REPORT_TABLES = { drift: 'drift_reports', doctor: 'doctor_reports' } as const;

export async function recordCheckReport(
  db: Queryable,
  check: keyof typeof REPORT_TABLES,
  stack: string,
  checkedAt: Date,
  report: unknown,
) {
  await db.query(`insert into ${REPORT_TABLES[check]} (stack, checked_at, report) values ($1, $2, $3)`, [
    stack,
    checkedAt,
    JSON.stringify(report),
  ]);
}

export async function latestCheckReport<T>(
  db: Queryable,
  check: keyof typeof REPORT_TABLES,
  stack: string,
): Promise<{ checkedAt: Date; report: T } | undefined> {
  const { rows } = await db.query<{ checked_at: Date; report: T }>(
    `select checked_at, report from ${REPORT_TABLES[check]} where stack = $1 order by checked_at desc, id desc limit 1`,
    [stack],
  );
  return rows[0] && { checkedAt: rows[0].checked_at, report: rows[0].report };
}

/** One church's line as the fleet table shows it. */
export interface FleetLine {
  churchId: string;
  name: string;
  status: string;
  phoneNumber: string | null;
  trunkId: string | null;
  dispatchRuleId: string | null;
  jobState: string | null;
  failedStep: string | null;
  lastError: string | null;
  jobId: number | null;
  ringOk: boolean | null;
  ringAt: Date | null;
  quarantineUntil: Date | null;
  /** The shard stack the church's line is in (null: the base stack). */
  shard: number | null;
}

/**
 * Every church (or the one named) with its newest job, its line (the newest succeeded job) and its newest ring, in
 * one query.
 */
export async function fleetLines(db: Queryable, options: { churchId?: string } = {}): Promise<FleetLine[]> {
  const { rows } = await db.query<{
    church_id: string;
    name: string;
    status: string;
    phone_number: string | null;
    trunk_id: string | null;
    dispatch_rule_id: string | null;
    job_state: string | null;
    failed_step: string | null;
    last_error: string | null;
    job_id: string | null;
    ring_ok: boolean | null;
    ring_at: Date | null;
    quarantine_until: Date | null;
    shard: number | null;
  }>(
    `select c.church_id, c.name, c.status, c.quarantine_until, c.shard,
            coalesce(line.phone_number, latest.phone_number) as phone_number,
            coalesce(line.trunk_id, latest.trunk_id) as trunk_id,
            coalesce(line.dispatch_rule_id, latest.dispatch_rule_id) as dispatch_rule_id,
            latest.state as job_state, latest.failed_step, latest.last_error, latest.id as job_id,
            ring.ok as ring_ok, ring.at as ring_at
       from churches c
       left join lateral (select * from provisioning_jobs j where j.church_id = c.church_id
                           order by j.id desc limit 1) latest on true
       left join lateral (select * from provisioning_jobs j where j.church_id = c.church_id and j.state = 'succeeded'
                           order by j.id desc limit 1) line on true
       left join lateral (
         select ok, at from (
           select ring_ok as ok, ring_at as at from provisioning_jobs j
            where j.church_id = c.church_id and j.ring_at is not null
           union all
           select ok, rang_at as at from line_rings r where r.church_id = c.church_id
         ) rings order by at desc limit 1) ring on true
      where $1::text is null or c.church_id = $1
      order by c.name, c.church_id`,
    [options.churchId ?? null],
  );
  return rows.map((r) => ({
    churchId: r.church_id,
    name: r.name,
    status: r.status,
    shard: r.shard,
    phoneNumber: r.phone_number,
    trunkId: r.trunk_id,
    dispatchRuleId: r.dispatch_rule_id,
    jobState: r.job_state,
    failedStep: r.failed_step,
    lastError: r.last_error,
    jobId: r.job_id === null ? null : Number(r.job_id),
    ringOk: r.ring_ok,
    ringAt: r.ring_at,
    quarantineUntil: r.quarantine_until,
  }));
}

/** One entry of a church's whole history, newest last. */
export interface HistoryEntry {
  at: Date;
  kind: 'payment' | 'lifecycle' | 'step' | 'ring' | 'email' | 'job' | 'console';
  title: string;
  detail: string;
}

export async function churchHistory(db: Queryable, churchId: string): Promise<HistoryEntry[]> {
  const { rows } = await db.query<{ at: Date; kind: HistoryEntry['kind']; title: string; detail: string | null }>(
    `select received_at as at, 'payment' as kind, type as title, outcome || ' (' || event_id || ')' as detail
       from stripe_events where church_id = $1
     union all
     select at, 'lifecycle', kind, concat_ws(' ', from_status || ' -> ' || to_status, 'by ' || actor, cause, detail)
       from church_timeline where church_id = $1
     union all
     select at, 'step', step || case when ok then ' done' else ' failed' end,
            concat_ws(' ', run_id, '+' || round(extract(epoch from at - lag(at) over (partition by run_id order by at,
              id)) * 1000) || ' ms', detail)
       from line_steps where church_id = $1
     union all
     select rang_at, 'ring', case when ok then 'test ring passed' else 'test ring failed' end,
            concat_ws(' ', source, cause, detail) from line_rings where church_id = $1
     union all
     select ring_at, 'ring', case when ring_ok then 'test ring passed' else 'test ring failed' end,
            concat_ws(' ', 'provisioning', ring_cause)
       from provisioning_jobs where church_id = $1 and ring_at is not null
     union all
     select created_at, 'email', subject, case when sent_at is null then 'not sent yet' else 'sent' end
       from founder_notifications where church_id = $1
     union all
     select coalesce(finished_at, updated_at), 'job', 'job ' || id || ' ' || state,
            concat_ws(' ', reason, 'attempts ' || attempts, failed_step, last_error)
       from provisioning_jobs where church_id = $1
     union all
     select started_at, 'console', kind || ' ' || state, 'by ' || actor || coalesce(': ' || nullif(progress, ''), '')
       from console_tasks where church_id = $1
     order by 1, 2`,
    [churchId],
  );
  return rows.map((r) => ({ at: r.at, kind: r.kind, title: r.title, detail: r.detail ?? '' }));
}

/** Per day: purchases (first jobs), payment -> live p50/p95 in seconds, ring success rate. */
export interface DailyFigures {
  day: string;
  purchases: number;
  liveP50Seconds: number | null;
  liveP95Seconds: number | null;
  rings: number;
  ringsOk: number;
}

export async function dailyFigures(db: Queryable, days = 30): Promise<DailyFigures[]> {
  const { rows } = await db.query<{
    day: string;
    purchases: string;
    p50: number | null;
    p95: number | null;
    rings: string;
    rings_ok: string;
  }>(
    `with days as (
       select generate_series(current_date - ($1::int - 1), current_date, interval '1 day')::date as day),
     firsts as (
       select distinct on (church_id) church_id, created_at, finished_at, state from provisioning_jobs
        order by church_id, id),
     rings as (
       select ring_at as at, ring_ok as ok from provisioning_jobs where ring_at is not null
       union all select rang_at, ok from line_rings)
     select to_char(d.day, 'YYYY-MM-DD') as day,
       (select count(*) from firsts f where f.created_at::date = d.day) as purchases,
       (select percentile_cont(0.5) within group (order by extract(epoch from f.finished_at - f.created_at))
          from firsts f where f.state = 'succeeded' and f.created_at::date = d.day) as p50,
       (select percentile_cont(0.95) within group (order by extract(epoch from f.finished_at - f.created_at))
          from firsts f where f.state = 'succeeded' and f.created_at::date = d.day) as p95,
       (select count(*) from rings r where r.at::date = d.day) as rings,
       (select count(*) from rings r where r.at::date = d.day and r.ok) as rings_ok
     from days d order by d.day`,
    [days],
  );
  return rows.map((r) => ({
    day: r.day,
    purchases: Number(r.purchases),
    liveP50Seconds: r.p50 === null ? null : Math.round(r.p50 * 10) / 10,
    liveP95Seconds: r.p95 === null ? null : Math.round(r.p95 * 10) / 10,
    rings: Number(r.rings),
    ringsOk: Number(r.rings_ok),
  }));
}
