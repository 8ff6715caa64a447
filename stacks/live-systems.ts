/**
 * A stack and the live systems its lines are made of, as the founder's checks (checks/) read them: the stack's
 * settings, its `lines` output and state, and a client per vendor.
 *
 * Where the settings come from: the stack's own config (its secrets decrypted by the engine), then the environment,
 * exactly as the providers read them (vendors/vendor-settings.ts). The backend and passphrase come from
 * PULUMI_BACKEND_URL / PULUMI_CONFIG_PASSPHRASE.
 */
import * as fs from 'fs';
import * as path from 'path';
import type * as pulumi from '@pulumi/pulumi';
import type { Stack } from '@pulumi/pulumi/automation';
import { parse } from 'yaml';
import type { LineSummary } from '../infra/program';
import type { LinesInService } from '../infra/settings';
import { LiveKitClient } from '../vendors/livekit-client';
import { lockedLiveKitIds, parseLockedIds } from '../vendors/livekit-locks';
import {
  CONFIG_NAMESPACE,
  configureFromStack,
  livekitSettings,
  supabaseSettings,
  telnyxSettings,
} from '../vendors/vendor-settings';
import { SupabaseVendorClient } from '../vendors/supabase-client';
import { TelnyxClient } from '../vendors/telnyx-client';
import { PROJECT_ROOT } from '../common/project';
import { engineEnvironment } from '../engine/engine-environment';
import { runPulumi } from '../engine/pulumi-cli';
import { openVoiceStack, type VoiceStackOptions } from '../engine/voice-stack';

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
  const declared = (parse(fs.readFileSync(file, 'utf8'))?.config ?? {}) as Record<
    string,
    { default?: unknown } | unknown
  >;
  const defaults: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(declared)) {
    if (spec && typeof spec === 'object' && 'default' in spec) defaults[key] = (spec as { default?: unknown }).default;
  }
  return defaults;
}

/** The stack's config as the checks need it; a malformed value is an error naming the key. */
export function stackSettingsFrom(
  config: Record<string, ConfigEntry>,
  defaults: Record<string, unknown>,
): StackSettings {
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
    return Array.isArray(value)
      ? JSON.stringify(value)
      : value === undefined || value === null
        ? undefined
        : String(value);
  };
  let lines: Partial<LinesInService> = {};
  const linesValue = raw('linesInService');
  if (typeof linesValue === 'string' && linesValue.trim() !== '') {
    try {
      lines = JSON.parse(linesValue) as Partial<LinesInService>;
    } catch (error) {
      throw new Error(`config ${CONFIG_NAMESPACE}:linesInService is not valid JSON: ${(error as Error).message}`, {
        cause: error,
      });
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
    linesInService: {
      churches: lines.churches ?? [],
      twilioTrunks: lines.twilioTrunks ?? [],
      fallbackNumber: lines.fallbackNumber,
    },
  };
}

/** The names of the stacks the backend holds in this project (`pulumi stack ls`, fully qualified names shortened). */
export async function backendStacks(options: VoiceStackOptions): Promise<string[]> {
  const env = { ...(process.env as Record<string, string>), ...engineEnvironment(options) };
  const workDir = options.workDir ?? PROJECT_ROOT;
  const listed = await runPulumi(['stack', 'ls', '--json'], { cwd: workDir, env, timeoutMs: 120_000 });
  if (listed.code !== 0)
    throw new Error(`pulumi stack ls failed in ${workDir}: ${(listed.stderr || listed.stdout).trim()}`);
  return (JSON.parse(listed.stdout || '[]') as Array<{ name: string }>).map((s) => s.name.split('/').pop() ?? s.name);
}

/** Refuses a stack the backend does not have, instead of creating an empty one (openVoiceStack creates). */
async function requireExistingStack(options: VoiceStackOptions): Promise<void> {
  const names = await backendStacks(options);
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
  const workDir = options.workDir ?? PROJECT_ROOT;
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
  /** The URN of its parent (a line's children name the line). */
  parent?: string;
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
