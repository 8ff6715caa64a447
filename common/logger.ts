/**
 * Structured logs (pino, also fastify's logger). Two layers keep secrets out of every line:
 *  - redaction by path: authorization / stripe-signature headers and any key that names a secret;
 *  - a scrubbing destination that replaces every configured secret value wherever it appears in a serialized line
 *    (an engine output line, a vendor error message, a connection string), raw or JSON-escaped, and the token of
 *    every pastor's link.
 */
import pino from 'pino';

export const REDACTED = '[REDACTED]';

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["stripe-signature"]',
  'req.headers.cookie',
  'headers.authorization',
  'headers["stripe-signature"]',
  '*.authorization',
  '*.adminToken',
  '*.stripeWebhookSecret',
  '*.stripeSecretKey',
  '*.smtpUrl',
  '*.databaseUrl',
  '*.password',
  '*.apiKey',
  '*.apiSecret',
  '*.secret',
  '*.token',
];

/** Replaces each secret (longest first, so a URL goes before the password inside it) in a text. */
export function secretScrubber(secrets: readonly string[]): (text: string) => string {
  const forms = new Set<string>();
  for (const secret of secrets) {
    if (!secret) continue;
    forms.add(secret);
    forms.add(JSON.stringify(secret).slice(1, -1));
  }
  const ordered = [...forms].sort((a, b) => b.length - a.length);
  return (text: string) => {
    let out = text;
    for (const form of ordered) if (out.includes(form)) out = out.split(form).join(REDACTED);
    return out;
  };
}

export interface LoggerOptions {
  level?: string;
  /** Secret values to scrub from every line (see config.secretValues). */
  secrets: readonly string[];
  /** Where lines go; default stdout. Tests pass a collector. */
  destination?: { write(line: string): unknown };
}

/**
 * A pastor's link carries a signed token in its path (`/start/<token>`, webhook/pastor/link.ts): whoever reads it
 * can act for that church until it expires, so request lines keep the path's shape and lose the token.
 */
export function maskLinkTokens(text: string): string {
  return text.replace(/\/start\/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/g, `/start/${REDACTED}`);
}

export function createLogger(options: LoggerOptions): pino.Logger {
  const scrub = secretScrubber(options.secrets);
  const destination = options.destination ?? pino.destination(1);
  const scrubbing = { write: (line: string) => destination.write(maskLinkTokens(scrub(line))) };
  return pino(
    {
      level: options.level ?? 'info',
      base: { service: 'churchwise-voice-webhook' },
      redact: { paths: REDACT_PATHS, censor: REDACTED },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    scrubbing,
  );
}
