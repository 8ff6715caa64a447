import type * as pulumi from '@pulumi/pulumi';

/**
 * Where every provider gets vendor endpoints and credentials: the stack's config handed to `configure()`
 * (keys of the `churchwise-voice` namespace, secrets decrypted by the engine), else the environment.
 * Read at call time, never at module scope, so nothing is baked into a serialized provider or the state.
 */

export const CONFIG_NAMESPACE = 'churchwise-voice';
export const DEFAULT_TELNYX_BASE_URL = 'https://api.telnyx.com/v2';
/** "LiveKit Inbound v2": the one FQDN connection every new number joins; never create another. */
export const PRODUCTION_FQDN_CONNECTION_ID = '2925216093662349036';

interface SettingSource {
  get(key: string): string | undefined;
}

let stackConfig: SettingSource | undefined;

/** Called from each provider's configure(): remembers the stack config for this provider process. */
export function configureFromStack(req: pulumi.dynamic.ConfigureRequest): void {
  stackConfig = req.config;
}

/** Forgets the stack config (tests that run several configurations in one process). */
export function resetConfiguredSettings(): void {
  stackConfig = undefined;
}

/** Each setting's stack config key, and the environment variable read when the stack does not set it. */
const SETTING_ENV = {
  telnyxApiKey: 'TELNYX_API_KEY',
  telnyxBaseUrl: 'TELNYX_BASE_URL',
  telnyxConnectionId: 'TELNYX_CONNECTION_ID',
  telnyxCallControlAppId: 'TELNYX_CALL_CONTROL_APP_ID',
  livekitUrl: 'LIVEKIT_URL',
  livekitApiKey: 'LIVEKIT_API_KEY',
  livekitApiSecret: 'LIVEKIT_API_SECRET',
  supabaseUrl: 'SUPABASE_URL',
  supabaseServiceKey: 'SUPABASE_SERVICE_ROLE_KEY',
  lockedLiveKitIds: 'LOCKED_LIVEKIT_IDS',
  registryDatabaseUrl: 'REGISTRY_DATABASE_URL',
  outboundCallLimit: 'TELNYX_OUTBOUND_CALL_LIMIT',
} as const;

type SettingKey = keyof typeof SETTING_ENV;

/** An empty value counts as unset: Pulumi.yaml declares credentials with "" so a stack may take them from env. */
function setting(key: SettingKey, fallback?: string): string | undefined {
  return stackConfig?.get(`${CONFIG_NAMESPACE}:${key}`) || process.env[SETTING_ENV[key]] || fallback;
}

function required(key: SettingKey, fallback?: string): string {
  const value = setting(key, fallback);
  if (!value) {
    throw new Error(
      `missing setting ${CONFIG_NAMESPACE}:${key}: set it with \`pulumi config set ${key} ...\` ` +
        `(add --secret for credentials) or the environment variable ${SETTING_ENV[key]}`,
    );
  }
  return value;
}

export interface TelnyxSettings {
  apiKey: string;
  baseUrl: string;
  connectionId: string;
}

export interface LiveKitSettings {
  /** http(s) URL of the LiveKit server API, e.g. https://cwa-voice.livekit.cloud or http://127.0.0.1:7880. */
  url: string;
  apiKey: string;
  apiSecret: string;
}

export interface SupabaseSettings {
  url: string;
  serviceKey: string;
}

export function telnyxSettings(): TelnyxSettings {
  return {
    apiKey: required('telnyxApiKey'),
    baseUrl: required('telnyxBaseUrl', DEFAULT_TELNYX_BASE_URL),
    connectionId: required('telnyxConnectionId', PRODUCTION_FQDN_CONNECTION_ID),
  };
}

/**
 * The Telnyx Call Control application that places test rings, or undefined when the stack sets none (Pulumi.yaml
 * declares it with default ""). The caller decides what an unset value means.
 */
export function telnyxCallControlAppId(): string | undefined {
  return setting('telnyxCallControlAppId');
}

export function livekitSettings(): LiveKitSettings {
  return {
    url: required('livekitUrl'),
    apiKey: required('livekitApiKey'),
    apiSecret: required('livekitApiSecret'),
  };
}

export function supabaseSettings(): SupabaseSettings {
  return {
    url: required('supabaseUrl'),
    serviceKey: required('supabaseServiceKey'),
  };
}

/**
 * The `lockedLiveKitIds` setting as given (a JSON list from stack config, or a comma-separated list from the
 * environment); vendors/livekit-locks.ts parses it and adds the design document's trunk.
 */
export function lockedLiveKitIdsSetting(): string | undefined {
  return setting('lockedLiveKitIds');
}

/** The customer registry (PostgreSQL), where test rings take their call slots; DATABASE_URL is the service's name. */
export function registryDatabaseUrl(): string | undefined {
  return setting('registryDatabaseUrl') || process.env.DATABASE_URL || undefined;
}

/** Telnyx's cap on concurrent outbound calls for the account: 2 on a new account, 10 after Level 2 verification. */
export const DEFAULT_OUTBOUND_CALL_LIMIT = 2;

export function outboundCallLimit(): number {
  const value = setting('outboundCallLimit');
  if (value === undefined) return DEFAULT_OUTBOUND_CALL_LIMIT;
  const limit = Number(value);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
    throw new Error(
      `setting ${CONFIG_NAMESPACE}:outboundCallLimit must be a whole number from 1 to 1000, ` +
        `got ${JSON.stringify(value)}`,
    );
  }
  return limit;
}

/** Settings to hand to another process (the Pulumi engine and its providers, a service) through its environment. */
export interface VendorSettings {
  telnyx?: Partial<TelnyxSettings> & { callControlAppId?: string };
  livekit?: LiveKitSettings;
  supabase?: SupabaseSettings;
}

/** The environment variables under which the settings functions above read `vendors` (unset values left out). */
export function settingsEnvironment(vendors: VendorSettings): Record<string, string> {
  const values: Partial<Record<SettingKey, string>> = {
    telnyxApiKey: vendors.telnyx?.apiKey,
    telnyxBaseUrl: vendors.telnyx?.baseUrl,
    telnyxConnectionId: vendors.telnyx?.connectionId,
    telnyxCallControlAppId: vendors.telnyx?.callControlAppId,
    livekitUrl: vendors.livekit?.url,
    livekitApiKey: vendors.livekit?.apiKey,
    livekitApiSecret: vendors.livekit?.apiSecret,
    supabaseUrl: vendors.supabase?.url,
    supabaseServiceKey: vendors.supabase?.serviceKey,
  };
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(values) as [SettingKey, string | undefined][]) {
    if (value) env[SETTING_ENV[key]] = value;
  }
  return env;
}
