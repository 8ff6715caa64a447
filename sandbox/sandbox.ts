/**
 * The local sandbox: every peer the dev stack needs, on loopback, started once and found again by later commands
 * (pid and log files under .sandbox/). Real livekit-server + Redis + the livekit-sip bridge, real PostgreSQL with
 * the migrations, the PostgREST subset production's supabase-js talks to, mailpit as the SMTP sink, stripe-mock as
 * the Stripe API, and the Telnyx stand-in whose test calls are real SIP INVITEs (sipp) into the bridge.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Client, Pool, escapeIdentifier } from 'pg';
import { migrate } from '../db/migrate';
import { settingsEnvironment, type LiveKitSettings } from '../vendors/vendor-settings';
import { SANDBOX_LIVEKIT, LIVEKIT_DAEMONS } from './livekit';
import { LIVEKIT_SIP_DAEMON, ensureLivekitSip } from './livekit-sip';
import { MailpitConnection, ensureMailpit } from './mailpit';
import { SANDBOX_PORTS } from './ports';
import { ensurePostgres, stopPostgres } from './postgres';
import { POSTGREST_DAEMON_NAME, ensurePostgrestDaemon } from './postgrest';
import { REPO_ROOT, SANDBOX_DIR, portOpen, runningPid, startDaemon, stopDaemon } from './processes';
import { STRIPE_MOCK_DAEMON, StripeMockConnection, ensureStripeMock } from './stripe-mock';
import { sandboxTelnyxSettings } from './telnyx/main';
import { SeedReport, seedLinesInService } from './lines-in-service';
import { engineEnvironment } from '../engine/engine-environment';
import { runPulumi } from '../engine/pulumi-cli';

export const SANDBOX_DATABASE = 'churchwise';
/** The dev stack runs on a file backend inside the sandbox; its passphrase encrypts only that state (not a secret). */
export const DEV_STACK = {
  name: 'dev',
  backendUrl: `file://${path.join(SANDBOX_DIR, 'pulumi-state')}`,
  passphrase: 'churchwise-sandbox-dev-stack',
} as const;
/** Only ever valid on this machine's loopback PostgREST; production's key is `pulumi config set --secret`. */
export const SANDBOX_SUPABASE_SERVICE_KEY = 'sandbox-service-role-key-loopback-only';
const TELNYX_DAEMON = 'telnyx';

export interface Sandbox {
  databaseUrl: string;
  telnyx: { url: string; apiKey: string };
  livekit: LiveKitSettings;
  supabase: { url: string; serviceKey: string };
  mail: MailpitConnection;
  stripe: StripeMockConnection;
  seeded: SeedReport;
}

/**
 * What the engine (and so every provider) needs to reach the sandbox: passed as environment, never config. No
 * provider calls Stripe, so stripe-mock is not among them.
 */
export function sandboxVendorEnv(sandbox: Omit<Sandbox, 'seeded' | 'stripe'>): Record<string, string> {
  return {
    ...settingsEnvironment({
      telnyx: { baseUrl: sandbox.telnyx.url, apiKey: sandbox.telnyx.apiKey },
      livekit: sandbox.livekit,
      supabase: sandbox.supabase,
    }),
    REGISTRY_DATABASE_URL: sandbox.databaseUrl,
  };
}

/**
 * Everything a process needs to run the dev stack against the sandbox from the project root: the engine's
 * environment (the project's pulumi CLI and Node first on PATH, Pulumi kept offline), the dev stack's file backend
 * and its throw-away passphrase, the vendors' loopback endpoints and keys, the registry (REGISTRY_DATABASE_URL for
 * the program, DATABASE_URL for `./dev church`), STRIPE_BASE_URL (stripe-mock: where the service's Stripe calls
 * go instead of api.stripe.com) and PULUMI_STACK=dev for the project's own commands.
 * What `./dev sandbox env` prints and `./dev service` runs the webhook service with.
 */
export function devStackEnvironment(sandbox: Omit<Sandbox, 'seeded'>): Record<string, string> {
  return {
    ...engineEnvironment({
      backendUrl: DEV_STACK.backendUrl,
      passphrase: DEV_STACK.passphrase,
      vendorEnv: sandboxVendorEnv(sandbox),
    }),
    DATABASE_URL: sandbox.databaseUrl,
    STRIPE_BASE_URL: sandbox.stripe.url,
    PULUMI_STACK: DEV_STACK.name,
  };
}

/**
 * Creates the dev stack's backend folder and the dev stack in it, once, so that `pulumi stack select dev` from the
 * project root finds it before any `./dev demo` ran. Says whether it had to create it.
 */
export async function ensureDevStack(env: Record<string, string>): Promise<boolean> {
  const backendDir = DEV_STACK.backendUrl.slice('file://'.length);
  const stacksDir = path.join(backendDir, '.pulumi', 'stacks');
  const exists = (dir: string) =>
    fs.existsSync(path.join(dir, `${DEV_STACK.name}.json`)) ||
    fs.existsSync(path.join(dir, `${DEV_STACK.name}.json.gz`));
  // The backend belongs to this project alone: its stacks live in .pulumi/stacks/<project>/ (or, in a backend
  // made by an older CLI, in .pulumi/stacks/ itself).
  const projects = fs.existsSync(stacksDir)
    ? fs.readdirSync(stacksDir).map((entry) => path.join(stacksDir, entry))
    : [];
  if ([stacksDir, ...projects].some(exists)) return false;
  fs.mkdirSync(backendDir, { recursive: true });
  const init = await runPulumi(['stack', 'init', DEV_STACK.name, '--no-select'], {
    cwd: REPO_ROOT,
    env: { ...(process.env as Record<string, string>), ...env },
  });
  if (init.code !== 0 && !/already exists/.test(init.stderr))
    throw new Error(`pulumi stack init ${DEV_STACK.name} failed:\n${init.stderr || init.stdout}`);
  return init.code === 0;
}

