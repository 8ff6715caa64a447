/**
 * The webhook service on the local sandbox, in one command:
 *
 *   ./dev service
 *       starts the sandbox if needed, then runs webhook/main.ts in the foreground on the dev stack with every
 *       variable it reads set to the sandbox's values (registry, Stripe signing secret, admin token, mailpit as
 *       SMTP, founder address, PULUMI_STACK=dev, the dev stack's backend and passphrase, the vendors' loopback
 *       endpoints). Prints the URL, the admin token and how to send a signed test event. Ctrl-C or SIGTERM stops it
 *       the way production stops it: the current stack run finishes, then it exits.
 *   ./dev service event --church <id> --area-code <NPA> [--name NAME] [--curl]
 *       a checkout.session.completed of a voice plan, signed with the sandbox's STRIPE_WEBHOOK_SECRET the way Stripe
 *       signs (the stripe SDK; the Stripe CLI is not needed), posted to the running service. With --curl it is only
 *       printed as a curl command (valid for 5 minutes: Stripe's signature tolerance).
 *
 * The secret and the token are the sandbox's own, fixed so that recipes keep working; they open nothing but this
 * loopback service. Production's come from its own environment (webhook/config.ts).
 */
import { spawn } from 'child_process';
import { randomBytes } from 'crypto';
import * as path from 'path';
import { parseArgs } from 'util';
import Stripe from 'stripe';
import { shellQuote } from './cli';
import { signPastorLink } from '../webhook/pastor/link';
import { SANDBOX_STRIPE_SECRET_KEY } from './stripe-mock';
import { SANDBOX_PORTS } from './ports';
import { REPO_ROOT, portOpen } from './processes';
import { DEV_STACK, devStackEnvironment, ensureDevStack, startSandbox, type Sandbox } from './sandbox';

/** The sandbox service's own settings: loopback only, printed on purpose (they are not production's). */
export const SANDBOX_SERVICE = {
  stripeWebhookSecret: 'whsec_sandbox_loopback_only_not_a_stripe_secret',
  adminToken: 'sandbox-admin-token-loopback-only-0123456789',
  founderEmail: 'founder@churchwise.test',
  pastorLinkSecret: 'sandbox-pastor-link-secret-loopback-only-0123',
  voicePriceId: 'price_voice_monthly',
} as const;

/** The sample church whose picker link `./dev demo` and `./dev service` print (not one the demo provisions). */
export const SAMPLE_PASTOR_CHURCH = { churchId: 'first-baptist-fort-worth', churchName: 'First Baptist Fort Worth' };

/** The sample church's picker on the sandbox service (valid 7 days). */
export function samplePickerUrl(): string {
  return `${sandboxServiceUrl()}/start/${signPastorLink(SANDBOX_SERVICE.pastorLinkSecret, SAMPLE_PASTOR_CHURCH)}`;
}

/** Inherited settings that belong to production and must not ride into a sandbox run. */
const PRODUCTION_ONLY = ['STRIPE_SECRET_KEY', 'PULUMI_ACCESS_TOKEN', 'PULUMI_WORK_DIR'];

export function sandboxServiceUrl(): string {
  return `http://127.0.0.1:${SANDBOX_PORTS.webhook}`;
}

/** Every variable webhook/main.ts reads (webhook/config.ts ENVIRONMENT), plus the engine's, for the dev stack. */
export function sandboxServiceEnvironment(sandbox: Omit<Sandbox, 'seeded'>): Record<string, string> {
  return {
    ...devStackEnvironment(sandbox),
    STRIPE_WEBHOOK_SECRET: SANDBOX_SERVICE.stripeWebhookSecret,
    ADMIN_TOKEN: SANDBOX_SERVICE.adminToken,
    SMTP_URL: sandbox.mail.smtpUrl,
    FOUNDER_EMAIL: SANDBOX_SERVICE.founderEmail,
    // The pastor's pages: links signed with the sandbox's secret, checkout through stripe-mock's test key.
    PASTOR_LINK_SECRET: SANDBOX_SERVICE.pastorLinkSecret,
    PUBLIC_BASE_URL: sandboxServiceUrl(),
    VOICE_PRICE_ID: SANDBOX_SERVICE.voicePriceId,
    STRIPE_SECRET_KEY: SANDBOX_STRIPE_SECRET_KEY,
    HOST: '127.0.0.1',
    PORT: String(SANDBOX_PORTS.webhook),
  };
}

/** A voice-plan checkout.session.completed as Stripe sends it (the fields the service reads). */
export function voiceCheckoutEvent(church: {
  churchId: string;
  areaCode: string;
  name?: string;
}): Record<string, unknown> {
  const id = randomBytes(8).toString('hex');
  const metadata: Record<string, string> = { church_id: church.churchId, area_code: church.areaCode, plan: 'voice' };
  if (church.name) metadata.church_name = church.name;
  return {
    id: `evt_sandbox_${id}`,
    object: 'event',
    type: 'checkout.session.completed',
    created: Math.floor(Date.now() / 1000),
    data: {
      object: {
        id: `cs_sandbox_${id}`,
        object: 'checkout.session',
        mode: 'subscription',
        client_reference_id: church.churchId,
        customer: `cus_sandbox_${id}`,
        subscription: `sub_sandbox_${id}`,
        payment_status: 'paid',
        metadata,
      },
    },
  };
}

/** Body and Stripe-Signature header of a delivery, signed as Stripe signs (timestamp now). */
export function signStripeEvent(
  event: unknown,
  secret: string = SANDBOX_SERVICE.stripeWebhookSecret,
): { payload: string; signature: string } {
  const payload = JSON.stringify(event);
  return { payload, signature: Stripe.webhooks.generateTestHeaderString({ payload, secret }) };
}

