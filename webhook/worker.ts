/**
 * The provisioning worker: drains the durable queue in PostgreSQL into stack runs.
 *
 * - One stack run at a time per stack: in this process the loop is serial, and across processes a PostgreSQL
 *   session advisory lock on the stack name is held for the whole run (it dies with the connection, so a killed
 *   process never leaves it behind).
 * - One run provisions every church in the registry, so a run claims EVERY due job at once and settles each from
 *   the run's result: a burst of purchases becomes one or two runs, not one run per purchase.
 * - A failed attempt is retried with exponential backoff (the shared rule of providers/vendor-request.ts); once
 *   the budget is spent the job fails and exactly one founder email is put in the outbox, in the same transaction.
 * - Holding the lock, any job still `running` was left by a dead process: it goes back to the queue. The stack
 *   runner clears the engine's stale lock and pending operations before it runs, and every create is idempotent,
 *   so the re-run adopts what the dead run made instead of buying a second number.
 */
import { randomBytes } from 'crypto';
import * as os from 'os';
import type { Pool, PoolClient } from 'pg';
import type { Logger } from 'pino';
import { backoffMs } from '../providers/vendor-request';
import type { StackRunResult, StackRunner } from '../stacks/provisioning-run';
import { getChurch } from '../registry/churches';
import { withTransaction } from '../registry/db';
import { queueFounderNotification } from '../registry/founder-notifications';
import { claim, listJobs, nextDueAt, requeueOrphaned, settle, type LineReport, type ProvisioningJob } from '../registry/jobs';
import type { RetryBudget } from './config';
import { provisioningFailedEmail } from './founder-mail';

export interface WorkerOptions {
  pool: Pool;
  runner: StackRunner;
  logger: Logger;
  /** The stack the runner updates; also the name of the cross-process run lock. */
  stackName: string;
  retry: RetryBudget;
  /** Identifies this process in locked_by (default host:pid:random). */
  workerId?: string;
  /** Pause after a wake-up before claiming, so the rest of a burst rides the same run (default 250 ms). */
  gatherMs?: number;
  /** How often to look for work queued by other processes and for retries coming due (default 5 s). */
  pollIntervalMs?: number;
  /** Called after a founder email was queued, to wake the notifier. */
  onFounderNotification?: () => void;
  /** Scrubs secrets from engine lines and errors before they are logged or stored. */
  scrub?: (text: string) => string;
}

export interface RunReport {
  runId: string;
  /** Jobs the run carried. */
  jobs: ProvisioningJob[];
  /** The jobs after settling. */
  settled: ProvisioningJob[];
  result?: StackRunResult;
  /** Why no run happened: another process holds the stack, or nothing was due. */
  skipped?: 'stack-busy' | 'nothing-due';
  /** Jobs found running from a dead process and queued again before this run. */
  recovered: ProvisioningJob[];
}

