/**
 * The provisioning worker: drains the durable queue in PostgreSQL into stack runs.
 *
 * - The fleet is a base stack and shard stacks (common/fleet-shards.ts); each church's jobs run in its own stack.
 *   One run at a time per stack: in this process a stack is run by one pass at a time, and across processes a
 *   PostgreSQL session advisory lock on the stack name is held for the whole run (it dies with the connection, so a
 *   killed process never leaves it behind). Runs of different stacks go on side by side (`parallelStacks`).
 * - One run provisions every church of its stack, so a run claims EVERY due job of that stack at once and settles
 *   each from the run's result: a burst of purchases becomes one or two runs per stack, not one run per purchase.
 * - A failed attempt is retried with exponential backoff (the shared rule of vendors/vendor-request.ts); once
 *   the budget is spent the job fails and exactly one founder email is put in the outbox, in the same transaction.
 * - Holding the lock, any job still `running` was left by a dead process: it goes back to the queue. The stack
 *   runner clears the engine's stale lock and pending operations before it runs, and the number's create is
 *   idempotent, so the re-run adopts what the dead run bought instead of buying a second number.
 * - Each job is settled from what THIS run reported for its church: a church that failed fails (and retries),
 *   the others of the same run succeed; a run that could not start because another engine held the stack gives
 *   its jobs back without spending an attempt.
 * - A decommission is two runs under the same lock: the first records `decommission: true` on every resource of
 *   the church, the second leaves the church out so the engine deletes them (see `decommission`).
 */
import { randomBytes } from 'crypto';
import * as os from 'os';
import type { Pool, PoolClient } from 'pg';
import type { Logger } from 'pino';
import { sleep, WakeableLoop, type PassOutcome } from '../common/timing';
import { backoffMs } from '../vendors/vendor-request';
import type { ChurchResource, LineStepEvent, StackRunResult, StackRunner } from '../stacks/provisioning-run';
import { recordLineStep } from '../registry/line-steps';
import { shardOfStack, stackOfShard } from '../common/fleet-shards';
import { getFleetLayout, migrationBlock } from '../registry/fleet-layout';
import {
  ChurchNotFoundError,
  churchesDueByClock,
  getChurch,
  markDecommissioned,
  markParked,
  requestDecommission,
  startParking,
  type Church,
  type ChurchStatus,
} from '../registry/churches';
import { PARKED_STATUSES, decideByClock, quarantineEnd } from '../registry/subscription-lifecycle';
import { recordTimeline } from '../registry/timeline';
import { withTransaction, type Queryable } from '../registry/db';
import { queueFounderNotification } from '../registry/founder-notifications';
import {
  claim,
  closeQueuedJobs,
  stacksWithWork,
  enqueue,
  listJobs,
  nextDueAt,
  requeueOrphaned,
  settle,
  unclaim,
  type LineReport,
  type ProvisioningJob,
} from '../registry/jobs';
import { graceExpiredEmail, provisioningFailedEmail, quarantineOverEmail, substituteNumberEmail } from './founder-mail';

/** How often a job is retried, and how far apart. */
export interface RetryBudget {
  /** Stack runs a job may ride before it fails for good and the founder is emailed. */
  maxAttempts: number;
  /** Backoff before the 2nd attempt; doubles each attempt (with jitter), capped at maxDelayMs. */
  baseDelayMs: number;
  maxDelayMs: number;
}

export interface WorkerOptions {
  pool: Pool;
  /** Runs the base stack. */
  runner: StackRunner;
  /** Runs a shard stack (by its name); without it, a church with a shard cannot be provisioned here. */
  runnerFor?: (stackName: string) => StackRunner;
  /** Stack runs (of different stacks) this process carries out at once (default 2, one per core here). */
  parallelStacks?: number;
  logger: Logger;
  /** The base stack: it names each shard stack and the cross-process run lock of each. */
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
  /** The clock grace periods and quarantines are measured by (tests move it; default the system clock). */
  now?: () => Date;
  /** Days a parked number is kept before the founder is reminded to decommission it (default 30). */
  quarantineDays?: number;
}