async function ensureDatabase(serverUrl: string, databaseUrl: string): Promise<void> {
  const admin = new Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    const exists = await admin.query('select 1 from pg_database where datname = $1', [SANDBOX_DATABASE]);
    if (exists.rowCount === 0) await admin.query(`create database ${escapeIdentifier(SANDBOX_DATABASE)}`);
  } finally {
    await admin.end();
  }
  const pool = new Pool({ connectionString: databaseUrl, max: 1 });
  try {
    await migrate(pool);
  } finally {
    await pool.end();
  }
}

async function ensureTelnyxStandIn(): Promise<{ url: string; apiKey: string }> {
  const { baseUrl, apiKey } = sandboxTelnyxSettings();
  await startDaemon({
    name: TELNYX_DAEMON,
    command: process.execPath,
    args: [
      require.resolve('ts-node/dist/bin.js'),
      '--transpile-only',
      path.join(REPO_ROOT, 'sandbox', 'telnyx', 'main.ts'),
    ],
    port: SANDBOX_PORTS.telnyx,
    // The first start parses the 4 MB OpenAPI spec (then cached under .sandbox/cache).
    readyTimeoutMs: 120_000,
  });
  return { url: baseUrl, apiKey };
}

/** Starts whatever is not running yet (each step is idempotent) and seeds the lines in service. */
export async function startSandbox(progress: (line: string) => void = () => undefined): Promise<Sandbox> {
  progress('postgres: starting');
  const postgres = await ensurePostgres();
  const databaseUrl = postgres.databaseUrl(SANDBOX_DATABASE);
  await ensureDatabase(postgres.url, databaseUrl);
  progress(`postgres: ${SANDBOX_DATABASE} migrated on 127.0.0.1:${postgres.port}`);
  const postgrest = await ensurePostgrestDaemon({ databaseUrl, serviceKey: SANDBOX_SUPABASE_SERVICE_KEY });
  progress(`supabase (PostgREST subset): ${postgrest.url}`);
  progress('livekit: redis, livekit-server and the livekit-sip bridge');
  const sip = await ensureLivekitSip();
  progress(`livekit: ${SANDBOX_LIVEKIT.url}, SIP ${sip.transport}://${sip.host}:${sip.port}`);
  const mail = await ensureMailpit();
  progress(`mail sink: ${mail.smtpUrl} (read at ${mail.apiUrl})`);
  const stripe = await ensureStripeMock();
  progress(`stripe-mock: ${stripe.url}`);
  const telnyx = await ensureTelnyxStandIn();
  progress(`telnyx stand-in: ${telnyx.url}`);
  const base = {
    databaseUrl,
    telnyx,
    livekit: SANDBOX_LIVEKIT,
    supabase: { url: postgrest.url, serviceKey: SANDBOX_SUPABASE_SERVICE_KEY },
    mail,
    stripe,
  };
  const seeded = await seedLinesInService({ telnyx, databaseUrl });
  progress(
    `lines in service seeded: ${seeded.trunks.length} trunks, ${seeded.rules.length} ` +
      `rules, ${seeded.numbers.length} numbers, ${seeded.rows.length} rows, ` +
      `${seeded.texmlApplications.length} TeXML applications new`,
  );
  for (const note of seeded.notes) progress(`lines in service: ${note}`);
  return { ...base, seeded };
}

const DAEMONS = [
  TELNYX_DAEMON,
  STRIPE_MOCK_DAEMON,
  'mailpit',
  LIVEKIT_SIP_DAEMON,
  LIVEKIT_DAEMONS.livekitServer,
  LIVEKIT_DAEMONS.redis,
  POSTGREST_DAEMON_NAME,
];

export async function stopSandbox(progress: (line: string) => void = () => undefined): Promise<void> {
  for (const name of DAEMONS) {
    if (await stopDaemon(name)) progress(`${name}: stopped`);
  }
  if (await stopPostgres()) progress('postgres: stopped');
}

export async function sandboxStatus(): Promise<Array<{ name: string; pid?: number; port: number; open: boolean }>> {
  const ports: Record<string, number> = {
    postgres: SANDBOX_PORTS.postgres,
    [POSTGREST_DAEMON_NAME]: SANDBOX_PORTS.postgrest,
    [LIVEKIT_DAEMONS.redis]: SANDBOX_PORTS.redis,
    [LIVEKIT_DAEMONS.livekitServer]: SANDBOX_PORTS.livekit,
    [LIVEKIT_SIP_DAEMON]: SANDBOX_PORTS.sip,
    mailpit: SANDBOX_PORTS.smtp,
    [STRIPE_MOCK_DAEMON]: SANDBOX_PORTS.stripeMock,
    [TELNYX_DAEMON]: SANDBOX_PORTS.telnyx,
  };
  return Promise.all(
    Object.entries(ports).map(async ([name, port]) => ({
      name,
      pid: runningPid(name),
      port,
      open: await portOpen(port),
    })),
  );
}
