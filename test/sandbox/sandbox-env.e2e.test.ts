/**
 * `./dev sandbox env` (the npm script `sandbox env`, run as the CLI tests run their commands: ts-node in its own
 * process): its output, eval'd by bash, is everything `pulumi preview` needs from the project root against the
 * sandbox's dev stack, in the folder `./dev demo` uses, and it never carries a production value, even when the
 * calling shell holds production's settings.
 */
import { spawn, spawnSync } from 'child_process';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { REPO_ROOT, TOOLS_DIR } from '../../sandbox/processes';
import { DEV_STACK } from '../../sandbox/sandbox';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const token = () => randomBytes(12).toString('hex');

/** What a founder's shell may hold while working on production: none of it may reach (or stay in) the output. */
const PRODUCTION = {
  PULUMI_BACKEND_URL: `s3://churchwise-prod-state-${token()}`,
  PULUMI_CONFIG_PASSPHRASE: `prod-passphrase-${token()}`,
  PULUMI_ACCESS_TOKEN: `pul-${token()}`,
  PULUMI_STACK: 'prod',
  TELNYX_API_KEY: `KEYprod${token()}`,
  TELNYX_BASE_URL: 'https://api.telnyx.com/v2',
  LIVEKIT_URL: 'https://cwa-voice.livekit.cloud',
  LIVEKIT_API_KEY: `APIprod${token()}`,
  LIVEKIT_API_SECRET: `prod-livekit-secret-${token()}`,
  SUPABASE_URL: 'https://prod-project.supabase.co',
  SUPABASE_SERVICE_ROLE_KEY: `eyJprod${token()}`,
  REGISTRY_DATABASE_URL: `postgres://registry:${token()}@db.prod.example:5432/churchwise`,
  DATABASE_URL: `postgres://service:${token()}@db.prod.example:5432/churchwise`,
  STRIPE_WEBHOOK_SECRET: `whsec_${token()}`,
  STRIPE_SECRET_KEY: `sk_live_${token()}`,
  STRIPE_BASE_URL: 'https://api.stripe.com',
  ADMIN_TOKEN: token() + token(),
};

/** Production's encrypted config values as committed: ciphertext, but still never something to print. */
function committedProductionSecrets(): string[] {
  const text = fs.readFileSync(path.join(REPO_ROOT, 'Pulumi.prod.yaml'), 'utf8');
  return [...text.matchAll(/secure:\s*([^\s}]+)/g)].map((m) => m[1]);
}