/** What the clock did in one sweep. */
export interface ClockSweep {
  /** Churches whose grace period ran out: their lines are being parked. */
  parking: string[];
  /** Churches whose quarantine ran out: the founder was reminded (once) to decommission them. */
  reminded: string[];
}

export interface RunReport {
  runId: string;
  /** The stack this run updated. */
  stack: string;
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

export interface DecommissionReport {
  churchId: string;
  /** True once the stack holds nothing of the church any more. */
  done: boolean;
  /** The church's registry status at the end (`decommission`: phase 1 not finished; `decommissioned`: phase 2). */
  status: ChurchStatus;
  /** The stack runs this call made (at most two). */
  runs: RunReport[];
  /** Resources of the church still in the state (nothing when done). */
  remaining: ChurchResource[];
  error?: string;
}

const newRunId = () =>
  `run-${new Date().toISOString().replace(/[-:.]/g, '').slice(0, 15)}-${randomBytes(3).toString('hex')}`;

/** The first failure of the runs, for a report. */
function runError(runs: RunReport[]): string | undefined {
  return runs.map((r) => r.result?.error?.message).find((m) => m !== undefined);
}

export class ProvisioningWorker {
  readonly workerId: string;
  private readonly log: Logger;
  private readonly engineLog: Logger;
  private readonly scrub: (text: string) => string;
  private readonly loop: WakeableLoop;
  private stopped = false;
  private readonly abort = new AbortController();
  /**
   * Stacks this process's queue runs are running now, so a second caller (the loop and `runOnce` at the same time)
   * never starts the same stack twice; a decommission waits on the stack's advisory lock instead.
   */
  private readonly stacksRunning = new Set<string>();

