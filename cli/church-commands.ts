/**
 * The founder's hand tools over the registry and the queue (the commands the failure emails name):
 *
 *   churchwise church provision --church <id> [--area-code NPA] [--name NAME]
 *       queue the church (adding it with --area-code if it is new) and run the stack once, now; prints the status.
 *   churchwise church status --church <id>
 *   churchwise church decommission --church <id>
 *       release the church's line: two stack runs, the first records the decommission on every resource, the
 *       second deletes them (the number is released at Telnyx, trunk and rule leave LiveKit, the row goes).
 *       Safe to run again after a failure: it continues from the phase the church is in.
 *   churchwise church link --church <id> --name NAME [--days N]
 *       print the link the pastor follows to pick, hold and pay for the church's number (signed with
 *       PASTOR_LINK_SECRET, valid N days, default 7; PUBLIC_BASE_URL is where the service is reached).
 *
 * Environment: DATABASE_URL (the registry), PULUMI_STACK (default prod), PULUMI_WORK_DIR (default this
 * repository), and whatever the engine needs (PULUMI_BACKEND_URL, PULUMI_CONFIG_PASSPHRASE, vendor credentials),
 * as for the service. The runs take the same cross-process lock as the service's worker: a run of the service in
 * progress is waited for.
 */
import { parseArgs } from 'util';
import { Pool } from 'pg';
import { checkChurchId, churchStatus, enqueue, getChurch, getJob, upsertChurch, withTransaction } from '../registry';
import { signPastorLink } from '../webhook/pastor/link';
import { fleetRunners } from '../stacks/provisioning-run';
import { ConfigError, MIN_LINK_SECRET_LENGTH, loadConfig, voiceStackOptions } from '../webhook/config';
import { createLogger, secretScrubber } from '../common/logger';
import { ProvisioningWorker } from '../worker/provisioning-worker';
import { UsageError } from './usage';
import { sleep } from '../common/timing';

export const CHURCH_USAGE =
  '  church provision|status|decommission --church <id> [--area-code NPA] [--name NAME]\n' +
  '  church link --church <id> --name NAME [--days N]';

/** The pastor's picker link for a church (no database needed: the link carries the church). */
function pastorLink(churchId: string, name: string | undefined, days: string | undefined): number {
  if (!name?.trim()) throw new UsageError(`church link needs --name (the church's name, shown on its pages)`);
  const secret = process.env.PASTOR_LINK_SECRET?.trim();
  if (!secret || secret.length < MIN_LINK_SECRET_LENGTH)
    throw new ConfigError('PASTOR_LINK_SECRET', `must be set, at least ${MIN_LINK_SECRET_LENGTH} characters`);
  const validDays = days === undefined ? undefined : Number(days);
  if (validDays !== undefined && (!Number.isInteger(validDays) || validDays < 1 || validDays > 90))
    throw new UsageError(`--days must be a whole number of days from 1 to 90, got ${JSON.stringify(days)}`);
  const base = (process.env.PUBLIC_BASE_URL?.trim() || 'http://127.0.0.1:8787').replace(/\/$/, '');
  const token = signPastorLink(secret, { churchId, churchName: name.trim() }, { days: validDays });
  console.log(`${base}/start/${token}`);
  return 0;
}

function databaseUrl(): string {
  const url = process.env.DATABASE_URL?.trim();
  if (!url) throw new ConfigError('DATABASE_URL', 'missing environment variable');
  return url;
}

/** A worker on the stack with the service's settings (retry budget, stack) when its environment is complete. */
function cliWorker(pool: Pool): ProvisioningWorker {
  let retry = { maxAttempts: 5, baseDelayMs: 60000, maxDelayMs: 1800000 };
  try {
    retry = loadConfig().retry;
  } catch {
    /* only DATABASE_URL is needed here */
  }
  const stackName = process.env.PULUMI_STACK?.trim() || 'prod';
  const secrets = [process.env.DATABASE_URL ?? '', process.env.PULUMI_CONFIG_PASSPHRASE ?? ''].filter(
    (s) => s.length >= 6,
  );
  const logger = createLogger({ level: process.env.LOG_LEVEL?.trim() || 'info', secrets });
  const runners = fleetRunners(
    voiceStackOptions({
      stackName,
      workDir: process.env.PULUMI_WORK_DIR?.trim() || undefined,
      databaseUrl: databaseUrl(),
    }),
  );
  return new ProvisioningWorker({
    pool,
    ...runners,
    logger,
    stackName,
    retry,
    scrub: secretScrubber(secrets),
  });
}

async function provision(
  pool: Pool,
  churchId: string,
  areaCode: string | undefined,
  name: string | undefined,
): Promise<boolean> {
  const { job } = await withTransaction(pool, async (tx) => {
    const existing = await getChurch(tx, churchId, { forUpdate: true });
    if (!existing || areaCode || name) {
      await upsertChurch(tx, { churchId, areaCode, name, plan: existing ? undefined : 'manual', activate: true });
    }
    return enqueue(tx, churchId, 'cli provision');
  });
  const worker = cliWorker(pool);
  // If the service is running the stack right now, wait for it: its run may carry this job.
  for (;;) {
    const current = await getJob(pool, job.id);
    if (current && current.state !== 'queued') break;
    const report = await worker.runOnce();
    if (report.skipped !== 'stack-busy') break;
    await sleep(5000);
  }
  while ((await getJob(pool, job.id))?.state === 'running') await sleep(5000);
  const status = await churchStatus(pool, churchId);
  console.log(JSON.stringify(status, null, 2));
  return status?.state === 'live';
}

async function decommission(pool: Pool, churchId: string): Promise<boolean> {
  const report = await cliWorker(pool).decommission(churchId);
  const summary = {
    churchId: report.churchId,
    done: report.done,
    registryStatus: report.status,
    runs: report.runs.map((r) => ({ runId: r.runId, ok: r.result?.ok ?? false, jobs: r.jobs.length })),
    remaining: report.remaining.map((r) => r.urn),
    error: report.error,
  };
  console.log(JSON.stringify(summary, null, 2));
  if (report.done)
    console.log(`church ${churchId} decommissioned: its number, trunk, dispatch rule and row are released`);
  else
    console.error(
      `church ${churchId} is not fully decommissioned yet: ${report.error}; ` +
        `run this command again once the cause is fixed`,
    );
  return report.done;
}

export async function runChurchCommand(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      church: { type: 'string' },
      'area-code': { type: 'string' },
      name: { type: 'string' },
      days: { type: 'string' },
    },
  });
  const [command] = positionals;
  const churchId = values.church;
  if (!command || !churchId) throw new UsageError(`church needs a command and --church <id>\n${CHURCH_USAGE}`);
  if (command === 'link') {
    const failure = checkChurchId('--church', churchId);
    if (failure) throw new UsageError(failure.reason);
    return pastorLink(churchId, values.name, values.days);
  }
  const pool = new Pool({ connectionString: databaseUrl(), max: 3 });
  try {
    switch (command) {
      case 'provision':
        return (await provision(pool, churchId, values['area-code'], values.name)) ? 0 : 1;
      case 'status': {
        const status = await churchStatus(pool, churchId);
        if (!status) {
          console.error(`church ${churchId} is not in the registry`);
          return 1;
        }
        console.log(JSON.stringify(status, null, 2));
        return 0;
      }
      case 'decommission':
        return (await decommission(pool, churchId)) ? 0 : 1;
      default:
        throw new UsageError(`unknown church command ${command}\n${CHURCH_USAGE}`);
    }
  } finally {
    await pool.end();
  }
}
