/**
 * The service's configuration, all from the environment. Each variable is documented in ENVIRONMENT below; a
 * missing or malformed one stops the service at start with an error naming it.
 */
import type { VoiceStackOptions } from '../engine/voice-stack';
import type { RetryBudget } from '../worker/provisioning-worker';
import { DEFAULT_GRACE_DAYS, DEFAULT_QUARANTINE_DAYS } from '../registry/subscription-lifecycle';
import type { VoicePlanRules } from './stripe-events';
import { MIN_LINK_SECRET_LENGTH } from './pastor/link';

/** The service's HTTP port when PORT is not set (the sandbox runs it there too). */
export const DEFAULT_SERVICE_PORT = 8787;

export interface ServiceConfig {
  databaseUrl: string;
  stripeWebhookSecret: string;
  stripeSecretKey?: string;
  adminToken: string;
  smtpUrl: string;
  founderEmail: string;
  mailFrom: string;
  voicePlans: VoicePlanRules;
  host: string;
  port: number;
  stackName: string;
  /** Folder of Pulumi.yaml and the stack's config; undefined = this repository. */
  workDir?: string;
  retry: RetryBudget;
  /** Days a past_due church keeps its line (GRACE_PERIOD_DAYS). */
  gracePeriodDays: number;
  /** Days a parked number is kept for its church before the founder is reminded to decommission it. */
  quarantineDays: number;
  /** The pastor's self-service pages (webhook/pastor/); undefined = not served. */
  selfService?: SelfServiceConfig;
  /** Where browsers reach the service (PUBLIC_BASE_URL); https makes the pages' cookies Secure. */
  publicBaseUrl?: string;
  /** Which proxies in front may tell the client's address (TRUST_PROXY): the holds' per-address limit needs it. */
  trustProxy?: boolean | string;
  fallbackMessage: string;
  logLevel: string;
}

export interface SelfServiceConfig {
  /** Signs the pastors' links and the pages' CSRF cookie (PASTOR_LINK_SECRET). */
  linkSecret: string;
  /** Where browsers reach this service, for links and Stripe's return addresses (PUBLIC_BASE_URL). */
  publicBaseUrl: string;
  /** The Stripe price a church subscribes to at checkout (VOICE_PRICE_ID). */
  voicePriceId?: string;
  /** Another Stripe API address (the sandbox's stripe-mock); undefined = api.stripe.com. */
  stripeBaseUrl?: string;
}

interface VariableDoc {
  required: boolean;
  secret: boolean;
  doc: string;
}

/** Every variable the service reads. `secret` values are scrubbed from every log line. */
export const ENVIRONMENT: Record<string, VariableDoc> = {
  DATABASE_URL: {
    required: true,
    secret: true,
    doc: 'PostgreSQL URL of the customer registry (churches, stripe_events, provisioning_jobs)',
  },
  STRIPE_WEBHOOK_SECRET: {
    required: true,
    secret: true,
    doc: 'signing secret of the Stripe webhook endpoint (whsec_...)',
  },
  STRIPE_SECRET_KEY: {
    required: false,
    secret: true,
    doc:
      'Stripe API key (sk_...); optional: every decision is made from the signed event, ' +
      'but when set it is scrubbed from logs',
  },
  ADMIN_TOKEN: {
    required: true,
    secret: true,
    doc: 'bearer token of POST /admin/provision-number and GET /churches/:id/status (at least 32 characters)',
  },
  SMTP_URL: {
    required: true,
    secret: true,
    doc: 'SMTP server for founder emails, e.g. smtps://user:password@smtp.example.com:465',
  },
  FOUNDER_EMAIL: { required: true, secret: false, doc: 'where failure and cancellation emails go' },
  MAIL_FROM: { required: false, secret: false, doc: 'sender of founder emails (default: FOUNDER_EMAIL)' },
  VOICE_PRICE_LOOKUP_KEYS: {
    required: false,
    secret: false,
    doc: 'comma-separated Stripe price lookup keys of voice plans',
  },
  VOICE_PRODUCT_IDS: {
    required: false,
    secret: false,
    doc: 'comma-separated Stripe product ids (prod_...) of voice plans; metadata plan=voice* always counts too',
  },
  PORT: {
    required: false,
    secret: false,
    doc: `HTTP port (default ${DEFAULT_SERVICE_PORT}; 0 = any free port, logged at start)`,
  },
  HOST: {
    required: false,
    secret: false,
    doc: 'interface to listen on (default 127.0.0.1; 0.0.0.0 behind a load balancer)',
  },
  PULUMI_STACK: {
    required: false,
    secret: false,
    doc: 'stack the worker runs (default prod); PULUMI_BACKEND_URL and PULUMI_CONFIG_PASSPHRASE are read by the engine',
  },
  PULUMI_WORK_DIR: {
    required: false,
    secret: false,
    doc: 'folder with Pulumi.yaml and Pulumi.<stack>.yaml (default: this repository)',
  },
  PROVISION_MAX_ATTEMPTS: {
    required: false,
    secret: false,
    doc: 'stack runs per job before the founder is emailed (default 5)',
  },
  PROVISION_RETRY_BASE_SECONDS: {
    required: false,
    secret: false,
    doc: 'first retry delay, doubled each attempt (default 60)',
  },
  PROVISION_RETRY_MAX_SECONDS: { required: false, secret: false, doc: 'longest retry delay (default 1800)' },
  GRACE_PERIOD_DAYS: {
    required: false,
    secret: false,
    doc: 'days a church whose payment failed keeps its line before it is parked (default 14)',
  },
  PASTOR_LINK_SECRET: {
    required: false,
    secret: true,
    doc: "signs the pastors' picker links (at least 32 characters); unset = the self-service pages are not served",
  },
  PUBLIC_BASE_URL: {
    required: false,
    secret: false,
    doc: 'where browsers reach the service, for picker links and Stripe return addresses (default http://HOST:PORT)',
  },
  TRUST_PROXY: {
    required: false,
    secret: false,
    doc: "behind a load balancer: true, or its addresses/CIDRs, so each pastor's own address counts (default false)",
  },
  VOICE_PRICE_ID: { required: false, secret: false, doc: "the Stripe price (price_...) a pastor's checkout buys" },
  STRIPE_BASE_URL: {
    required: false,
    secret: false,
    doc: "another Stripe API address (the sandbox's stripe-mock); unset = api.stripe.com",
  },
  QUARANTINE_DAYS: {
    required: false,
    secret: false,
    doc: 'days a parked number is kept for its church before the founder is reminded to decommission it (default 30)',
  },
  FALLBACK_MESSAGE: { required: false, secret: false, doc: 'what POST /voice/fallback says before hanging up' },
  LOG_LEVEL: { required: false, secret: false, doc: 'pino level (default info)' },
};

