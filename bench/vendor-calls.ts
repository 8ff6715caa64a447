/**
 * Counts the vendor calls of one measured step, per vendor and per operation: Telnyx from the stand-in's request
 * log, LiveKit and Supabase from the delaying proxies in front of them.
 */
import type { TelnyxStandIn } from '../sandbox/telnyx/standin';
import type { DelayingProxy } from './delaying-proxy';

export const VENDORS = ['telnyx', 'livekit', 'supabase'] as const;
export type VendorName = (typeof VENDORS)[number];

export interface VendorCallCounts {
  telnyx: number;
  livekit: number;
  supabase: number;
  total: number;
  /** `telnyx GET /phone_numbers/:id` -> 3 */
  byOperation: Record<string, number>;
  /** Calls answered with an error status (or none), by operation and status: retries and lost answers show here. */
  failed: Record<string, number>;
}

export type CallMark = Record<VendorName, number>;

/** `/v2/phone_numbers/1234567` -> `GET /phone_numbers/:id` (ids are the segments with digits in them). */
export function telnyxOperation(method: string, path: string): string {
  const rest = path.replace(/^\/v2(?=\/|$)/, '');
  return `${method} ${rest.replace(/\/[^/]*\d[^/]*(?=\/|$)/g, '/:id')}`;
}

export class VendorCallMeter {
  constructor(private readonly sources: { telnyx: TelnyxStandIn; livekit: DelayingProxy; supabase: DelayingProxy }) {}

  /** Where the logs are now: pass it to `since` after the step. */
  mark(): CallMark {
    return {
      telnyx: this.sources.telnyx.requests.length,
      livekit: this.sources.livekit.calls.length,
      supabase: this.sources.supabase.calls.length,
    };
  }

  since(mark: CallMark): VendorCallCounts {
    const operations: Array<[VendorName, string, number]> = [
      ...this.sources.telnyx.requests
        .slice(mark.telnyx)
        .map((r) => ['telnyx', telnyxOperation(r.method, r.path), r.status] as [VendorName, string, number]),
      ...this.sources.livekit.calls
        .slice(mark.livekit)
        .map((c) => ['livekit', c.operation, c.status] as [VendorName, string, number]),
      ...this.sources.supabase.calls
        .slice(mark.supabase)
        .map((c) => ['supabase', c.operation, c.status] as [VendorName, string, number]),
    ];
    const counts: VendorCallCounts = {
      telnyx: 0,
      livekit: 0,
      supabase: 0,
      total: operations.length,
      byOperation: {},
      failed: {},
    };
    for (const [vendor, operation, status] of operations) {
      counts[vendor] += 1;
      const key = `${vendor} ${operation}`;
      counts.byOperation[key] = (counts.byOperation[key] ?? 0) + 1;
      if (!(status >= 200 && status < 400))
        counts.failed[`${key} -> ${status || 'no answer'}`] =
          (counts.failed[`${key} -> ${status || 'no answer'}`] ?? 0) + 1;
    }
    return counts;
  }

  setLatency(ms: number): void {
    this.sources.telnyx.setLatency(ms);
    this.sources.livekit.setLatency(ms);
    this.sources.supabase.setLatency(ms);
  }
}

/** `telnyx 9 / livekit 2 / supabase 1`, for table cells. */
export function formatCounts(counts: Pick<VendorCallCounts, VendorName>): string {
  return VENDORS.map((v) => `${v[0].toUpperCase()}${counts[v]}`).join(' ');
}