/** What one stack run means for one job's church. */
type JobOutcome = { ok: true; line: LineReport } | { ok: false; error: string; failedStep: string; line?: LineReport };

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class ProvisioningWorker {
  readonly workerId: string;
  private readonly log: Logger;
  private readonly engineLog: Logger;
  private readonly scrub: (text: string) => string;
  private loop?: Promise<void>;
  private pending = false;
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private readonly abort = new AbortController();

  constructor(private readonly options: WorkerOptions) {
    this.workerId = options.workerId ?? `${os.hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    this.log = options.logger.child({ component: 'worker', workerId: this.workerId, stack: options.stackName });
    this.engineLog = options.logger.child({ component: 'engine', stack: options.stackName });
    this.scrub = options.scrub ?? ((text) => text);
  }

  /** Re-queues what a dead process left running, then works the queue until stopped. */
  start(): void {
    this.log.info('provisioning worker started');
    this.wake();
  }

  /** Something was queued: run soon (a run in progress is followed by another that picks it up). */
  wake(): void {
    if (this.stopped) return;
    this.pending = true;
    if (this.loop) return;
    this.loop = this.runLoop().finally(() => {
      this.loop = undefined;
    });
  }

  /**
   * Resolves when no job is queued or running any more, waiting through backoffs (tests, the CLI). Rejects if
   * the worker is stopped first.
   */
  async whenIdle(): Promise<void> {
    for (;;) {
      if (this.stopped) throw new Error('worker stopped before the queue drained');
      if (this.loop) {
        await this.loop;
        continue;
      }
      const open = await listJobs(this.options.pool, { states: ['queued', 'running'] });
      if (open.length === 0) return;
      const due = await nextDueAt(this.options.pool);
      const wait = due ? due.getTime() - Date.now() : this.pollIntervalMs;
      if (wait > 0) await sleep(Math.min(wait, this.pollIntervalMs));
      this.wake();
    }
  }

  /**
   * Stops taking work and waits for the current run to finish. `abortRun` cancels it instead (the engine is
   * signalled; the job stays running and the next start re-queues it).
   */
  async stop(options: { abortRun?: boolean } = {}): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (options.abortRun) this.abort.abort(new Error('worker stopping'));
    await this.loop;
    this.log.info('provisioning worker stopped');
  }

  private get pollIntervalMs(): number {
    return this.options.pollIntervalMs ?? 5000;
  }

  private async runLoop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    let busy = false;
    while (this.pending && !this.stopped) {
      this.pending = false;
      await sleep(this.options.gatherMs ?? 250);
      if (this.stopped) break;
      try {
        const report = await this.runOnce();
        busy = report.skipped === 'stack-busy';
        // After a run, look again: purchases that arrived during it are waiting for the next one.
        if (report.jobs.length > 0) this.pending = true;
      } catch (error) {
        this.log.error({ err: error }, 'provisioning cycle failed; retrying at the next poll');
        break;
      }
      if (busy) break;
    }
    await this.scheduleNext();
  }

  private async scheduleNext(): Promise<void> {
    if (this.stopped) return;
    let delay = this.pollIntervalMs;
    try {
      const due = await nextDueAt(this.options.pool);
      if (due) delay = Math.max(0, Math.min(delay, due.getTime() - Date.now()));
    } catch {
      /* the database is unreachable: poll again later */
    }
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.wake(), delay);
    this.timer.unref();
  }

  /**
   * One cycle: take the stack's run lock (or give up if another process holds it), re-queue orphans, claim every
   * due job, run the stack once, settle each job. Callers outside the loop (the CLI) may use it directly.
   */
  async runOnce(): Promise<RunReport> {
    const runId = `run-${new Date().toISOString().replace(/[-:.]/g, '').slice(0, 15)}-${randomBytes(3).toString('hex')}`;
    const report: RunReport = { runId, jobs: [], settled: [], recovered: [] };
    const lockClient = await this.options.pool.connect();
    let locked = false;
    let broken = false;
    try {
      locked = await this.tryLock(lockClient);
      if (!locked) {
        this.log.info({ runId }, 'another process is running this stack; will look again later');
        return { ...report, skipped: 'stack-busy' };
      }
      report.recovered = await requeueOrphaned(this.options.pool, 'interrupted: a worker stopped during the stack run');
      for (const job of report.recovered) {
        this.log.warn({ jobId: job.id, churchId: job.churchId, note: job.lastError }, 'job left running by a dead worker queued again');
      }
      report.jobs = await claim(this.options.pool, { workerId: this.workerId, runId });
      if (report.jobs.length === 0) return { ...report, skipped: 'nothing-due' };
      report.result = await this.runStack(runId, report.jobs);
      report.settled = await this.settleAll(runId, report.jobs, report.result);
      return report;
    } catch (error) {
      broken = true;
      throw error;
    } finally {
      if (locked) {
        await lockClient.query('select pg_advisory_unlock(hashtext($1))', [this.lockKey]).catch(() => {
          broken = true;
        });
      }
      // A connection that failed mid-cycle is destroyed, which also drops any lock it still held.
      lockClient.release(broken);
    }
  }

  private get lockKey(): string {
    return `churchwise-voice:stack-run:${this.options.stackName}`;
  }

  private async tryLock(client: PoolClient): Promise<boolean> {
    const { rows } = await client.query<{ locked: boolean }>('select pg_try_advisory_lock(hashtext($1)) as locked', [this.lockKey]);
    return rows[0].locked;
  }

  private async runStack(runId: string, jobs: ProvisioningJob[]): Promise<StackRunResult> {
    const churches = jobs.map((j) => j.churchId);
    const log = this.log.child({ runId });
    log.info({ churches, jobs: jobs.map((j) => j.id) }, 'stack run starting');
    const engineLog = this.engineLog.child({ runId });
    let result: StackRunResult;
    try {
      result = await this.options.runner.provision({
        reason: `${runId}: ${jobs.map((j) => `${j.churchId} (${j.reason})`).join(', ')}`.slice(0, 1000),
        onOutput: (chunk) => {
          for (const line of chunk.split('\n')) if (line.trim()) engineLog.info(this.scrub(line.replace(/\s+$/, '')));
        },
        signal: this.abort.signal,
      });
    } catch (error) {
      result = { ok: false, churches: [], error: { message: error instanceof Error ? error.message : String(error), failedStep: 'engine' } };
    }
    if (result.ok) log.info({ lines: result.churches.length }, 'stack run succeeded');
    else log.warn({ error: result.error && { ...result.error, message: this.scrub(result.error.message) } }, 'stack run failed');
    return result;
  }

  /** What the run means for one job's church. */
  private outcomeFor(job: ProvisioningJob, result: StackRunResult): JobOutcome {
    const line = result.churches.find((c) => c.churchId === job.churchId);
    const error = result.error;
    if (error?.churchId === job.churchId || (!result.ok && !error?.churchId)) {
      return { ok: false, error: this.scrub(error?.message ?? 'the stack run failed without an error message'), failedStep: error?.failedStep ?? 'engine', line };
    }
    if (!line) {
      const why = result.ok
        ? `the stack run succeeded but reported no line for church ${job.churchId}`
        : `the stack run stopped at church ${error?.churchId} (${error?.failedStep ?? 'engine'}: ${error?.message}) before church ${job.churchId} was provisioned`;
      return { ok: false, error: this.scrub(why), failedStep: 'engine' };
    }
    if (line.ring && !line.ring.ok) {
      return { ok: false, error: `test ring of ${line.phoneNumber ?? 'the new number'} failed: ${line.ring.cause ?? 'no cause given'}`, failedStep: 'test-ring', line };
    }
    if (!line.phoneNumber || !line.trunkId) {
      return { ok: false, error: `the stack run reported an incomplete line for church ${job.churchId}`, failedStep: 'engine', line };
    }
    // Another church failed, but this church's line is complete in the run's outputs.
    return { ok: true, line };
  }

  private async settleAll(runId: string, jobs: ProvisioningJob[], result: StackRunResult): Promise<ProvisioningJob[]> {
    const settled: ProvisioningJob[] = [];
    let emailed = false;
    for (const job of jobs) {
      const outcome = this.outcomeFor(job, result);
      const done = await withTransaction(this.options.pool, async (tx) => {
        if (outcome.ok) return settle(tx, { id: job.id, runId }, outcome);
        const retryAt =
          job.attempts < this.options.retry.maxAttempts
            ? new Date(Date.now() + backoffMs({ attempts: this.options.retry.maxAttempts, ...this.options.retry }, job.attempts))
            : undefined;
        const after = await settle(tx, { id: job.id, runId }, { ...outcome, retryAt });
        if (after?.state === 'failed') {
          const church = await getChurch(tx, job.churchId);
          const email = provisioningFailedEmail({ job: after, church, failedStep: outcome.failedStep, error: outcome.error, stackName: this.options.stackName });
          emailed = (await queueFounderNotification(tx, {
            dedupeKey: `job-failed:${after.id}`,
            churchId: after.churchId,
            jobId: after.id,
            subject: email.subject,
            body: email.body,
          })) || emailed;
        }
        return after;
      });
      if (!done) {
        this.log.warn({ runId, jobId: job.id }, 'job was taken from this run before it settled; left as it is');
        continue;
      }
      settled.push(done);
      const fields = { runId, jobId: done.id, churchId: done.churchId, attempts: done.attempts };
      if (done.state === 'succeeded') this.log.info({ ...fields, phoneNumber: done.phoneNumber }, 'church line live');
      else if (done.state === 'queued') this.log.warn({ ...fields, failedStep: done.failedStep, error: done.lastError, retryAt: done.nextAttemptAt }, 'provisioning attempt failed; will retry');
      else this.log.error({ ...fields, failedStep: done.failedStep, error: done.lastError }, 'provisioning failed for good; founder emailed');
    }
    if (emailed) this.options.onFounderNotification?.();
    return settled;
  }
}