  constructor(private readonly options: WorkerOptions) {
    this.workerId = options.workerId ?? `${os.hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    this.log = options.logger.child({ component: 'worker', workerId: this.workerId, stack: options.stackName });
    this.engineLog = options.logger.child({ component: 'engine', stack: options.stackName });
    this.scrub = options.scrub ?? ((text) => text);
    this.loop = new WakeableLoop({
      pass: () => this.pass(),
      restMs: async () => {
        const due = await nextDueAt(this.options.pool);
        return due ? Math.min(this.pollIntervalMs, due.getTime() - Date.now()) : this.pollIntervalMs;
      },
      onError: (error) => this.log.error({ err: error }, 'provisioning cycle failed; retrying at the next poll'),
    });
  }

  /** Re-queues what a dead process left running, then works the queue until stopped. */
  start(): void {
    this.log.info('provisioning worker started');
    this.wake();
  }

  /** Something was queued: run soon (a run in progress is followed by another that picks it up). */
  wake(): void {
    this.loop.wake();
  }

  /**
   * Resolves when no job is queued or running any more, waiting through backoffs (tests, the CLI). Rejects if
   * the worker is stopped first.
   */
  async whenIdle(): Promise<void> {
    for (;;) {
      if (this.stopped) throw new Error('worker stopped before the queue drained');
      if (this.loop.isRunning) {
        await this.loop.idle();
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
    if (options.abortRun) this.abort.abort(new Error('worker stopping'));
    await this.loop.stop();
    this.log.info('provisioning worker stopped');
  }

  private get pollIntervalMs(): number {
    return this.options.pollIntervalMs ?? 5000;
  }

  /**
   * One pass of the loop: gather the purchases of the next moment into one run, run it, and go round again while
   * runs find jobs (purchases that arrived during a run wait for the next). A stack busy elsewhere: rest.
   */
  private async pass(): Promise<PassOutcome> {
    await sleep(this.options.gatherMs ?? 250);
    if (this.stopped) return 'rest';
    await this.sweepClock();
    const reports = await this.runStacksWithWork();
    // Go round again while runs find jobs; stacks other processes hold are theirs to run.
    return reports.some((r) => r.jobs.length > 0) ? 'again' : 'rest';
  }

  /**
   * What the passing of time does (registry/subscription-lifecycle.ts, decideByClock): a grace period that ran out
   * parks the line (a job is queued, the founder told once); a quarantine that ran out reminds the founder, once, that
   * only a decommission releases the number. Nothing is ever released here. Safe to run from every instance at once:
   * each change is one transaction that re-reads the church, and every email has its dedupe key.
   */
  async sweepClock(): Promise<ClockSweep> {
    const now = this.options.now?.() ?? new Date();
    const sweep: ClockSweep = { parking: [], reminded: [] };
    let emailed = false;
    let queued = false;
    for (const due of await churchesDueByClock(this.options.pool, now)) {
      await withTransaction(this.options.pool, async (tx) => {
        const church = await getChurch(tx, due.churchId, { forUpdate: true });
        const decision = church && decideByClock(church, now);
        if (!church || !decision) return;
        if (decision.kind === 'grace-expired') {
          const parkedAt = church.graceUntil!;
          const change = await startParking(tx, church.churchId, {
            parkedAt,
            quarantineUntil: quarantineEnd(parkedAt, this.options.quarantineDays),
          });
          if (!change.changed) return;
          await recordTimeline(tx, {
            churchId: church.churchId,
            kind: 'grace-expired',
            fromStatus: church.status,
            toStatus: 'parking',
            actor: 'service',
            occurredAt: parkedAt,
            cause: 'grace period over',
            detail: 'the payment was not recovered in time: the line is parked (the number is kept)',
          });
          queued = (await enqueue(tx, church.churchId, 'park: grace period over')).created || queued;
          const email = graceExpiredEmail({ church: change.church, stackName: this.options.stackName });
          emailed =
            (await queueFounderNotification(tx, {
              dedupeKey: `grace-expired:${church.churchId}:${parkedAt.toISOString()}`,
              churchId: church.churchId,
              subject: email.subject,
              body: email.body,
            })) || emailed;
          sweep.parking.push(church.churchId);
          return;
        }
        const email = quarantineOverEmail({ church, stackName: this.options.stackName });
        const reminded = await queueFounderNotification(tx, {
          dedupeKey: `quarantine-over:${church.churchId}:${church.quarantineUntil!.toISOString()}`,
          churchId: church.churchId,
          subject: email.subject,
          body: email.body,
        });
        await tx.query('update churches set quarantine_reminded_at = $2 where church_id = $1', [church.churchId, now]);
        if (!reminded) return;
        await recordTimeline(tx, {
          churchId: church.churchId,
          kind: 'quarantine-over',
          fromStatus: 'parked',
          toStatus: 'parked',
          actor: 'service',
          occurredAt: church.quarantineUntil!,
          cause: 'quarantine over',
          detail: 'the number is still owned; the founder was reminded that only a decommission releases it',
        });
        emailed = true;
        sweep.reminded.push(church.churchId);
      });
    }
    if (sweep.parking.length) this.log.info({ churches: sweep.parking }, 'grace period over: parking lines');
    if (sweep.reminded.length) this.log.info({ churches: sweep.reminded }, 'quarantine over: founder reminded');
    if (emailed) this.options.onFounderNotification?.();
    if (queued) this.wake();
    return sweep;
  }

  /**
   * One cycle: take the stack's run lock (or give up if another process holds it), re-queue orphans, claim every
   * due job, run the stack once, settle each job. Callers outside the loop (the CLI) may use it directly.
   */
  async runOnce(): Promise<RunReport> {
    const runId = newRunId();
    const reports = await this.runStacksWithWork();
    if (reports.length === 1) return reports[0];
    const stack = this.options.stackName;
    if (reports.length === 0) return { runId, stack, jobs: [], settled: [], recovered: [], skipped: 'nothing-due' };
    // Several stacks ran: one report of them all, the last run's result standing for the others'.
    const ran = reports.filter((r) => !r.skipped);
    return {
      runId: reports.map((r) => r.runId).join(','),
      stack: reports.map((r) => r.stack).join(','),
      jobs: reports.flatMap((r) => r.jobs),
      settled: reports.flatMap((r) => r.settled),
      recovered: reports.flatMap((r) => r.recovered),
      result: ran[ran.length - 1]?.result,
      skipped: ran.length === 0 ? reports[0].skipped : undefined,
    };
  }

  /** The stack a church's line is in. */
  stackOf(church: Pick<Church, 'shard'>): string {
    return stackOfShard(this.options.stackName, church.shard);
  }

  private runnerOf(stack: string): StackRunner {
    if (stack === this.options.stackName) return this.options.runner;
    if (!this.options.runnerFor)
      throw new Error(`stack ${stack} is a shard stack, and this worker was given no runner for shard stacks`);
    return this.options.runnerFor(stack);
  }

  /**
   * Runs each stack that has work, `parallelStacks` at a time; a stack whose run lock another process holds is
   * skipped (that process runs it). A stack already being run by this process is not started twice.
   */
  async runStacksWithWork(): Promise<RunReport[]> {
    const blocked = migrationBlock(await getFleetLayout(this.options.pool));
    if (blocked) {
      // Jobs wait, queued: nothing is lost, and they run once the split is finished.
      this.log.warn(blocked);
      return [];
    }
    const shards = await stacksWithWork(this.options.pool);
    const reports: RunReport[] = [];
    let next = 0;
    const lane = async () => {
      while (next < shards.length) {
        const shard = shards[next++];
        const stack = stackOfShard(this.options.stackName, shard);
        if (this.stacksRunning.has(stack)) continue;
        this.stacksRunning.add(stack);
        try {
          const runId = newRunId();
          const report = await this.withStackLock(stack, runId, (recovered) =>
            this.claimAndRun(stack, runId, '', recovered),
          );
          reports.push(report ?? { runId, stack, jobs: [], settled: [], recovered: [], skipped: 'stack-busy' });
        } finally {
          this.stacksRunning.delete(stack);
        }
      }
    };
    const lanes = Math.max(1, Math.min(this.options.parallelStacks ?? 2, shards.length));
    await Promise.all(Array.from({ length: lanes }, lane));
    return reports;
  }

  /**
   * Releases a church's line, in two stack runs under the run lock (waiting while another process runs the stack):
   * 1. the church is marked `decommission`; the run declares it with `decommission: true`, which the providers
   *    record on the number, trunk, rule and row (and the test ring goes: it owns nothing);
   * 2. once the state shows the decommission on every resource, the church is marked `decommissioned`; the program
   *    leaves it out and the run deletes what it had: the number is released at Telnyx, the trunk and rule go
   *    from LiveKit, the row from church_voice_agents.
   * Each run also provisions whatever else is due. Safe to repeat: it picks up at the phase the church is in.
   */
  async decommission(churchId: string): Promise<DecommissionReport> {
    const known = await getChurch(this.options.pool, churchId);
    if (!known) throw new ChurchNotFoundError(churchId);
    const stack = this.stackOf(known);
    const runner = this.runnerOf(stack);
    if (!runner.churchResources)
      throw new Error('decommission needs a stack runner that can read the state (VoiceStackRunner)');
    const resourcesOf = () => runner.churchResources!(churchId);
    for (;;) {
      const runId = newRunId();
      // undefined: another process held the run lock, or another engine the stack: wait, then go on from there.
      const outcome = await this.withStackLock(
        stack,
        runId,
        async (recovered): Promise<DecommissionReport | undefined> => {
          const report: DecommissionReport = { churchId, done: false, runs: [], remaining: [], status: 'active' };
          const church = await getChurch(this.options.pool, churchId);
          if (!church) throw new ChurchNotFoundError(churchId);
          let resources = await resourcesOf();
          // Marked decommissioned by hand while something still lacks the recorded decommission: phase 1 again.
          const reopen = church.status === 'decommissioned' && resources.some((r) => !r.decommission);
          if (church.status !== 'decommission' && (church.status !== 'decommissioned' || reopen)) {
            await withTransaction(this.options.pool, async (tx) => {
              await requestDecommission(tx, churchId, { reopen });
              await closeQueuedJobs(tx, churchId, 'church decommissioned: its line is released instead of provisioned');
            });
            this.log.info({ churchId, from: church.status }, 'church marked for decommission');
          }
          if ((await getChurch(this.options.pool, churchId))!.status === 'decommission') {
            if (resources.some((r) => !r.decommission)) {
              const run = await this.claimAndRun(
                stack,
                runId,
                `decommission ${churchId} (1/2: record decommission)`,
                recovered.splice(0),
                [churchId],
              );
              if (run.skipped === 'stack-busy') return undefined;
              report.runs.push(run);
              resources = await resourcesOf();
            }
            const unrecorded = resources.filter((r) => !r.decommission);
            if (unrecorded.length > 0) {
              report.status = 'decommission';
              report.remaining = unrecorded;
              report.error =
                `the decommission of church ${churchId} is not recorded ` +
                `on ${unrecorded.map((r) => r.urn.split('::').pop()).join(', ')}: ` +
                `${runError(report.runs) ?? 'see the engine output'}`;
              return report;
            }
            await markDecommissioned(this.options.pool, churchId);
            this.log.info(
              { churchId, resources: resources.length },
              'decommission recorded on every resource; church marked decommissioned',
            );
          }
          if (resources.length > 0) {
            const run = await this.claimAndRun(
              stack,
              `${runId}-release`,
              `decommission ${churchId} (2/2: release)`,
              recovered.splice(0),
              [churchId],
            );
            if (run.skipped === 'stack-busy') return undefined;
            report.runs.push(run);
            resources = await resourcesOf();
          }
          report.status = 'decommissioned';
          report.remaining = resources;
          if (resources.length > 0) {
            report.error =
              `church ${churchId} still has ${resources.map((r) => r.urn.split('::').pop()).join(', ')} after the ` +
              `release run: ${runError(report.runs) ?? 'see the engine output'}`;
            return report;
          }
          report.done = true;
          this.log.info({ churchId }, 'church decommissioned: number, trunk, rule and row released');
          return report;
        },
      );
      if (outcome) return outcome;
      if (this.stopped) throw new Error('worker stopped while waiting for the stack');
      await sleep(this.pollIntervalMs);
    }
  }

  /**
   * Runs `body` holding the stack's cross-process run lock, after re-queueing what a dead process left running.
   * Returns undefined when another process holds the lock.
   */
  private async withStackLock<T>(
    stack: string,
    runId: string,
    body: (recovered: ProvisioningJob[]) => Promise<T>,
  ): Promise<T | undefined> {
    const lockClient = await this.options.pool.connect();
    const lockKey = this.lockKey(stack);
    let locked = false;
    let broken = false;
    try {
      locked = await this.tryLock(lockClient, lockKey);
      if (!locked) {
        this.log.info({ runId, stack }, 'another process is running this stack; will look again later');
        return undefined;
      }
      // Holding this stack's lock, its jobs still `running` were left by a dead run (other stacks' are not ours).
      const recovered = await requeueOrphaned(this.options.pool, 'interrupted: a worker stopped during the stack run', {
        shard: shardOfStack(stack).shard,
      });
      for (const job of recovered) {
        this.log.warn(
          { jobId: job.id, churchId: job.churchId, note: job.lastError },
          'job left running by a dead worker queued again',
        );
      }
      return await body(recovered);
    } catch (error) {
      broken = true;
      throw error;
    } finally {
      if (locked) {
        await lockClient.query('select pg_advisory_unlock(hashtext($1))', [lockKey]).catch(() => {
          broken = true;
        });
      }
      // A connection that failed mid-cycle is destroyed, which also drops any lock it still held.
      lockClient.release(broken);
    }
  }

  /** Claims every due job and runs the stack once for them (also with none, when `purpose` says why). */
  private async claimAndRun(
    stack: string,
    runId: string,
    purpose: string,
    recovered: ProvisioningJob[],
    forChurches: string[] = [],
  ): Promise<RunReport> {
    const report: RunReport = { runId, stack, jobs: [], settled: [], recovered };
    report.jobs = await claim(this.options.pool, {
      workerId: this.workerId,
      runId,
      stack: { shard: shardOfStack(stack).shard },
    });
    if (report.jobs.length === 0 && !purpose) return { ...report, skipped: 'nothing-due' };
    report.result = await this.runStack(stack, runId, report.jobs, purpose, forChurches);
    if (report.result.busy) {
      // Nothing ran: the jobs go back as they were, due at the next look.
      await unclaim(this.options.pool, report.jobs, runId, new Date(Date.now() + this.pollIntervalMs));
      this.log.info(
        { runId, jobs: report.jobs.map((j) => j.id), reason: report.result.error?.message },
        'stack busy; jobs given back to the queue',
      );
      return { ...report, skipped: 'stack-busy' };
    }
    report.settled = await this.settleAll(stack, runId, report.jobs, report.result);
    return report;
  }

  /** The cross-process run lock of one stack (the base stack's key is the one a single-stack fleet always used). */
  private lockKey(stack: string): string {
    return `churchwise-voice:stack-run:${stack}`;
  }

  private async tryLock(client: PoolClient, lockKey: string): Promise<boolean> {
    const { rows } = await client.query<{ locked: boolean }>('select pg_try_advisory_lock(hashtext($1)) as locked', [
      lockKey,
    ]);
    return rows[0].locked;
  }

  private async runStack(
    stack: string,
    runId: string,
    jobs: ProvisioningJob[],
    purpose = '',
    forChurches: string[] = [],
  ): Promise<StackRunResult> {
    const churches = jobs.map((j) => j.churchId);
    const log = this.log.child({ runId, stack });
    log.info({ churches, jobs: jobs.map((j) => j.id), purpose: purpose || undefined }, 'stack run starting');
    const engineLog = this.engineLog.child({ runId, stack });
    const reasons = [purpose, ...jobs.map((j) => `${j.churchId} (${j.reason})`)].filter(Boolean);
    let result: StackRunResult;
    // Each step of the churches this run is for goes into the registry as it happens (the pastor's status page).
    const wanted = new Set(churches);
    const recording: Promise<void>[] = [];
    const onStep = (step: LineStepEvent) => {
      if (!wanted.has(step.churchId)) return;
      const detail = step.detail === undefined ? undefined : this.scrub(step.detail);
      recording.push(
        recordLineStep(this.options.pool, { ...step, detail, runId }).catch((error) =>
          log.warn({ err: error, churchId: step.churchId, step: step.step }, 'line step not recorded'),
        ),
      );
    };
    try {
      result = await this.runnerOf(stack).provision({
        reason: `${runId}: ${reasons.join(', ')}`.slice(0, 1000),
        // A shard stack holds nothing but churches: a run updates only its jobs' churches (stacks/provisioning-run.ts
        // churchTargets), however full the shard is. The base stack runs whole: it also adopts the shared objects
        // (the locked trunk, the lines in service), which a run targeted at churches would never reach.
        churchIds: shardOfStack(stack).shard === null ? undefined : [...new Set([...churches, ...forChurches])],
        onOutput: (chunk) => {
          for (const line of chunk.split('\n')) if (line.trim()) engineLog.info(this.scrub(line.replace(/\s+$/, '')));
        },
        onStep,
        signal: this.abort.signal,
      });
    } catch (error) {
      result = {
        ok: false,
        churches: [],
        error: { message: error instanceof Error ? error.message : String(error), failedStep: 'engine' },
      };
    }
    await Promise.all(recording);
    const scrubbed = (failure?: { message: string }) => failure && { ...failure, message: this.scrub(failure.message) };
    if (result.ok) log.info({ lines: result.churches.length, recovered: result.recovered }, 'stack run succeeded');
    else if (result.busy)
      log.info({ reason: result.error?.message, recovered: result.recovered }, 'stack run did not start: stack busy');
    else
      log.warn(
        { error: scrubbed(result.error), failures: result.failures?.map(scrubbed), recovered: result.recovered },
        'stack run failed',
      );
    return result;
  }

  /**
   * The number the church asked for (its pastor's hold) was gone at purchase and another was bought in its area
   * code: the timeline says so and the founder is told once; the pastor's status page shows it from the registry.
   */
  private async noteSubstitute(tx: Queryable, church: Church, phoneNumber: string): Promise<boolean> {
    const email = substituteNumberEmail({ church, phoneNumber, stackName: this.options.stackName });
    const told = await queueFounderNotification(tx, {
      dedupeKey: `substitute:${church.churchId}:${church.requestedNumber}:${phoneNumber}`,
      churchId: church.churchId,
      subject: email.subject,
      body: email.body,
    });
    if (told) {
      await recordTimeline(tx, {
        churchId: church.churchId,
        kind: 'number-substituted',
        fromStatus: church.status,
        toStatus: church.status,
        actor: 'service',
        detail: `${church.requestedNumber} was gone at purchase; the line got ${phoneNumber} in the same area code`,
      });
    }
    return told;
  }

  /**
   * Why a parked church's line is not in the shape its phase needs (undefined: it is), from the state: while
   * `parking` the trunk and rule must carry their recorded removal, once `parked` they must be gone. A runner that
   * cannot read the state (tests' doubles) is taken at its word.
   */
  private async parkingProblem(stack: string, church: Church): Promise<string | undefined> {
    const runner = this.runnerOf(stack);
    if (!runner.churchResources) return undefined;
    const liveKit = (await runner.churchResources(church.churchId)).filter(
      (r) => r.step === 'livekit-trunk' || r.step === 'dispatch-rule',
    );
    const names = (list: ChurchResource[]) => list.map((r) => r.urn.split('::').pop()).join(', ');
    if (church.status === 'parking') {
      const unmarked = liveKit.filter((r) => !r.decommission);
      if (unmarked.length === 0) return undefined;
      return (
        `church ${church.churchId} was not parked: ${names(unmarked)} still lack their recorded removal ` +
        `(is fallbackTexmlAppId set in the stack ${stack}? the preview warns when it is not)`
      );
    }
    if (liveKit.length === 0) return undefined;
    return `church ${church.churchId} is parked but ${names(liveKit)} are still in the stack after the removal run`;
  }

  /** What the run means for one job's church: its own failure, else its line as this run reported it. */
  private outcomeFor(job: ProvisioningJob, result: StackRunResult, parked = false): JobOutcome {
    const line = result.churches.find((c) => c.churchId === job.churchId);
    const failure =
      result.failures?.find((f) => f.churchId === job.churchId) ??
      (result.error?.churchId === job.churchId ? result.error : undefined);
    if (failure) {
      return {
        ok: false,
        error: this.scrub(failure.message || 'the stack run failed without an error message'),
        failedStep: failure.failedStep ?? 'engine',
        line,
      };
    }
    if (!line) {
      // Not reached: the run failed as a whole (program, engine) or stopped at another church first.
      const general = result.error && result.error.churchId === undefined ? result.error : undefined;
      if (general)
        return {
          ok: false,
          error: this.scrub(general.message || 'the stack run failed without an error message'),
          failedStep: general.failedStep ?? 'engine',
        };
      const why = result.ok
        ? `the stack run succeeded but reported no line for church ${job.churchId}`
        : `the stack run stopped at church ${result.error?.churchId} ` +
          `(${result.error?.failedStep ?? 'engine'}: ${result.error?.message}) ` +
          `before church ${job.churchId} was provisioned`;
      return { ok: false, error: this.scrub(why), failedStep: 'engine' };
    }
    if (line.ring && !line.ring.ok) {
      return {
        ok: false,
        error: `test ring of ${line.phoneNumber ?? 'the new number'} failed: ${line.ring.cause ?? 'no cause given'}`,
        failedStep: 'test-ring',
        line,
      };
    }
    // A parked line has a number and no trunk.
    if (!line.phoneNumber || (!line.trunkId && !parked)) {
      return {
        ok: false,
        error: `the stack run reported an incomplete line for church ${job.churchId}`,
        failedStep: 'engine',
        line,
      };
    }
    // This church's line is complete in this run, whatever else failed.
    return { ok: true, line };
  }

  private async settleAll(
    stack: string,
    runId: string,
    jobs: ProvisioningJob[],
    result: StackRunResult,
  ): Promise<ProvisioningJob[]> {
    const settled: ProvisioningJob[] = [];
    let emailed = false;
    for (const job of jobs) {
      const before = await getChurch(this.options.pool, job.churchId);
      const parked = before !== undefined && PARKED_STATUSES.includes(before.status);
      let outcome = this.outcomeFor(job, result, parked);
      const parkingShapeProblem = outcome.ok && before && parked ? await this.parkingProblem(stack, before) : undefined;
      if (parkingShapeProblem)
        outcome = { ok: false, error: parkingShapeProblem, failedStep: 'engine', line: outcome.line };
      let changedDuringRun = false;
      let parkingMovedOn = false;
      const done = await withTransaction(this.options.pool, async (tx) => {
        if (outcome.ok) {
          // The church changed after this run claimed it (a second event of its subscription, a new area code):
          // the run may have read the registry before that, and no other job exists to carry the change (one
          // open job per church), so this one goes round again instead of closing. No attempt is spent.
          const church = await getChurch(tx, job.churchId);
          if (church && job.lockedAt && church.updatedAt > job.lockedAt) {
            changedDuringRun = true;
            return (await unclaim(tx, [job], runId, new Date()))[0];
          }
          // Parking's first run recorded the trunk's and rule's removal: the second run (this job again, no
          // attempt spent) leaves them out and the engine deletes them.
          if (church?.status === 'parking') {
            await markParked(tx, job.churchId);
            parkingMovedOn = true;
            return (await unclaim(tx, [job], runId, new Date()))[0];
          }
          const settled = await settle(tx, { id: job.id, runId }, outcome);
          if (
            church?.requestedNumber &&
            outcome.line.phoneNumber &&
            outcome.line.phoneNumber !== church.requestedNumber
          )
            emailed = (await this.noteSubstitute(tx, church, outcome.line.phoneNumber)) || emailed;
          return settled;
        }
        const retryAt =
          job.attempts < this.options.retry.maxAttempts
            ? new Date(
                Date.now() +
                  backoffMs({ attempts: this.options.retry.maxAttempts, ...this.options.retry }, job.attempts),
              )
            : undefined;
        const after = await settle(tx, { id: job.id, runId }, { ...outcome, retryAt });
        if (after?.state === 'failed') {
          const church = await getChurch(tx, job.churchId);
          const email = provisioningFailedEmail({
            job: after,
            church,
            failedStep: outcome.failedStep,
            error: outcome.error,
            stackName: stack,
          });
          emailed =
            (await queueFounderNotification(tx, {
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
      if (changedDuringRun)
        this.log.info(fields, 'church changed during the run; queued again so the next run applies the change');
      else if (parkingMovedOn)
        this.log.info(fields, 'parking 1/2 done (number on the fallback, removal recorded); next run removes them');
      else if (done.state === 'succeeded')
        this.log.info({ ...fields, phoneNumber: done.phoneNumber }, 'church line live');
      else if (done.state === 'queued')
        this.log.warn(
          { ...fields, failedStep: done.failedStep, error: done.lastError, retryAt: done.nextAttemptAt },
          'provisioning attempt failed; will retry',
        );
      else
        this.log.error(
          { ...fields, failedStep: done.failedStep, error: done.lastError },
          'provisioning failed for good; founder emailed',
        );
    }
    if (emailed) this.options.onFounderNotification?.();
    return settled;
  }
}
