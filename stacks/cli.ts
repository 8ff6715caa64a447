/**
 * The founder's checks on a stack's lines (npm run drift|doctor|ring, or ./dev drift ...):
 *
 *   drift  [--json] [--email]   what was changed by hand since the last `pulumi up`, per church; exit 0 none, 2 drift
 *   doctor [--json]             the design document's gotchas on the live systems; exit 0 ok, 2 findings
 *   ring   --church <id> [--json] [--timeout <secs>]   a test call to the church's line now; exit 0 ok, 1 failed
 *
 * Every command: `--stack <name>` (default PULUMI_STACK, else prod), `--cwd <dir>` (folder with Pulumi.yaml and
 * Pulumi.<stack>.yaml; default this repository). Exit code 1 is an error (nothing could be checked).
 *
 * Where the settings come from: the stack's own config (its secrets decrypted by the engine), then the environment,
 * exactly as the providers read them (providers/provider-settings.ts). The backend and passphrase come from
 * PULUMI_BACKEND_URL / PULUMI_CONFIG_PASSPHRASE. `--stack dev` is the local sandbox: it is started if needed and its
 * loopback settings, file backend and passphrase are those `npm run demo` uses.
 */
import * as fs from 'fs';
import * as path from 'path';
import { parseArgs } from 'util';
import type * as pulumi from '@pulumi/pulumi';
import type { Stack } from '@pulumi/pulumi/automation';
import { parse } from 'yaml';
import type { LineSummary } from '../infra/program';
import type { LinesInService } from '../infra/settings';
import { LiveKitClient } from '../providers/livekit-client';
import { lockedLiveKitIds, parseLockedIds } from '../providers/locked-objects';
import { CONFIG_NAMESPACE, configureFromStack, livekitSettings, supabaseSettings, telnyxSettings } from '../providers/provider-settings';
import { SupabaseVendorClient } from '../providers/supabase-client';
import { TelnyxClient } from '../providers/telnyx-client';
import { REPO_ROOT } from '../sandbox/processes';
import { engineEnvironment } from './engine-environment';
import { runPulumi } from './pulumi-cli';
import { openVoiceStack, type VoiceStackOptions } from './voice-stack';

/** What the checks read from the stack's config (Pulumi.<stack>.yaml, defaults from Pulumi.yaml). */
export interface StackSettings {
  /** The FQDN connection every number of ours is on ("LiveKit Inbound v2"). */
  telnyxConnectionId: string;
  /** The LiveKit SIP endpoint by project id, host[:port]. */
  livekitSipHost: string;
  /** LiveKit API URL (its first label is the project NAME on LiveKit Cloud). */
  livekitUrl: string;
  /** The agent every church's calls are dispatched to (Pulumi.yaml's default: churchwiseai-voice). */
  agentName: string;
  ringFromNumber: string;
  /** The Call Control application that places test rings; empty when the stack sets none. */
  telnyxCallControlAppId: string;
  /** Every locked LiveKit id (the design document's trunk, plus the stack's lockedLiveKitIds). */
  lockedLiveKitIds: string[];
  adoptLinesInService: boolean;
  linesInService: LinesInService;
}

/** A stack and the live systems its lines are made of, with the clients the checks use. */
export interface LiveSystems {
  stackName: string;
  stack: Stack;
  settings: StackSettings;
  telnyx: TelnyxClient;
  livekit: LiveKitClient;
  /** Built on first use: only the doctor reads church_voice_agents, and only it needs the service key. */
  supabase(): SupabaseVendorClient;
}

interface ConfigEntry {
  value: string;
  secret: boolean;
}

/** Pulumi.yaml's declared defaults of the project's keys, so a stack file need not repeat them. */
function projectDefaults(workDir: string): Record<string, unknown> {
  const file = path.join(workDir, 'Pulumi.yaml');
  const declared = (parse(fs.readFileSync(file, 'utf8'))?.config ?? {}) as Record<string, { default?: unknown } | unknown>;
  const defaults: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(declared)) {
    if (spec && typeof spec === 'object' && 'default' in spec) defaults[key] = (spec as { default?: unknown }).default;
  }
  return defaults;
}

