/**
 * The Stripe API client of the service (the pastor's checkout). Stripe's own SDK owns the requests and their retries
 * (idempotency keys make a retried create safe); this only points it at another address when one is given (the
 * sandbox's stripe-mock), which the SDK takes as host, port and protocol rather than a base URL.
 */
import Stripe from 'stripe';

export function stripeSdkEndpoint(url: string): { host: string; port: number; protocol: 'http' | 'https' } {
  const parsed = new URL(url);
  const protocol = parsed.protocol === 'http:' ? 'http' : 'https';
  return {
    host: parsed.hostname,
    port: parsed.port ? Number(parsed.port) : protocol === 'http' ? 80 : 443,
    protocol,
  };
}

export function stripeClient(
  secretKey: string,
  options: { baseUrl?: string; maxNetworkRetries?: number } = {},
): Stripe {
  return new Stripe(secretKey, {
    ...(options.baseUrl ? stripeSdkEndpoint(options.baseUrl) : {}),
    maxNetworkRetries: options.maxNetworkRetries ?? 2,
  });
}
