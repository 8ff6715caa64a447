/**
 * `provisioning_jobs`: the durable queue between the webhook and the stack. A job says "this church needs a stack
 * run"; one run provisions every church, so the worker claims all due jobs at once and settles each from the
 * run's result. At most one open (queued or running) job exists per church (partial unique index).
 */
import { getChurch, type Church } from './churches';
import type { Queryable } from './db';
import { latestRing, type RingResult } from './rings';
import { churchTimeline, type RecordedTimelineEntry } from './timeline';

export type JobState = 'queued' | 'running' | 'succeeded' | 'failed';

export interface ProvisioningJob {
  id: number;
  churchId: string;
  reason: string;
  state: JobState;
  attempts: number;
  nextAttemptAt: Date;
  lastError: string | null;
  failedStep: string | null;
  runId: string | null;
  lockedBy: string | null;
  lockedAt: Date | null;
  founderNotifiedAt: Date | null;
  phoneNumber: string | null;
  trunkId: string | null;
  dispatchRuleId: string | null;
  ring: RingResult | null;
  finishedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

interface JobRow {
  id: string;
  church_id: string;
  reason: string;
  state: JobState;
  attempts: number;
  next_attempt_at: Date;
  last_error: string | null;
  failed_step: string | null;
  run_id: string | null;
  locked_by: string | null;
  locked_at: Date | null;
  founder_notified_at: Date | null;
  phone_number: string | null;
  trunk_id: string | null;
  dispatch_rule_id: string | null;
  ring_ok: boolean | null;
  ring_cause: string | null;
  ring_at: Date | null;
  finished_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

function toJob(row: JobRow): ProvisioningJob {
  return {
    id: Number(row.id),
    churchId: row.church_id,
    reason: row.reason,
    state: row.state,
    attempts: row.attempts,
    nextAttemptAt: row.next_attempt_at,
    lastError: row.last_error,
    failedStep: row.failed_step,
    runId: row.run_id,
    lockedBy: row.locked_by,
    lockedAt: row.locked_at,
    founderNotifiedAt: row.founder_notified_at,
    phoneNumber: row.phone_number,
    trunkId: row.trunk_id,
    dispatchRuleId: row.dispatch_rule_id,
    ring:
      row.ring_ok === null || row.ring_at === null ? null : { ok: row.ring_ok, cause: row.ring_cause, at: row.ring_at },
    finishedAt: row.finished_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export interface EnqueueResult {
  job: ProvisioningJob;
  /** False when the church already had an open job, which is returned instead. */
  created: boolean;
}

/**
 * Queues a stack run for the church unless it already has an open job (idempotent per church): a replayed event,
 * a second event for the same subscription or a burst of admin requests all end up on one job.
 */
export async function enqueue(db: Queryable, churchId: string, reason: string): Promise<EnqueueResult> {
  // The open job may settle between our insert and our select; then the insert succeeds on the next pass.
  for (let pass = 0; pass < 3; pass++) {
    const inserted = await db.query<JobRow>(
      `insert into provisioning_jobs (church_id, reason) values ($1, $2)
       on conflict (church_id) where state in ('queued', 'running') do nothing
       returning *`,
      [churchId, reason],
    );
    if (inserted.rows[0]) return { job: toJob(inserted.rows[0]), created: true };
    const open = await db.query<JobRow>(
      `select * from provisioning_jobs where church_id = $1 and state in ('queued', 'running')`,
      [churchId],
    );
    if (open.rows[0]) return { job: toJob(open.rows[0]), created: false };
  }
  throw new Error(`could not enqueue a provisioning job for church ${churchId}: its open job kept changing state`);
}

/**
 * The jobs of one stack: its churches' (`shard` null: the base stack's, which also takes the jobs of churches no
 * longer in the registry). Absent: every job, whatever its stack.
 */
export interface StackScope {
  shard: number | null;
}

const inStack = (stack: StackScope | undefined, parameter: number) =>
  stack
    ? ` and (select c.shard from churches c where c.church_id = provisioning_jobs.church_id) ` +
      `is not distinct from $${parameter}::int`
    : '';
const stackParameter = (stack: StackScope | undefined) => (stack ? [stack.shard] : []);

/**
 * The shards (null: the base stack) with work for a run: a job due, or one left `running` (by this process's run in
 * progress, or by a dead process: the stack's run lock tells them apart).
 */
export async function stacksWithWork(db: Queryable): Promise<Array<number | null>> {
  const { rows } = await db.query<{ shard: number | null }>(
    `select distinct c.shard from provisioning_jobs j left join churches c on c.church_id = j.church_id
      where j.state = 'running' or (j.state = 'queued' and j.next_attempt_at <= now())
      order by c.shard nulls first`,
  );
  return rows.map((r) => r.shard);
}

/**
 * Claims every due queued job for one stack run: state running, attempts + 1, tagged with the run and worker.
 * SKIP LOCKED lets a second worker pass over rows another one is claiming instead of waiting for them.
 */
export async function claim(
  db: Queryable,
  opts: { workerId: string; runId: string; limit?: number; stack?: StackScope },
): Promise<ProvisioningJob[]> {
  const { rows } = await db.query<JobRow>(
    `with due as (
       select id from provisioning_jobs
       where state = 'queued' and next_attempt_at <= now()${inStack(opts.stack, 4)}
       order by id
       limit $3
       for update skip locked
     )
     update provisioning_jobs j
     set state = 'running', attempts = j.attempts + 1, run_id = $1, locked_by = $2, locked_at = now()
     from due where j.id = due.id
     returning j.*`,
    [opts.runId, opts.workerId, opts.limit ?? 10000, ...stackParameter(opts.stack)],
  );
  return rows.map(toJob).sort((a, b) => a.id - b.id);
}

export interface LineReport {
  phoneNumber?: string;
  trunkId?: string;
  dispatchRuleId?: string;
  /** `at` defaults to the settle time when the run did not say. */
  ring?: { ok: boolean; cause?: string; at?: string | Date };
}

export type SettleOutcome =
  | { ok: true; line: LineReport }
  | {
      ok: false;
      error: string;
      failedStep: string;
      line?: LineReport;
      /** When to try again; absent means the retry budget is spent and the job fails for good. */
      retryAt?: Date;
    };

/**
 * Settles a job claimed by `runId`: succeeded, queued again for `retryAt`, or failed. Returns undefined when the
 * job is no longer running under that run (it was re-queued as orphaned meanwhile), so a late settle never
 * overwrites a newer state.
 */
export async function settle(
  db: Queryable,
  job: { id: number; runId: string },
  outcome: SettleOutcome,
): Promise<ProvisioningJob | undefined> {
  const line = outcome.line ?? {};
  const ring = line.ring;
  const state: JobState = outcome.ok ? 'succeeded' : outcome.retryAt ? 'queued' : 'failed';
  const { rows } = await db.query<JobRow>(
    `update provisioning_jobs set
       state = $3,
       next_attempt_at = coalesce($4, next_attempt_at),
       last_error = $5,
       failed_step = $6,
       locked_by = null,
       locked_at = null,
       phone_number = coalesce($7, phone_number),
       trunk_id = coalesce($8, trunk_id),
       dispatch_rule_id = coalesce($9, dispatch_rule_id),
       ring_ok = coalesce($10, ring_ok),
       ring_cause = case when $10::boolean is null then ring_cause else $11 end,
       ring_at = coalesce($12, ring_at),
       finished_at = case when $3 in ('succeeded', 'failed') then now() else null end
     where id = $1 and run_id = $2 and state = 'running'
     returning *`,
    [
      job.id,
      job.runId,
      state,
      outcome.ok ? null : (outcome.retryAt ?? null),
      outcome.ok ? null : outcome.error,
      outcome.ok ? null : outcome.failedStep,
      line.phoneNumber ?? null,
      line.trunkId ?? null,
      line.dispatchRuleId ?? null,
      ring ? ring.ok : null,
      ring?.cause ?? null,
      ring ? (ring.at ? new Date(ring.at) : new Date()) : null,
    ],
  );
  return rows[0] ? toJob(rows[0]) : undefined;
}

/**
 * Gives claimed jobs back to the queue without spending an attempt: the run never happened (another engine held
 * the stack). Due again at `retryAt`. Only jobs still running under `runId` are touched.
 */
export async function unclaim(
  db: Queryable,
  jobs: Array<{ id: number }>,
  runId: string,
  retryAt: Date,
): Promise<ProvisioningJob[]> {
  const { rows } = await db.query<JobRow>(
    `update provisioning_jobs set
       state = 'queued', attempts = greatest(attempts - 1, 0), next_attempt_at = $3, locked_by = null, locked_at = null
     where id = any($1::bigint[]) and run_id = $2 and state = 'running'
     returning *`,
    [jobs.map((j) => j.id), runId, retryAt],
  );
  return rows.map(toJob);
}

/**
 * Closes the church's queued jobs when its line is being released instead: there is nothing left to provision,
 * and a later run must not report the church's missing line as a failure (nor email the founder about it).
 */
export async function closeQueuedJobs(db: Queryable, churchId: string, why: string): Promise<ProvisioningJob[]> {
  const { rows } = await db.query<JobRow>(
    `update provisioning_jobs set state = 'failed', last_error = $2, failed_step = null, finished_at = now()
     where church_id = $1 and state = 'queued'
     returning *`,
    [churchId, why],
  );
  return rows.map(toJob);
}

/**
 * Jobs left `running` by a worker that died mid-run go back to the queue, due now, with the attempt the dead run
 * had claimed given back: a run that died with its process (kill -9, OOM, a deploy) is not the church's failed
 * attempt, and spending it would let a few crashes fail the church for good on the next real vendor error.
 * Call it only while holding the stack's run lock: then no live worker can own a running job, so every running
 * job is orphaned.
 */
export async function requeueOrphaned(db: Queryable, note: string, stack?: StackScope): Promise<ProvisioningJob[]> {
  const { rows } = await db.query<JobRow>(
    `update provisioning_jobs set
       state = 'queued', attempts = greatest(attempts - 1, 0), next_attempt_at = now(), ` +
      `locked_by = null, locked_at = null,
       last_error = $1 || ' (worker ' || coalesce(locked_by, '?') || ', run ' || coalesce(run_id, '?') || ')'
     where state = 'running'${inStack(stack, 2)}
     returning *`,
    [note, ...stackParameter(stack)],
  );
  return rows.map(toJob);
}

export async function getJob(db: Queryable, id: number): Promise<ProvisioningJob | undefined> {
  const { rows } = await db.query<JobRow>('select * from provisioning_jobs where id = $1', [id]);
  return rows[0] ? toJob(rows[0]) : undefined;
}

export async function listJobs(
  db: Queryable,
  options: { churchId?: string; states?: readonly JobState[] } = {},
): Promise<ProvisioningJob[]> {
  const { rows } = await db.query<JobRow>(
    `select * from provisioning_jobs
     where ($1::text is null or church_id = $1) and ($2::text[] is null or state = any($2::text[]))
     order by id`,
    [options.churchId ?? null, options.states ?? null],
  );
  return rows.map(toJob);
}

/** Time the earliest queued job becomes due, so the worker can sleep until then. */
export async function nextDueAt(db: Queryable): Promise<Date | undefined> {
  const { rows } = await db.query<{ at: Date | null }>(
    `select min(next_attempt_at) as at from provisioning_jobs where state = 'queued'`,
  );
  return rows[0]?.at ?? undefined;
}

/** What GET /churches/:id/status shows. */
export type ProvisioningState = 'queued' | 'provisioning' | 'live' | 'failed' | 'not-queued';

export interface ChurchProvisioningStatus {
  churchId: string;
  name: string;
  /** The registry status (active, past_due, parking, parked, ...). */
  churchStatus: Church['status'];
  /** While the church is past_due: when its grace period ends (the line works until then). */
  graceUntil: Date | null;
  /** While parked: since when, and until when the number is kept without a reminder to decommission it. */
  parkedAt: Date | null;
  quarantineUntil: Date | null;
  state: ProvisioningState;
  jobId: number | null;
  attempts: number;
  /** For a queued job that failed before: when the next attempt is due. */
  nextAttemptAt: Date | null;
  lastError: string | null;
  failedStep: string | null;
  /** The line as the last successful run reported it. */
  phoneNumber: string | null;
  trunkId: string | null;
  dispatchRuleId: string | null;
  lastRing: RingResult | null;
  /** Every lifecycle transition of the church, oldest first (registry/timeline.ts). */
  timeline: RecordedTimelineEntry[];
  updatedAt: Date;
}

const STATE_OF_JOB: Record<JobState, ProvisioningState> = {
  queued: 'queued',
  running: 'provisioning',
  succeeded: 'live',
  failed: 'failed',
};

export async function churchStatus(
  db: Queryable,
  churchId: string,
  /** The church's row when the caller has just read it (the pastor's status page, polled every few seconds). */
  known?: Church,
): Promise<ChurchProvisioningStatus | undefined> {
  const church = known?.churchId === churchId ? known : await getChurch(db, churchId);
  if (!church) return undefined;
  const { rows } = await db.query<JobRow>(
    `select * from provisioning_jobs where church_id = $1 order by id desc limit 1`,
    [churchId],
  );
  const latest = rows[0] ? toJob(rows[0]) : undefined;
  const lineRows = await db.query<JobRow>(
    `select * from provisioning_jobs where church_id = $1 and state = 'succeeded' order by id desc limit 1`,
    [churchId],
  );
  const ringRows = await db.query<JobRow>(
    `select * from provisioning_jobs where church_id = $1 and ring_at is not null order by ring_at desc limit 1`,
    [churchId],
  );
  const line = lineRows.rows[0] ? toJob(lineRows.rows[0]) : undefined;
  const jobRing = ringRows.rows[0] ? toJob(ringRows.rows[0]).ring : null;
  const handRing = await latestRing(db, churchId);
  const ring = jobRing && (!handRing || jobRing.at > handRing.at) ? jobRing : handRing;
  return {
    churchId: church.churchId,
    name: church.name,
    churchStatus: church.status,
    graceUntil: church.graceUntil,
    parkedAt: church.parkedAt,
    quarantineUntil: church.quarantineUntil,
    state: latest ? STATE_OF_JOB[latest.state] : 'not-queued',
    jobId: latest?.id ?? null,
    attempts: latest?.attempts ?? 0,
    nextAttemptAt: latest?.state === 'queued' ? latest.nextAttemptAt : null,
    lastError: latest?.lastError ?? null,
    failedStep: latest?.failedStep ?? null,
    phoneNumber: line?.phoneNumber ?? latest?.phoneNumber ?? null,
    trunkId: line?.trunkId ?? latest?.trunkId ?? null,
    dispatchRuleId: line?.dispatchRuleId ?? latest?.dispatchRuleId ?? null,
    lastRing: ring,
    timeline: await churchTimeline(db, churchId),
    updatedAt: latest && latest.updatedAt > church.updatedAt ? latest.updatedAt : church.updatedAt,
  };
}

/** True once a run has provisioned the church's line (some job of it succeeded). */
export async function hasSucceededJob(db: Queryable, churchId: string): Promise<boolean> {
  const { rows } = await db.query(
    `select 1 from provisioning_jobs where church_id = $1 and state = 'succeeded' limit 1`,
    [churchId],
  );
  return rows.length > 0;
}
