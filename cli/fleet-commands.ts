/**
 * The founder's checks on a stack's lines:
 *
 *   drift  [--json] [--email]   what was changed by hand since the last `pulumi up`, per church; exit 0 none, 2 drift
 *   doctor [--json]             the design document's gotchas on the live systems; exit 0 ok, 2 findings
 *   ring   --church <id> [--json] [--timeout <secs>]   a test call to the church's line now; exit 0 ok, 1 failed
 *   lines  [--json]             the stack's lines as its last update left them (no vendor is called)
 *
 * Every command: `--stack <name>` (default PULUMI_STACK, else prod), `--cwd <dir>` (folder with Pulumi.yaml and
 * Pulumi.<stack>.yaml; default this repository). Exit code 1 is an error (nothing could be checked). Backend,
 * passphrase and vendor settings come from the stack's config and the environment (on the sandbox:
 * `eval "$(./dev sandbox env)"`, which `./dev drift` and friends do for `--stack dev` by themselves).
 */
import { parseArgs } from 'util';
import { driftReport, emailDriftReport, renderDrift } from '../checks/drift';
import { renderDoctor, runDoctor } from '../checks/doctor';
import { renderLines } from '../checks/line-table';
import { renderRing, ringChurch } from '../checks/ring';
import { openLiveSystems, stackLines } from '../stacks/live-systems';
import { UsageError } from './usage';
import { progressToStderr, requireEmailSettings, stackOptionsFrom } from './stack-flags';
import { Pool } from 'pg';
import { stackOfChurch } from '../stacks/fleet-stacks';

async function withRegistry<T>(databaseUrl: string, body: (pool: Pool) => Promise<T>): Promise<T> {
  const pool = new Pool({ connectionString: databaseUrl, max: 1 });
  try {
    return await body(pool);
  } finally {
    await pool.end();
  }
}

export const FLEET_COMMANDS = ['drift', 'doctor', 'ring', 'lines'] as const;

const USAGE = [
  '  drift  [--json] [--email]                 hand edits since the last pulumi up (exit 0 none, 2 drift, 1 error)',
  "  doctor [--json]                           the design document's gotchas on the live systems " +
    '(exit 0 ok, 2 findings, 1 error)',
  '  ring   --church <id> [--json] [--timeout <secs>]   a test call now (exit 0 ok, 1 failed or error)',
  "  lines  [--json]                           the stack's lines as its last update left them",
  '  every one: [--stack <name>] [--cwd <dir>]',
].join('\n');

export const FLEET_USAGE = USAGE;

export async function runFleetCommand(
  argv: string[],
  out: (text: string) => void = (t) => process.stdout.write(t),
): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      stack: { type: 'string' },
      cwd: { type: 'string' },
      json: { type: 'boolean', default: false },
      email: { type: 'boolean', default: false },
      church: { type: 'string' },
      timeout: { type: 'string' },
    },
  });
  const [command, ...extra] = positionals;
  if (!command || extra.length > 0 || !(FLEET_COMMANDS as readonly string[]).includes(command))
    throw new UsageError(USAGE);
  const options = stackOptionsFrom(values, process.env.REGISTRY_DATABASE_URL || process.env.DATABASE_URL);
  const progress = progressToStderr;

  if (command === 'ring') {
    if (!values.church) throw new UsageError(`ring needs --church <id>\n${USAGE}`);
    const timeoutSecs = values.timeout === undefined ? undefined : Number(values.timeout);
    if (timeoutSecs !== undefined && !(Number.isInteger(timeoutSecs) && timeoutSecs >= 5 && timeoutSecs <= 120)) {
      throw new UsageError(
        `--timeout must be a whole number of seconds from 5 to 120, got ${JSON.stringify(values.timeout)}`,
      );
    }
    // In a fleet split into shards the church's line is in its shard's stack (--stack names the fleet's base).
    const databaseUrl = options.registryDatabaseUrl;
    const stackName = databaseUrl
      ? await withRegistry(databaseUrl, (pool) => stackOfChurch(pool, options.stackName, values.church!))
      : options.stackName;
    const live = await openLiveSystems({ ...options, stackName });
    const outcome = await ringChurch(live, values.church, {
      timeoutSecs,
      registryDatabaseUrl: options.registryDatabaseUrl,
    });
    out(values.json ? `${JSON.stringify(outcome, null, 2)}\n` : `${renderRing(outcome)}\n`);
    return outcome.result.ok ? 0 : 1;
  }

  if (command === 'doctor') {
    const report = await runDoctor(await openLiveSystems(options));
    out(values.json ? `${JSON.stringify(report, null, 2)}\n` : `${renderDoctor(report)}\n`);
    return report.ok ? 0 : 2;
  }

  if (command === 'lines') {
    const lines = await stackLines((await openLiveSystems(options)).stack);
    out(values.json ? `${JSON.stringify(lines, null, 2)}\n` : `${renderLines(lines)}\n`);
    return 0;
  }

  if (values.email) requireEmailSettings();
  const report = await driftReport(await openLiveSystems(options));
  out(values.json ? `${JSON.stringify(report, null, 2)}\n` : `${renderDrift(report)}\n`);
  if (values.email) progress(await emailDriftReport(report, process.env));
  return report.drift ? 2 : 0;
}