function banner(url: string): string {
  const bearer = `-H 'Authorization: Bearer ${SANDBOX_SERVICE.adminToken}'`;
  return [
    `[service] the webhook service on the sandbox's dev stack (${DEV_STACK.backendUrl})`,
    `  URL                    ${url}`,
    `  ADMIN_TOKEN            ${SANDBOX_SERVICE.adminToken}   (the sandbox's, loopback only)`,
    `  STRIPE_WEBHOOK_SECRET  ${SANDBOX_SERVICE.stripeWebhookSecret}   (the sandbox's; signs test events)`,
    `  founder emails         ${SANDBOX_SERVICE.founderEmail}, read them in mailpit: ` +
      `http://127.0.0.1:${SANDBOX_PORTS.mailpitHttp}`,
    'Try, from another terminal:',
    `  curl -s ${url}/health`,
    `  open the pastor's number picker for ${SAMPLE_PASTOR_CHURCH.churchName}: ${samplePickerUrl()}`,
    '  ./dev service event --church new-hope-austin --area-code 512 --name "New Hope Austin"   # signed Stripe event',
    `  curl -s ${bearer} ${url}/churches/new-hope-austin/status`,
    `  curl -s -X POST ${bearer} -H 'content-type: application/json' \\`,
    `       -d '{"churchId":"hope-chapel","areaCode":"414"}' ${url}/admin/provision-number`,
    'Ctrl-C (or SIGTERM) stops it; a stack run in progress finishes first.',
  ].join('\n');
}

async function waitForHealth(url: string, alive: () => boolean): Promise<boolean> {
  while (alive()) {
    try {
      const response = await fetch(`${url}/health`);
      if (response.ok) return true;
    } catch {
      /* not listening yet */
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return false;
}

async function runService(): Promise<number> {
  const url = sandboxServiceUrl();
  if (await portOpen(SANDBOX_PORTS.webhook)) {
    throw new Error(
      `127.0.0.1:${SANDBOX_PORTS.webhook} is already in use (another \`./dev service\`?); ` +
        `SANDBOX_WEBHOOK_PORT moves the service`,
    );
  }
  const sandbox = await startSandbox((line) => console.log(`[sandbox] ${line}`));
  const sandboxEnv = sandboxServiceEnvironment(sandbox);
  if (await ensureDevStack(sandboxEnv)) console.log(`[sandbox] dev stack created in ${DEV_STACK.backendUrl}`);
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(
      (entry): entry is [string, string] => entry[1] !== undefined && !PRODUCTION_ONLY.includes(entry[0]),
    ),
  );
  console.log(banner(url));
  // node + ts-node directly (not npm/npx), in this process group: SIGTERM and Ctrl-C reach the service itself.
  const child = spawn(
    process.execPath,
    [require.resolve('ts-node/dist/bin.js'), '--transpile-only', path.join(REPO_ROOT, 'webhook', 'main.ts')],
    {
      cwd: REPO_ROOT,
      env: { ...inherited, ...sandboxEnv },
      stdio: 'inherit',
    },
  );
  const forward = (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  };
  process.on('SIGINT', () => forward('SIGINT'));
  process.on('SIGTERM', () => forward('SIGTERM'));
  const exited = new Promise<number>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
    child.once('error', (error) => {
      console.error(`[service] could not start webhook/main.ts: ${error.message}`);
      resolve(1);
    });
  });
  void waitForHealth(url, () => child.exitCode === null && child.signalCode === null).then((ready) => {
    if (ready) console.log(`[service] ready: ${url}/health answers 200`);
  });
  const code = await exited;
  console.log(`[service] stopped (exit code ${code}); the sandbox keeps running (\`./dev sandbox stop\` stops it)`);
  return code;
}

async function sendEvent(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      church: { type: 'string' },
      'area-code': { type: 'string' },
      name: { type: 'string' },
      curl: { type: 'boolean', default: false },
    },
  });
  if (!values.church || !values['area-code']) {
    console.error('usage: ./dev service event --church <id> --area-code <NPA> [--name NAME] [--curl]');
    return 2;
  }
  const url = `${sandboxServiceUrl()}/stripe/webhook`;
  const event = voiceCheckoutEvent({ churchId: values.church, areaCode: values['area-code'], name: values.name });
  const { payload, signature } = signStripeEvent(event);
  if (values.curl) {
    console.log(
      `curl -s -X POST ${url} -H 'content-type: ` +
        `application/json' -H ${shellQuote(`stripe-signature: ${signature}`)} ` +
        `--data-binary ${shellQuote(payload)}`,
    );
    return 0;
  }
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'stripe-signature': signature },
      body: payload,
    });
  } catch (error) {
    console.error(
      `nothing answers at ${url} (${(error as Error).message}): start the service with \`./dev service\` first`,
    );
    return 1;
  }
  console.log(`${response.status} ${await response.text()}`);
  if (response.ok) {
    console.log(
      `follow it: curl -s -H 'Authorization: ` +
        `Bearer ${SANDBOX_SERVICE.adminToken}' ${sandboxServiceUrl()}/churches/${values.church}/status`,
    );
  }
  return response.ok ? 0 : 1;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'run') return runService();
  if (command === 'event') return sendEvent(rest);
  console.error(
    'usage: ./dev service [run] | ./dev service event --church <id> --area-code <NPA> [--name NAME] [--curl]',
  );
  return 2;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error) => {
      console.error(`[service] ${error instanceof Error ? error.message : error}`);
      process.exit(1);
    },
  );
}
