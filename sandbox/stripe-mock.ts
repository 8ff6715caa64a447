/**
 * The sandbox's Stripe API: stripe-mock (Stripe's own API mock, built by scripts/tools.sh from its Go module)
 * answers the stripe SDK's calls from Stripe's OpenAPI spec and fixtures. It keeps no state (a retrieve answers a
 * fixture, not what was created), but it checks every request against the spec, so a call our code gets wrong fails
 * here the way it would at Stripe. Webhooks are not its business: tests sign events with the SDK.
 */
import { SANDBOX_PORTS } from './ports';
import { startDaemon, toolPath } from './processes';

export const STRIPE_MOCK_DAEMON = 'stripe-mock';
const READY_TIMEOUT_MS = 30000;

/**
 * The key the sandbox hands the stripe SDK. stripe-mock accepts any key shaped `sk_test_<one word>` (exactly three
 * `_`-separated parts) and refuses live keys, so a production key can never be mistaken for this one.
 */
export const SANDBOX_STRIPE_SECRET_KEY = 'sk_test_sandboxloopbackonly';

export interface StripeMockConnection {
  /** Base of the Stripe API, e.g. http://127.0.0.1:12111 (the SDK adds `/v1/...`). */
  url: string;
  apiKey: string;
}

export function sandboxStripeMock(): StripeMockConnection {
  return { url: `http://127.0.0.1:${SANDBOX_PORTS.stripeMock}`, apiKey: SANDBOX_STRIPE_SECRET_KEY };
}

/** Starts stripe-mock unless it already runs; resolves once its HTTP port accepts connections. */
export async function ensureStripeMock(): Promise<StripeMockConnection> {
  await startDaemon({
    name: STRIPE_MOCK_DAEMON,
    command: toolPath('stripe-mock'),
    args: [
      '-http-addr',
      `127.0.0.1:${SANDBOX_PORTS.stripeMock}`,
      // v0.203.0 still opens HTTPS on [::]:12112 (every interface) when only -http-addr is given: keep it on
      // loopback, on a port the system picks, since nothing here speaks HTTPS to it.
      '-https-addr',
      '127.0.0.1:0',
    ],
    port: SANDBOX_PORTS.stripeMock,
    readyTimeoutMs: READY_TIMEOUT_MS,
  });
  return sandboxStripeMock();
}

/** The stripe SDK's options for `url` (the product's own, so tests and service point it the same way). */
export { stripeSdkEndpoint } from '../vendors/stripe-client';
