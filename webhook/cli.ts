/**
 * The founder's hand tools over the registry and the queue (the commands the failure emails name):
 *
 *   npx ts-node --transpile-only webhook/cli.ts provision --church <id> [--area-code NPA] [--name NAME]
 *       queue the church (adding it with --area-code if it is new) and run the stack once, now; prints the status.
 *   npx ts-node --transpile-only webhook/cli.ts status --church <id>
 *   npx ts-node --transpile-only webhook/cli.ts decommission --church <id>
 *       mark the church's line for release; the next stack run (`pulumi up -s <stack>`) releases it.
 *
 * Environment: DATABASE_URL (the registry), PULUMI_STACK (default prod), and whatever the engine needs
 * (PULUMI_BACKEND_URL, PULUMI_CONFIG_PASSPHRASE, vendor credentials), as for the service.
 */
import { parseArgs } from 'util';
import { Pool } from 'pg';
import {
  RegistryInputError,
  churchStatus,
  enqueue,
  getChurch,
  getJob,
  requestDecommission,
  upsertChurch,
  withTransaction,
} from '../registry';
import { VoiceStackRunner } from '../stacks/provisioning-run';
import { ConfigError, loadConfig } from './config';
import { createLogger, secretScrubber } from './logger';
import { ProvisioningWorker } from './worker';

const USAGE = 'usage: webhook/cli.ts provision|status|decommission --church <id> [--area-code NPA] [--name NAME]';

function databaseUrl(): string {
  const url = process.env.DATABASE_URL?.trim();
  if (!url) throw new ConfigError('DATABASE_URL', 'missing environment variable');
  return url;
}

async function provision(pool: Pool, churchId: string, areaCode: string | undefined, name: string | undefined): Promise<boolean> {
  const { job } = await withTransaction(pool, async (tx) => {
    const existing = await getChurch(tx, churchId, { forUpdate: true });
    if (!existing || areaCode || name) {
      await upsertChurch(tx, { churchId, areaCode, name, plan: existing ? undefined : 'manual', activate: true });
    }
    return enqueue(tx, churchId, 'cli provision');
  });
  // The service's own settings (retry budget, stack) when its environment is complete; defaults otherwise.
  let retry = { maxAttempts: 5, baseDelayMs: 60000, maxDelayMs: 1800000 };
  try {
    retry = loadConfig().retry;
  } catch {
    /* only DATABASE_URL is needed here */
  }
  const stackName = process.env.PULUMI_STACK?.trim() || 'prod';
  const secrets = [process.env.DATABASE_URL ?? ''].filter(Boolean);
  const logger = createLogger({ level: 'info', secrets });
  const worker = new ProvisioningWorker({
    pool,
    runner: new VoiceStackRunner({ stackName, registryDatabaseUrl: databaseUrl() }),
    logger,
    stackName,
    retry,
    scrub: secretScrubber(secrets),
  });
  // If the service is running the stack right now, wait for it: its run may carry this job.
  for (;;) {
    const current = await getJob(pool, job.id);
    if (current && current.state !== 'queued') break;
    const report = await worker.runOnce();
    if (report.skipped !== 'stack-busy') break;
    await new Promise((resolve) => setTimeout(resolve, 5000));
  }
  while ((await getJob(pool, job.id))?.state === 'running') await new Promise((resolve) => setTimeout(resolve, 5000));
  const status = await churchStatus(pool, churchId);
  console.log(JSON.stringify(status, null, 2));
  return status?.state === 'live';
}

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { church: { type: 'string' }, 'area-code': { type: 'string' }, name: { type: 'string' } },
  });
  const [command] = positionals;
  const churchId = values.church;
  if (!command || !churchId) {
    console.error(USAGE);
    return 2;
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
      case 'decommission': {
        const { church, changed } = await requestDecommission(pool, churchId);
        const stack = process.env.PULUMI_STACK?.trim() || 'prod';
        console.log(
          changed
            ? `church ${church.churchId} marked for decommission; run \`pulumi up -s ${stack}\` to release its line`
            : `church ${church.churchId} is already ${church.status}`,
        );
        return 0;
      }
      default:
        console.error(`unknown command ${command}\n${USAGE}`);
        return 2;
    }
  } finally {
    await pool.end();
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error) => {
      if (error instanceof RegistryInputError) console.error(`refused: ${error.message}`);
      else if (error instanceof ConfigError) console.error(`configuration error: ${error.message}`);
      else console.error(`failed: ${(error as Error).message}`);
      process.exit(1);
    },
  );
}
