/**
 * Errors in PostgREST's shape and with its HTTP status mapping, so supabase-js sees exactly what production
 * returns: `{code, details, hint, message}` (details/hint null when absent).
 * Status mapping follows PostgREST's src/PostgREST/Error.hs (pgErrorStatus).
 */

export interface PostgrestErrorBody {
  code: string;
  details: string | null;
  hint: string | null;
  message: string;
}

export class PostgrestHttpError extends Error {
  readonly status: number;
  readonly body: PostgrestErrorBody;

  constructor(
    status: number,
    code: string,
    message: string,
    details: string | null = null,
    hint: string | null = null,
  ) {
    super(message);
    this.name = 'PostgrestHttpError';
    this.status = status;
    this.body = { code, details, hint, message };
  }
}

/** PGRST100: the query string could not be parsed (bad filter, order, select, limit). */
export function parseError(message: string, details: string | null = null): PostgrestHttpError {
  return new PostgrestHttpError(400, 'PGRST100', message, details);
}

/** PGRST102: the request body is not the JSON the operation needs. */
export function bodyError(message: string, details: string | null = null): PostgrestHttpError {
  return new PostgrestHttpError(400, 'PGRST102', message, details);
}

export function unknownTableError(table: string, suggestion?: string): PostgrestHttpError {
  return new PostgrestHttpError(
    404,
    'PGRST205',
    `Could not find the table 'public.${table}' in the schema cache`,
    null,
    suggestion ? `Perhaps you meant the table 'public.${suggestion}'` : null,
  );
}

export function unknownColumnError(table: string, column: string): PostgrestHttpError {
  return new PostgrestHttpError(
    400,
    'PGRST204',
    `Could not find the '${column}' column of '${table}' in the schema cache`,
  );
}

/** PGRST116: `Accept: application/vnd.pgrst.object+json` (supabase-js .single()) but not exactly one row. */
export function singularityError(rows: number): PostgrestHttpError {
  return new PostgrestHttpError(
    406,
    'PGRST116',
    'Cannot coerce the result to a single JSON object',
    `The result contains ${rows} rows`,
  );
}

export function schemaNotExposedError(schema: string): PostgrestHttpError {
  return new PostgrestHttpError(
    406,
    'PGRST106',
    'The schema must be one of the following: public',
    `requested schema: ${schema}`,
  );
}

export function unacceptableMediaError(accept: string): PostgrestHttpError {
  return new PostgrestHttpError(406, 'PGRST107', `None of these media types are available: ${accept}`);
}

/**
 * The service key is checked the way Supabase's API gateway does before PostgREST sees the request.
 * The message never repeats what was sent.
 */
export function invalidKeyError(): PostgrestHttpError {
  return new PostgrestHttpError(
    401,
    'PGRST301',
    'Invalid API key',
    null,
    'Send the service role key in both the apikey header and Authorization: Bearer',
  );
}

/** HTTP status PostgREST answers for a PostgreSQL SQLSTATE. */
export function statusForSqlState(code: string): number {
  const exact: Record<string, number> = {
    '23503': 409, // foreign_key_violation
    '23505': 409, // unique_violation
    '25006': 405, // read_only_sql_transaction
    '53400': 500, // configuration_limit_exceeded
    '57P01': 503, // admin_shutdown
    P0001: 400, // RAISE EXCEPTION default
    '42883': 404, // undefined_function
    '42P01': 404, // undefined_table
    '42P17': 500, // infinite recursion
    '42501': 403, // insufficient_privilege (authenticated: we always are)
  };
  if (exact[code] !== undefined) return exact[code];
  const byClass: Record<string, number> = {
    '08': 503, // connection exception
    '09': 500, // triggered action exception
    '0L': 403, // invalid grantor
    '0P': 403, // invalid role specification
    '25': 500, // invalid transaction state
    '28': 403, // invalid authorization specification
    '2D': 500, // invalid transaction termination
    '38': 500, // external routine exception
    '39': 500, // external routine invocation exception
    '3B': 500, // savepoint exception
    '40': 500, // transaction rollback
    '53': 503, // insufficient resources
    '54': 500, // program limit exceeded
    '55': 500, // object not in prerequisite state
    '57': 500, // operator intervention
    '58': 500, // system error
    F0: 500, // configuration file error
    HV: 500, // foreign data wrapper error
    P0: 500, // PL/pgSQL error
    XX: 500, // internal error
  };
  return byClass[code.slice(0, 2)] ?? 400;
}

interface DatabaseErrorLike {
  code?: string;
  message: string;
  detail?: string;
  hint?: string;
}

function isDatabaseError(error: unknown): error is DatabaseErrorLike & { code: string } {
  return (
    typeof error === 'object' &&
    error !== null &&
    typeof (error as DatabaseErrorLike).code === 'string' &&
    /^[0-9A-Z]{5}$/.test((error as DatabaseErrorLike).code!)
  );
}

/** Turns anything a request handler threw into PostgREST's status and body. */
export function toPostgrestError(error: unknown): PostgrestHttpError {
  if (error instanceof PostgrestHttpError) return error;
  if (isDatabaseError(error)) {
    return new PostgrestHttpError(
      statusForSqlState(error.code),
      error.code,
      error.message,
      error.detail ?? null,
      error.hint ?? null,
    );
  }
  // Connection refused / pool errors: PostgREST answers 503 when it cannot reach the database.
  const code = (error as { code?: string })?.code;
  if (code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'ETIMEDOUT') {
    return new PostgrestHttpError(503, 'PGRST000', 'Could not connect to the database', (error as Error).message);
  }
  return new PostgrestHttpError(500, 'PGRST500', 'Internal server error', (error as Error)?.message ?? String(error));
}
