/**
 * The registry is production PostgreSQL (DATABASE_URL). Every registry function takes a `Queryable` so that the
 * webhook can compose several of them in one transaction (dedupe + church upsert + enqueue commit together).
 */
import type { Pool, PoolClient, QueryResult, QueryResultRow } from 'pg';

/** A pool or a client checked out of one (inside a transaction). */
export interface Queryable {
  query<R extends QueryResultRow = QueryResultRow>(text: string, values?: unknown[]): Promise<QueryResult<R>>;
}

/** Runs `body` in a transaction on one pooled connection: commit on success, rollback on any error. */
export async function withTransaction<T>(pool: Pool, body: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    const result = await body(client);
    await client.query('commit');
    return result;
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/** The PostgreSQL error fields the registry looks at (pg's DatabaseError). */
export interface PgError {
  code?: string;
  constraint?: string;
}

export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  const e = error as PgError;
  return e?.code === '23505' && (constraint === undefined || e.constraint === constraint);
}
