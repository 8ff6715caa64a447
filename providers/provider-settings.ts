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

/** An empty value counts as unset: Pulumi.yaml declares credentials with "" so a stack may take them from env. */
function setting(key: string, env: string, fallback?: string): string | undefined {
  return stackConfig?.get(`${CONFIG_NAMESPACE}:${key}`) || process.env[env] || fallback;
}

function required(key: string, env: string, fallback?: string): string {
  const value = setting(key, env, fallback);
  if (!value) {
    throw new Error(
      `missing setting ${CONFIG_NAMESPACE}:${key}: set it with \`pulumi config set ${key} ...\` ` +
        `(add --secret for credentials) or the environment variable ${env}`,
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
    apiKey: required('telnyxApiKey', 'TELNYX_API_KEY'),
    baseUrl: required('telnyxBaseUrl', 'TELNYX_BASE_URL', DEFAULT_TELNYX_BASE_URL),
    connectionId: required('telnyxConnectionId', 'TELNYX_CONNECTION_ID', PRODUCTION_FQDN_CONNECTION_ID),
  };
}

/**
 * The Telnyx Call Control application that places test rings, or undefined when the stack sets none (Pulumi.yaml
 * declares it with default ""). The caller decides what an unset value means.
 */
export function telnyxCallControlAppId(): string | undefined {
  return setting('telnyxCallControlAppId', 'TELNYX_CALL_CONTROL_APP_ID');
}

export function livekitSettings(): LiveKitSettings {
  return {
    url: required('livekitUrl', 'LIVEKIT_URL'),
    apiKey: required('livekitApiKey', 'LIVEKIT_API_KEY'),
    apiSecret: required('livekitApiSecret', 'LIVEKIT_API_SECRET'),
  };
}

export function supabaseSettings(): SupabaseSettings {
  return {
    url: required('supabaseUrl', 'SUPABASE_URL'),
    serviceKey: required('supabaseServiceKey', 'SUPABASE_SERVICE_ROLE_KEY'),
  };
}
