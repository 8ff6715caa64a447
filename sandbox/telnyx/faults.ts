/**
 * Misbehaviour on demand: added latency on every /v2 call, and injected error responses (429 with retry-after,
 * 5xx) for a number of requests, for a while, or until cleared, optionally only under a path prefix or method.
 * A fault can also let the request take effect and only replace its response: the case where a blindly retried
 * POST /number_orders buys a second number.
 */
import { apiPath } from './openapi';

export interface FaultSpec {
  /** HTTP status to answer, e.g. 429, 500, 503. */
  status: number;
  /** Requests to fail; default: every matching request until `forMs` passes or faults are cleared. */
  count?: number;
  /** How long the fault lasts, from now. */
  forMs?: number;
  /** Only requests under this path, with or without `/v2` (e.g. `/number_orders`). */
  pathPrefix?: string;
  /** Only this HTTP method. */
  method?: string;
  /** Sent as the `retry-after` header (seconds). */
  retryAfterSeconds?: number;
  /** The request is carried out and only its response replaced by the fault. Default false: nothing happens. */
  takesEffect?: boolean;
}

export interface ActiveFault extends FaultSpec {
  id: number;
  /** Requests this fault has answered so far. */
  hits: number;
  expiresAt?: number;
}

export function checkFaultSpec(spec: FaultSpec): string | undefined {
  if (!Number.isInteger(spec.status) || spec.status < 400 || spec.status > 599) {
    return `status must be an HTTP error status (400-599), got ${JSON.stringify(spec.status)}`;
  }
  if (spec.count !== undefined && (!Number.isInteger(spec.count) || spec.count < 1)) {
    return `count must be a positive integer, got ${JSON.stringify(spec.count)}`;
  }
  if (spec.forMs !== undefined && (typeof spec.forMs !== 'number' || spec.forMs <= 0)) {
    return `forMs must be a positive number of milliseconds, got ${JSON.stringify(spec.forMs)}`;
  }
  if (
    spec.retryAfterSeconds !== undefined &&
    (!Number.isInteger(spec.retryAfterSeconds) || spec.retryAfterSeconds < 0)
  ) {
    return `retryAfterSeconds must be a non-negative integer, got ${JSON.stringify(spec.retryAfterSeconds)}`;
  }
  if (spec.pathPrefix !== undefined && (typeof spec.pathPrefix !== 'string' || !spec.pathPrefix.startsWith('/'))) {
    return `pathPrefix must start with "/", got ${JSON.stringify(spec.pathPrefix)}`;
  }
  return undefined;
}

export class FaultInjector {
  readonly active: ActiveFault[] = [];
  latencyMs = 0;
  private nextId = 1;
  /** Requests waiting out the latency; released at once when the stand-in closes. */
  private readonly waiting = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();

  inject(spec: FaultSpec): ActiveFault {
    const problem = checkFaultSpec(spec);
    if (problem) throw new Error(`injectFaults: ${problem}`);
    const fault: ActiveFault = {
      ...spec,
      id: this.nextId++,
      hits: 0,
      ...(spec.forMs ? { expiresAt: Date.now() + spec.forMs } : {}),
    };
    this.active.push(fault);
    return fault;
  }

  clear(): void {
    this.active.length = 0;
  }

  setLatency(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0)
      throw new Error(`setLatency: ms must be a non-negative number, got ${JSON.stringify(ms)}`);
    this.latencyMs = ms;
  }

  async delay(): Promise<void> {
    if (this.latencyMs <= 0) return;
    await new Promise<void>((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          this.waiting.delete(entry);
          resolve();
        }, this.latencyMs),
        resolve,
      };
      this.waiting.add(entry);
    });
  }

  /** Ends every pending delay now, so closing the stand-in never waits out an injected latency. */
  releaseDelays(): void {
    for (const entry of this.waiting) {
      clearTimeout(entry.timer);
      entry.resolve();
    }
    this.waiting.clear();
  }

  /** The fault answering this request, if any; counts it against the fault's budget. */
  take(method: string, requestPath: string): ActiveFault | undefined {
    const now = Date.now();
    // Spent and expired faults leave the list, so `active` shows what still applies.
    for (let i = this.active.length - 1; i >= 0; i--) {
      const f = this.active[i];
      if ((f.expiresAt !== undefined && now >= f.expiresAt) || (f.count !== undefined && f.hits >= f.count))
        this.active.splice(i, 1);
    }
    const path = apiPath(requestPath);
    const fault = this.active.find(
      (f) =>
        (f.pathPrefix === undefined || path.startsWith(apiPath(f.pathPrefix))) &&
        (f.method === undefined || f.method.toUpperCase() === method.toUpperCase()),
    );
    if (fault) fault.hits += 1;
    return fault;
  }
}