export const DEFAULT_FALLBACK_MESSAGE =
  'Thank you for calling ChurchWise. We cannot take your call right now. Please try again later. Goodbye.';

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    reason: string,
  ) {
    super(`${variable}: ${reason} (${ENVIRONMENT[variable]?.doc ?? 'see webhook/config.ts'})`);
    this.name = 'ConfigError';
  }
}

const EMAIL = /^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/;
export const MIN_ADMIN_TOKEN_LENGTH = 32;
export { MIN_LINK_SECRET_LENGTH };

function list(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
}

function positiveInteger(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1)
    throw new ConfigError(name, `must be a positive integer, got ${JSON.stringify(raw)}`);
  return value;
}

function publicBaseUrlOf(env: NodeJS.ProcessEnv, host: string, port: number): string {
  const publicBaseUrl = env.PUBLIC_BASE_URL?.trim() || `http://${host}:${port}`;
  if (!/^https?:\/\/[^\s/]+/.test(publicBaseUrl))
    throw new ConfigError('PUBLIC_BASE_URL', `must be an http(s) URL, got ${JSON.stringify(publicBaseUrl)}`);
  return publicBaseUrl.replace(/\/$/, '');
}

function trustProxyOf(raw: string | undefined): boolean | string {
  const value = raw?.trim() ?? '';
  if (value === '' || value === 'false') return false;
  if (value === 'true') return true;
  if (!/^[0-9a-fA-F:./,\s]+$/.test(value))
    throw new ConfigError('TRUST_PROXY', `must be true, false, or proxy addresses/CIDRs, got ${JSON.stringify(raw)}`);
  return value;
}

