/**
 * Every /v2 request the stand-in answered, so a test can prove what a client did ("ordered exactly once",
 * "never released a number"). Credentials are never recorded: only method, path, query, body and outcome.
 */
import { apiPath } from './openapi';

export interface RecordedRequest {
  method: string;
  /** Path as sent, without the query, e.g. `/v2/number_orders`. */
  path: string;
  /** Raw query parameters, e.g. `{ 'filter[national_destination_code]': '414' }`. */
  query: Record<string, string>;
  body: unknown;
  status: number;
  /** ISO time the request arrived. */
  at: string;
  /** Spec operation it matched, when it matched one. */
  operationId?: string;
  /** Answered by an injected fault. */
  fault?: boolean;
}

/** A response or webhook the stand-in produced that broke the spec: a stand-in bug, never shipped silently. */
export interface SpecFailure {
  at: string;
  /** e.g. `GET /v2/phone_numbers/123 -> 200`, or `webhook call.hangup`. */
  what: string;
  errors: string[];
}

export class RequestLog {
  readonly requests: RecordedRequest[] = [];
  readonly specFailures: SpecFailure[] = [];

  record(entry: RecordedRequest): void {
    this.requests.push(entry);
  }

  recordSpecFailure(what: string, errors: string[]): void {
    this.specFailures.push({ at: new Date().toISOString(), what, errors });
  }

  /** Requests matching the method (`*` for any) under the path prefix (with or without `/v2`). */
  matching(method: string, pathPrefix = '/'): RecordedRequest[] {
    const prefix = apiPath(pathPrefix);
    return this.requests.filter(
      (r) => (method === '*' || r.method.toUpperCase() === method.toUpperCase()) && apiPath(r.path).startsWith(prefix),
    );
  }

  count(method: string, pathPrefix = '/'): number {
    return this.matching(method, pathPrefix).length;
  }

  clear(): void {
    this.requests.length = 0;
  }
}