describe('./dev sandbox env', () => {
  const callerEnv: NodeJS.ProcessEnv = { ...process.env, ...PRODUCTION };
  let printed: Run;
  /** The environment of a bash that evals the output, as `env -0` lists it. */
  let evaluated: Record<string, string>;

  beforeAll(async () => {
    printed = await run(
      process.execPath,
      [require.resolve('ts-node/dist/bin'), '--transpile-only', path.join('sandbox', 'cli.ts'), 'env'],
      callerEnv,
      180_000,
    );
    expect(printed.stderr.split('\n').filter((l) => /error|failed/i.test(l))).toEqual([]);
    expect(printed.code).toBe(0);
    const shell = spawnSync('bash', ['-euo', 'pipefail', '-c', 'eval "$SANDBOX_ENV_OUTPUT"; env -0'], {
      cwd: REPO_ROOT,
      env: { ...callerEnv, SANDBOX_ENV_OUTPUT: printed.stdout },
    });
    expect(shell.stderr.toString()).toBe('');
    expect(shell.status).toBe(0);
    evaluated = Object.fromEntries(
      shell.stdout
        .toString()
        .split('\0')
        .filter(Boolean)
        .map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]),
    );
  });

  it('prints only comment lines and single-quoted `export K=V` lines', () => {
    const lines = printed.stdout.trimEnd().split('\n');
    for (const line of lines)
      expect(line).toMatch(/^(#.*|export [A-Z][A-Z0-9_]*=('([^']|'\\'')*'("\$\{PATH:\+:\$PATH\}")?))$/);
    expect(lines.some((l) => l.startsWith('#') && /PULUMI_CONFIG_PASSPHRASE/.test(l) && /sandbox/.test(l))).toBe(true);
  });

  it("points pulumi at the dev stack's file backend that ./dev demo uses, with the sandbox's passphrase", () => {
    expect(evaluated.PULUMI_BACKEND_URL).toBe(DEV_STACK.backendUrl);
    expect(evaluated.PULUMI_BACKEND_URL).toBe(`file://${path.join(REPO_ROOT, '.sandbox', 'pulumi-state')}`);
    expect(evaluated.PULUMI_CONFIG_PASSPHRASE).toBe(DEV_STACK.passphrase);
    expect(evaluated.PULUMI_STACK).toBe('dev');
    expect(evaluated.PULUMI_SKIP_UPDATE_CHECK).toBe('true');
  });

  it("puts the project's pulumi CLI and Node first on PATH and keeps the shell's own PATH after them", () => {
    expect(evaluated.PATH.startsWith(`${path.join(TOOLS_DIR, 'bin')}:`)).toBe(true);
    expect(evaluated.PATH.endsWith(`:${process.env.PATH}`)).toBe(true);
    const which = spawnSync('bash', ['-c', 'command -v pulumi; node --version'], { env: evaluated });
    const [pulumi, node] = which.stdout.toString().trim().split('\n');
    expect(pulumi).toBe(path.join(TOOLS_DIR, 'bin', 'pulumi'));
    expect(Number(/^v(\d+)/.exec(node)?.[1])).toBeGreaterThanOrEqual(22);
  });

  it("sets the vendors and the registry to the sandbox's loopback peers, overriding the caller's production values", () => {
    const urls = [
      'TELNYX_BASE_URL',
      'LIVEKIT_URL',
      'SUPABASE_URL',
      'REGISTRY_DATABASE_URL',
      'DATABASE_URL',
      'STRIPE_BASE_URL',
    ];
    for (const key of urls) {
      expect([key, evaluated[key]]).toEqual([key, expect.stringMatching(/^[a-z]+:\/\/([^@]*@)?127\.0\.0\.1:\d+/)]);
    }
    for (const key of ['TELNYX_API_KEY', 'LIVEKIT_API_KEY', 'LIVEKIT_API_SECRET', 'SUPABASE_SERVICE_ROLE_KEY']) {
      expect(evaluated[key]).toBeTruthy();
      expect(evaluated[key]).not.toBe(PRODUCTION[key as keyof typeof PRODUCTION]);
    }
  });

  it('never prints a production value, not even one the calling shell holds', () => {
    for (const value of [...Object.values(PRODUCTION).filter((v) => v.length > 8), ...committedProductionSecrets()]) {
      expect(printed.stdout).not.toContain(value);
    }
    // The service's own secrets are not the shell's business: `./dev service` sets them. STRIPE_BASE_URL (the
    // loopback stripe-mock) is the one Stripe variable printed: it is an address, not a secret.
    expect(printed.stdout).not.toMatch(/^export (STRIPE_(?!BASE_URL=)|ADMIN_TOKEN|PULUMI_ACCESS_TOKEN)/m);
  });

  it('is enough for `pulumi stack select dev` and `pulumi preview` from the project root', async () => {
    const preview = await run(
      'bash',
      [
        '-euo',
        'pipefail',
        '-c',
        'eval "$SANDBOX_ENV_OUTPUT"; pulumi stack select dev --non-interactive; pulumi preview --stack dev --non-interactive',
      ],
      { ...callerEnv, SANDBOX_ENV_OUTPUT: printed.stdout },
      120_000,
    );
    expect({ code: preview.code, stderr: preview.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    expect(preview.stdout).toMatch(/Previewing update \(dev\)/);
  });
});