/** The stack's config as the checks need it; a malformed value is an error naming the key. */
export function stackSettingsFrom(config: Record<string, ConfigEntry>, defaults: Record<string, unknown>): StackSettings {
  const raw = (key: string): unknown => {
    const full = `${CONFIG_NAMESPACE}:${key}`;
    return config[full] !== undefined ? config[full].value : defaults[full];
  };
  const text = (key: string): string => {
    const value = raw(key);
    return value === undefined || value === null ? '' : String(value);
  };
  const flag = (key: string, fallback: boolean): boolean => {
    const value = raw(key);
    if (value === undefined || value === '') return fallback;
    if (value === true || value === 'true') return true;
    if (value === false || value === 'false') return false;
    throw new Error(`config ${CONFIG_NAMESPACE}:${key} must be true or false, got ${JSON.stringify(value)}`);
  };
  // Array config arrives as JSON text from `pulumi config --json` and as a list from Pulumi.yaml's default.
  const listText = (key: string): string | undefined => {
    const value = raw(key);
    return Array.isArray(value) ? JSON.stringify(value) : value === undefined || value === null ? undefined : String(value);
  };
  let lines: Partial<LinesInService> = {};
  const linesValue = raw('linesInService');
  if (typeof linesValue === 'string' && linesValue.trim() !== '') {
    try {
      lines = JSON.parse(linesValue) as Partial<LinesInService>;
    } catch (error) {
      throw new Error(`config ${CONFIG_NAMESPACE}:linesInService is not valid JSON: ${(error as Error).message}`);
    }
  } else if (linesValue && typeof linesValue === 'object') {
    lines = linesValue as Partial<LinesInService>;
  }
  return {
    telnyxConnectionId: text('telnyxConnectionId'),
    livekitSipHost: text('livekitSipHost'),
    livekitUrl: text('livekitUrl'),
    agentName: text('agentName'),
    ringFromNumber: text('ringFromNumber'),
    telnyxCallControlAppId: text('telnyxCallControlAppId'),
    lockedLiveKitIds: [...lockedLiveKitIds(parseLockedIds(listText('lockedLiveKitIds')))],
    adoptLinesInService: flag('adoptLinesInService', true),
    linesInService: { churches: lines.churches ?? [], twilioTrunks: lines.twilioTrunks ?? [], fallbackNumber: lines.fallbackNumber },
  };
}

/** Refuses a stack the backend does not have, instead of creating an empty one (openVoiceStack creates). */
async function requireExistingStack(options: VoiceStackOptions & { workDir: string }): Promise<void> {
  const env = { ...(process.env as Record<string, string>), ...engineEnvironment(options) };
  const listed = await runPulumi(['stack', 'ls', '--json'], { cwd: options.workDir, env, timeoutMs: 120_000 });
  if (listed.code !== 0) {
    throw new Error(`pulumi stack ls failed in ${options.workDir}: ${(listed.stderr || listed.stdout).trim()}`);
  }
  const names = (JSON.parse(listed.stdout || '[]') as Array<{ name: string }>).map((s) => s.name.split('/').pop());
  if (!names.includes(options.stackName)) {
    throw new Error(
      `stack ${options.stackName} does not exist in this backend (stacks: ${names.join(', ') || 'none'}): ` +
        'pick one with --stack, or check PULUMI_BACKEND_URL',
    );
  }
}

/**
 * Opens the stack and the vendors it talks to. The providers' settings are pointed at the stack's config (the
 * same values the engine hands every provider), so a check sees exactly the accounts `pulumi up` changes.
 */
export async function openLiveSystems(options: VoiceStackOptions): Promise<LiveSystems> {
  const workDir = options.workDir ?? REPO_ROOT;
  await requireExistingStack({ ...options, workDir });
  const stack = await openVoiceStack({ ...options, workDir });
  const config = (await stack.getAllConfig()) as Record<string, ConfigEntry>;
  const defaults = projectDefaults(workDir);
  const source = { get: (key: string) => config[key]?.value || undefined };
  configureFromStack({ config: source as unknown as pulumi.Config });
  const settings = stackSettingsFrom(config, defaults);
  settings.telnyxConnectionId ||= telnyxSettings().connectionId;
  let supabase: SupabaseVendorClient | undefined;
  return {
    stackName: options.stackName,
    stack,
    settings,
    telnyx: new TelnyxClient(telnyxSettings()),
    livekit: new LiveKitClient(livekitSettings()),
    supabase: () => (supabase ??= new SupabaseVendorClient(supabaseSettings())),
  };
}

/** The stack's `lines` output (what the last `pulumi up` provisioned). */
export async function stackLines(stack: Stack): Promise<LineSummary[]> {
  const outputs = await stack.outputs();
  return (outputs.lines?.value ?? []) as LineSummary[];
}

/** One resource of the stack's state, as exportStack gives it. */
export interface StateResource {
  urn: string;
  type: string;
  id?: string;
  custom?: boolean;
  outputs?: Record<string, unknown>;
  inputs?: Record<string, unknown>;
}

export async function stateResources(stack: Stack): Promise<StateResource[]> {
  const state = await stack.exportStack();
  return (state.deployment?.resources ?? []) as StateResource[];
}

