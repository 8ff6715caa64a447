/** The service's environment: a missing or malformed variable is named; every variable read is documented. */
import * as fs from 'fs';
import * as path from 'path';
import { ENVIRONMENT, loadConfig, secretValues } from '../../webhook/config';

const complete = {
  DATABASE_URL: 'postgresql://registry:db-password-123@db.internal:5432/registry',
  STRIPE_WEBHOOK_SECRET: 'whsec_0123456789abcdef',
  ADMIN_TOKEN: 'a'.repeat(40),
  SMTP_URL: 'smtps://alerts:smtp-pass%2Fword@smtp.example.com:465',
  FOUNDER_EMAIL: 'founder@churchwise.ai',
};

describe('loadConfig', () => {
  it.each(['DATABASE_URL', 'STRIPE_WEBHOOK_SECRET', 'ADMIN_TOKEN', 'SMTP_URL', 'FOUNDER_EMAIL'])(
    'names %s when it is missing',
    (name) => {
      const env = { ...complete, [name]: '' };
      expect(() => loadConfig(env)).toThrow(new RegExp(`^${name}: missing environment variable`));
    },
  );

  it.each([
    ['STRIPE_WEBHOOK_SECRET', 'sk_live_123', /must start with whsec_/],
    ['ADMIN_TOKEN', 'short', /at least 32 characters/],
    ['SMTP_URL', 'mail.example.com', /smtp:\/\/ or smtps:\/\//],
    ['FOUNDER_EMAIL', 'founder', /email address/],
    ['PORT', '99999', /TCP port/],
    ['PROVISION_MAX_ATTEMPTS', '0', /positive integer/],
  ])('names %s when it is malformed', (name, value, rule) => {
    expect(() => loadConfig({ ...complete, [name]: value })).toThrow(new RegExp(`^${name}: .*`));
    expect(() => loadConfig({ ...complete, [name]: value })).toThrow(rule);
  });

  it('reads lists and defaults', () => {
    const config = loadConfig({
      ...complete,
      VOICE_PRICE_LOOKUP_KEYS: 'voice_monthly, voice_annual',
      VOICE_PRODUCT_IDS: 'prod_A',
      PROVISION_RETRY_BASE_SECONDS: '30',
    });
    expect(config.voicePlans).toEqual({ lookupKeys: ['voice_monthly', 'voice_annual'], productIds: ['prod_A'] });
    expect(config).toMatchObject({
      host: '127.0.0.1',
      stackName: 'prod',
      retry: { maxAttempts: 5, baseDelayMs: 30000, maxDelayMs: 1800000 },
    });
    expect(config.mailFrom).toBe('ChurchWise provisioning <founder@churchwise.ai>');
  });

  it('knows every secret, including the passwords inside the URLs', () => {
    const secrets = secretValues(loadConfig(complete));
    for (const value of [
      'db-password-123',
      'smtp-pass/word',
      'smtp-pass%2Fword',
      complete.ADMIN_TOKEN,
      complete.STRIPE_WEBHOOK_SECRET,
    ]) {
      expect(secrets).toContain(value);
    }
  });

  it('documents every variable the service reads', () => {
    const source = fs.readFileSync(path.join(__dirname, '../../webhook/config.ts'), 'utf8');
    const read = new Set([...source.matchAll(/env(?:\.|\[')([A-Z_]+)/g)].map((m) => m[1]));
    read.add('DATABASE_URL').add('STRIPE_WEBHOOK_SECRET').add('ADMIN_TOKEN').add('SMTP_URL').add('FOUNDER_EMAIL');
    for (const name of read) expect(Object.keys(ENVIRONMENT)).toContain(name);
  });
});