function selfServiceConfig(env: NodeJS.ProcessEnv, host: string, port: number): SelfServiceConfig | undefined {
  const linkSecret = env.PASTOR_LINK_SECRET?.trim();
  if (!linkSecret) return undefined;
  if (linkSecret.length < MIN_LINK_SECRET_LENGTH)
    throw new ConfigError('PASTOR_LINK_SECRET', `must be at least ${MIN_LINK_SECRET_LENGTH} characters`);
  const publicBaseUrl = publicBaseUrlOf(env, host, port);
  const voicePriceId = env.VOICE_PRICE_ID?.trim() || undefined;
  if (voicePriceId && !voicePriceId.startsWith('price_'))
    throw new ConfigError(
      'VOICE_PRICE_ID',
      `must be a Stripe price id (price_...), got ${JSON.stringify(voicePriceId)}`,
    );
  const stripeBaseUrl = env.STRIPE_BASE_URL?.trim() || undefined;
  if (stripeBaseUrl && !/^https?:\/\//.test(stripeBaseUrl))
    throw new ConfigError('STRIPE_BASE_URL', `must be an http(s) URL, got ${JSON.stringify(stripeBaseUrl)}`);
  return { linkSecret, publicBaseUrl: publicBaseUrl.replace(/\/$/, ''), voicePriceId, stripeBaseUrl };
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): ServiceConfig {
  const required = (name: string): string => {
    const value = env[name]?.trim();
    if (!value) throw new ConfigError(name, 'missing environment variable');
    return value;
  };
  const databaseUrl = required('DATABASE_URL');
  if (!/^postgres(ql)?:\/\//.test(databaseUrl))
    throw new ConfigError('DATABASE_URL', 'must be a postgres:// or postgresql:// URL');
  const stripeWebhookSecret = required('STRIPE_WEBHOOK_SECRET');
  if (!stripeWebhookSecret.startsWith('whsec_'))
    throw new ConfigError('STRIPE_WEBHOOK_SECRET', 'must start with whsec_');
  const adminToken = required('ADMIN_TOKEN');
  if (adminToken.length < MIN_ADMIN_TOKEN_LENGTH) {
    throw new ConfigError(
      'ADMIN_TOKEN',
      `must be at least ${MIN_ADMIN_TOKEN_LENGTH} characters (e.g. \`openssl rand -hex 32\`)`,
    );
  }
  const smtpUrl = required('SMTP_URL');
  if (!/^smtps?:\/\//.test(smtpUrl)) throw new ConfigError('SMTP_URL', 'must be an smtp:// or smtps:// URL');
  const founderEmail = required('FOUNDER_EMAIL');
  if (!EMAIL.test(founderEmail))
    throw new ConfigError('FOUNDER_EMAIL', `must be an email address, got ${JSON.stringify(founderEmail)}`);
  const port = env.PORT ? Number(env.PORT) : DEFAULT_SERVICE_PORT;
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new ConfigError('PORT', `must be a TCP port (0 for any free one), got ${JSON.stringify(env.PORT)}`);
  const maxAttempts = positiveInteger(env, 'PROVISION_MAX_ATTEMPTS', 5);
  const baseSeconds = positiveInteger(env, 'PROVISION_RETRY_BASE_SECONDS', 60);
  const maxSeconds = positiveInteger(env, 'PROVISION_RETRY_MAX_SECONDS', 1800);
  const gracePeriodDays = positiveInteger(env, 'GRACE_PERIOD_DAYS', DEFAULT_GRACE_DAYS);
  const quarantineDays = positiveInteger(env, 'QUARANTINE_DAYS', DEFAULT_QUARANTINE_DAYS);
  const selfService = selfServiceConfig(env, env.HOST?.trim() || '127.0.0.1', port);
  return {
    databaseUrl,
    stripeWebhookSecret,
    stripeSecretKey: env.STRIPE_SECRET_KEY?.trim() || undefined,
    adminToken,
    smtpUrl,
    founderEmail,
    mailFrom: env.MAIL_FROM?.trim() || `ChurchWise provisioning <${founderEmail}>`,
    voicePlans: { lookupKeys: list(env.VOICE_PRICE_LOOKUP_KEYS), productIds: list(env.VOICE_PRODUCT_IDS) },
    host: env.HOST?.trim() || '127.0.0.1',
    port,
    stackName: env.PULUMI_STACK?.trim() || 'prod',
    workDir: env.PULUMI_WORK_DIR?.trim() || undefined,
    retry: { maxAttempts, baseDelayMs: baseSeconds * 1000, maxDelayMs: Math.max(maxSeconds, baseSeconds) * 1000 },
    gracePeriodDays,
    quarantineDays,
    selfService,
    publicBaseUrl: selfService?.publicBaseUrl ?? publicBaseUrlOf(env, env.HOST?.trim() || '127.0.0.1', port),
    trustProxy: trustProxyOf(env.TRUST_PROXY),
    fallbackMessage: env.FALLBACK_MESSAGE?.trim() || DEFAULT_FALLBACK_MESSAGE,
    logLevel: env.LOG_LEVEL?.trim() || 'info',
  };
}

/** The stack the worker and the CLI run: this config's stack and registry; the engine reads the rest from env. */
export function voiceStackOptions(
  config: Pick<ServiceConfig, 'stackName' | 'workDir' | 'databaseUrl'>,
): VoiceStackOptions {
  return { stackName: config.stackName, workDir: config.workDir, registryDatabaseUrl: config.databaseUrl };
}

/**
 * Every secret value of the configuration, and the password inside each URL on its own, so the log scrubber can
 * remove them wherever they turn up (an engine line, an error message, a connection string).
 */
export function secretValues(
  config: Pick<ServiceConfig, 'databaseUrl' | 'stripeWebhookSecret' | 'stripeSecretKey' | 'adminToken' | 'smtpUrl'> &
    Partial<Pick<ServiceConfig, 'selfService'>>,
): string[] {
  const values = [
    config.databaseUrl,
    config.stripeWebhookSecret,
    config.stripeSecretKey,
    config.adminToken,
    config.smtpUrl,
    config.selfService?.linkSecret,
  ];
  for (const url of [config.databaseUrl, config.smtpUrl]) {
    try {
      const password = decodeURIComponent(new URL(url).password);
      if (password) values.push(password, encodeURIComponent(password));
    } catch {
      /* not a URL: the whole value is scrubbed anyway */
    }
  }
  return values.filter((v): v is string => typeof v === 'string' && v.length >= 6);
}
