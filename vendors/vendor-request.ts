/**
 * The retry rule every vendor client follows, and the error they all throw.
 * Transport errors, 429 and 5xx are retried with exponential backoff (honouring retry-after);
 * any other 4xx is final. A call that is not idempotent (ordering a number) passes `idempotent: false`
 * and is never retried blindly: the caller must look the result up before trying again.
 */
import { sleep } from '../common/timing';

export type Vendor = 'telnyx' | 'livekit' | 'supabase' | 'stripe';

export interface VendorCall {
  vendor: Vendor;
  /** HTTP method or RPC verb, e.g. `POST` or `CreateSIPInboundTrunk`. */
  method: string;
  /** Path or RPC name, e.g. `/number_orders`. */
  path: string;
  /** False for calls that must not be repeated without checking what the first attempt did. */
  idempotent?: boolean;
}

/** What a client learns from a failed attempt. */
export interface AttemptFailure {
  /** HTTP status; undefined for transport errors (refused, reset, timeout). */
  status?: number;
  /** Vendor error code, e.g. `not_found`, `10015`. */
  code?: string;
  detail: string;
  retryAfterMs?: number;
}

export class VendorError extends Error {
  readonly vendor: Vendor;
  readonly method: string;
  readonly path: string;
  readonly status?: number;
  readonly code?: string;
  readonly detail: string;
  readonly attempts: number;

  constructor(call: VendorCall, failure: AttemptFailure, attempts: number) {
    const status = failure.status === undefined ? 'transport error' : `HTTP ${failure.status}`;
    const code = failure.code ? ` ${failure.code}` : '';
    const tries = attempts > 1 ? ` after ${attempts} attempts` : '';
    super(`${call.vendor} ${call.method} ${call.path} failed${tries}: ${status}${code}: ${failure.detail}`);
    this.name = 'VendorError';
    this.vendor = call.vendor;
    this.method = call.method;
    this.path = call.path;
    this.status = failure.status;
    this.code = failure.code;
    this.detail = failure.detail;
    this.attempts = attempts;
  }

  get notFound(): boolean {
    return this.status === 404;
  }
}

export interface RetryPolicy {
  /** Total attempts including the first. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { attempts: 5, baseDelayMs: 200, maxDelayMs: 5000 };

export function isRetryable(failure: AttemptFailure): boolean {
  return failure.status === undefined || failure.status === 429 || failure.status >= 500;
}

/** Backoff for attempt n (1-based), full jitter, never below what the vendor asked for. */
export function backoffMs(policy: RetryPolicy, attempt: number, retryAfterMs?: number): number {
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  const jittered = exp / 2 + Math.random() * (exp / 2);
  return Math.max(jittered, retryAfterMs ?? 0);
}

/** Parses `retry-after` (seconds or HTTP date) and `retry-after-ms`. */
export function parseRetryAfter(headers: { get(name: string): string | null } | undefined): number | undefined {
  if (!headers) return undefined;
  const ms = headers.get('retry-after-ms');
  if (ms && !Number.isNaN(Number(ms))) return Number(ms);
  const value = headers.get('retry-after');
  if (!value) return undefined;
  if (!Number.isNaN(Number(value))) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/**
 * Runs `attempt` under the retry rule. `classify` turns whatever the SDK threw into an AttemptFailure;
 * anything it returns undefined for is rethrown untouched (a programming error, not a vendor answer).
 */
export async function callVendor<T>(
  call: VendorCall,
  attempt: () => Promise<T>,
  classify: (error: unknown) => AttemptFailure | undefined,
  policy: RetryPolicy = DEFAULT_RETRY_POLICY,
): Promise<T> {
  const maxAttempts = call.idempotent === false ? 1 : Math.max(1, policy.attempts);
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (error) {
      const failure = classify(error);
      if (!failure) throw error;
      if (n >= maxAttempts || !isRetryable(failure)) throw new VendorError(call, failure, n);
      await sleep(backoffMs(policy, n, failure.retryAfterMs));
    }
  }
}