/** The logical name at the end of a URN (`...::church-grace-trunk` -> `church-grace-trunk`). */
export function resourceName(urn: string): string {
  return urn.split('::').pop() ?? urn;
}

// ---------------------------------------------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------------------------------------------

const USAGE = [
  'usage: stacks/cli.ts <command> [--stack <name>] [--cwd <dir>]',
  '  drift  [--json] [--email]                 hand edits since the last pulumi up (exit 0 none, 2 drift, 1 error)',
  '  doctor [--json]                           the seed gotchas on the live systems (exit 0 ok, 2 findings, 1 error)',
  '  ring   --church <id> [--json] [--timeout <secs>]   a test call now (exit 0 ok, 1 failed or error)',
].join('\n');

export class UsageError extends Error {}

/** Backend, passphrase and vendor settings of the stack named on the command line. */
export async function stackOptionsFor(stackName: string, workDir: string | undefined, progress: (line: string) => void): Promise<VoiceStackOptions> {
  if (stackName !== 'dev') return { stackName, workDir };
  // The sandbox: what scripts/demo.ts runs the dev stack with. Imported here only: production never loads it.
  const { DEV_STACK, sandboxVendorEnv, startSandbox } = await import('../sandbox/sandbox');
  const sandbox = await startSandbox(progress);
  const vendorEnv = sandboxVendorEnv(sandbox);
  // The checks run in this process and read the providers' settings from its environment, like the engine does.
  Object.assign(process.env, vendorEnv);
  return { stackName, workDir, backendUrl: DEV_STACK.backendUrl, passphrase: DEV_STACK.passphrase, vendorEnv, registryDatabaseUrl: sandbox.databaseUrl };
}

export async function main(argv: string[], out: (text: string) => void = (t) => process.stdout.write(t)): Promise<number> {
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
  if (!command || extra.length > 0 || !['drift', 'doctor', 'ring'].includes(command)) throw new UsageError(USAGE);
  const stackName = values.stack?.trim() || process.env.PULUMI_STACK?.trim() || 'prod';
  const workDir = values.cwd ? path.resolve(values.cwd) : undefined;
  // Progress goes to stderr so that --json output stays parseable.
  const progress = (line: string) => process.stderr.write(`${line}\n`);

  if (command === 'ring') {
    if (!values.church) throw new UsageError(`ring needs --church <id>\n${USAGE}`);
    const timeoutSecs = values.timeout === undefined ? undefined : Number(values.timeout);
    if (timeoutSecs !== undefined && !(Number.isInteger(timeoutSecs) && timeoutSecs >= 5 && timeoutSecs <= 120)) {
      throw new UsageError(`--timeout must be a whole number of seconds from 5 to 120, got ${JSON.stringify(values.timeout)}`);
    }
    const { ringChurch, renderRing } = await import('./ring');
    const options = await stackOptionsFor(stackName, workDir, progress);
    const live = await openLiveSystems(options);
    const registryDatabaseUrl = options.registryDatabaseUrl ?? process.env.REGISTRY_DATABASE_URL;
    const outcome = await ringChurch(live, values.church, { timeoutSecs, registryDatabaseUrl });
    out(values.json ? `${JSON.stringify(outcome, null, 2)}\n` : `${renderRing(outcome)}\n`);
    return outcome.result.ok ? 0 : 1;
  }

  if (command === 'doctor') {
    const { runDoctor, renderDoctor } = await import('./doctor');
    const live = await openLiveSystems(await stackOptionsFor(stackName, workDir, progress));
    const report = await runDoctor(live);
    out(values.json ? `${JSON.stringify(report, null, 2)}\n` : `${renderDoctor(report)}\n`);
    return report.ok ? 0 : 2;
  }

  // Checked before the engine runs: a report that cannot be sent should not cost a preview first.
  if (values.email && !(process.env.SMTP_URL?.trim() && process.env.FOUNDER_EMAIL?.trim())) {
    throw new UsageError('--email needs SMTP_URL (smtp:// or smtps://) and FOUNDER_EMAIL in the environment');
  }
  const { driftReport, renderDrift, emailDriftReport } = await import('./drift');
  const options = await stackOptionsFor(stackName, workDir, progress);
  const live = await openLiveSystems(options);
  const report = await driftReport(live);
  out(values.json ? `${JSON.stringify(report, null, 2)}\n` : `${renderDrift(report)}\n`);
  if (values.email) {
    const sent = await emailDriftReport(report, process.env);
    progress(sent);
  }
  return report.drift ? 2 : 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error) => {
      if (error instanceof UsageError) {
        process.stderr.write(`${error.message}\n`);
        process.exit(1);
      }
      process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
