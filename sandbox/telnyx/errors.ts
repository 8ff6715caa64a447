/**
 * Errors in Telnyx's shape: `{errors:[{code, title, detail, source?, meta?}]}`. Codes are the ones the spec's own
 * examples use for the same situation (10005 not found, 10009 authentication, 10015 invalid request, 10007
 * unexpected error), so a client that branches on them is tested against real values.
 */

export interface TelnyxErrorItem {
  code: string;
  title: string;
  detail: string;
  source?: { pointer?: string; parameter?: string };
}

export interface TelnyxErrorBody {
  errors: TelnyxErrorItem[];
}

export const TELNYX_ERROR_CODES = {
  unexpected: '10007',
  authentication: '10009',
  notFound: '10005',
  invalid: '10015',
  rateLimited: '10011',
  callEnded: '90018',
  /**
   * Every concurrent outbound call of the account in use. Telnyx documents the answer (403 "User channel limit
   * exceeded") but not its code; the project's clients go by the status and the words, never by this code.
   */
  channelLimit: '10010',
} as const;

/** Thrown by state and handlers; the router turns it into the HTTP response. */
export class TelnyxApiError extends Error {
  readonly status: number;
  readonly items: TelnyxErrorItem[];

  constructor(status: number, items: TelnyxErrorItem[]) {
    super(items.map((i) => `${i.title}: ${i.detail}`).join('; '));
    this.name = 'TelnyxApiError';
    this.status = status;
    this.items = items;
  }

  get body(): TelnyxErrorBody {
    return { errors: this.items };
  }
}

export function notFound(detail: string): TelnyxApiError {
  return new TelnyxApiError(404, [{ code: TELNYX_ERROR_CODES.notFound, title: 'Resource not found', detail }]);
}

/** 422 for a field whose value breaks a business rule (number not available, unknown connection, lock). */
export function unprocessable(pointer: string, detail: string, title = 'Unprocessable Entity'): TelnyxApiError {
  return new TelnyxApiError(422, [{ code: TELNYX_ERROR_CODES.invalid, title, detail, source: { pointer } }]);
}

/** 400 for a malformed request (bad query parameter, unparsable JSON, empty order). */
export function badRequest(detail: string, source?: TelnyxErrorItem['source']): TelnyxApiError {
  return new TelnyxApiError(400, [
    { code: TELNYX_ERROR_CODES.invalid, title: 'Bad Request', detail, ...(source ? { source } : {}) },
  ]);
}

export function unauthorized(): TelnyxApiError {
  return new TelnyxApiError(401, [
    {
      code: TELNYX_ERROR_CODES.authentication,
      title: 'Authentication failed',
      detail: 'The required authentication headers were either invalid or not included in the request.',
    },
  ]);
}

const FAULT_TITLES: Record<number, string> = {
  429: 'Too many requests',
  500: 'Internal server error',
  502: 'Bad gateway',
  503: 'Service unavailable',
  504: 'Gateway timeout',
};

/** The body of an injected fault: what Telnyx's gateway answers when it sheds load or breaks. */
export function faultError(status: number): TelnyxApiError {
  const title = FAULT_TITLES[status] ?? `HTTP ${status}`;
  const code = status === 429 ? TELNYX_ERROR_CODES.rateLimited : TELNYX_ERROR_CODES.unexpected;
  return new TelnyxApiError(status, [{ code, title, detail: `${title} (fault injected by the Telnyx stand-in)` }]);
}
