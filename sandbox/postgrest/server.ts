/**
 * A PostgREST subset in front of the sandbox PostgreSQL, serving `/rest/v1/<table>` the way Supabase does for
 * the requests supabase-js sends (see query.ts for the grammar), so production's Supabase code runs unchanged
 * against a real database. One table per request, `public` schema only, every call authorised by the service
 * role key (Supabase's gateway checks `apikey`; PostgREST checks the bearer token).
 */
import { createHash, timingSafeEqual } from 'crypto';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import * as jwt from 'jsonwebtoken';
import { Pool, type PoolClient } from 'pg';
import pino from 'pino';
import {
  PostgrestHttpError,
  bodyError,
  invalidKeyError,
  schemaNotExposedError,
  singularityError,
  toPostgrestError,
  unacceptableMediaError,
} from './errors';
import {
  Params,
  type ParsedQuery,
  ident,
  jsonBodySql,
  orderSql,
  parseQuery,
  selectListSql,
  tableRef,
  whereSql,
} from './query';
import { SchemaCache, type TableInfo } from './schema-cache';

export interface PostgrestOptions {
  databaseUrl: string;
  /** 0 picks a free port. */
  port: number;
  /** The service role key every request must carry in `apikey` and `Authorization: Bearer`. */
  serviceKey: string;
  /** When set, a bearer JWT signed with it (HS256) whose role is service_role is accepted too, as on Supabase. */
  jwtSecret?: string;
  /** Where request logs go (pino JSON lines); off when omitted. Keys are never logged. */
  logStream?: NodeJS.WritableStream;
  maxConnections?: number;
}

export interface PostgrestServer {
  /** The Supabase project URL to hand to createClient (the REST API is under /rest/v1). */
  url: string;
  port: number;
  close(): Promise<void>;
}

type Mutation = 'POST' | 'PATCH' | 'DELETE';

interface Preferences {
  return: 'minimal' | 'representation' | 'headers-only';
  count: boolean;
  resolution?: 'merge-duplicates' | 'ignore-duplicates';
  missingDefault: boolean;
  rollback: boolean;
  applied: string[];
}

/** All `Prefer` headers, comma lists included (supabase-js appends one value per option). */
export function parsePrefer(header: string | string[] | undefined): Preferences {
  const values = (Array.isArray(header) ? header.join(',') : (header ?? ''))
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean);
  const prefs: Preferences = { return: 'minimal', count: false, missingDefault: false, rollback: false, applied: [] };
  for (const value of values) {
    const [key, setting] = value.split('=').map((s) => s.trim());
    if (key === 'return' && (setting === 'minimal' || setting === 'representation' || setting === 'headers-only')) {
      prefs.return = setting;
    } else if (key === 'count' && ['exact', 'planned', 'estimated'].includes(setting)) {
      // The sandbox tables are small: planned/estimated are answered with the exact count.
      prefs.count = true;
    } else if (key === 'resolution' && (setting === 'merge-duplicates' || setting === 'ignore-duplicates')) {
      prefs.resolution = setting;
    } else if (key === 'missing' && setting === 'default') {
      prefs.missingDefault = true;
    } else if (key === 'tx' && setting === 'rollback') {
      prefs.rollback = true;
    } else {
      continue;
    }
    prefs.applied.push(`${key}=${setting}`);
  }
  return prefs;
}

interface Representation {
  singular: boolean;
  stripNulls: boolean;
  contentType: string;
}

/** What the client accepts: a JSON array (default), or one object (supabase-js .single()). */
export function parseAccept(header: string | undefined): Representation {
  const ranges = (header ?? '*/*').split(',').map((range) => range.trim().toLowerCase());
  for (const range of ranges) {
    const [type, ...params] = range.split(';').map((s) => s.trim());
    const stripNulls = params.includes('nulls=stripped');
    if (type === 'application/vnd.pgrst.object+json' || type === 'application/vnd.pgrst.object') {
      return { singular: true, stripNulls, contentType: 'application/vnd.pgrst.object+json; charset=utf-8' };
    }
    if (['application/json', 'application/vnd.pgrst.array+json', 'application/*', '*/*'].includes(type)) {
      return { singular: false, stripNulls, contentType: 'application/json; charset=utf-8' };
    }
  }
  throw unacceptableMediaError(header ?? '');
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Constant-time comparison (hashing first makes the lengths equal). */
function sameSecret(sent: string | undefined, expected: string): boolean {
  return sent !== undefined && timingSafeEqual(digest(sent), digest(expected));
}

function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}

function isServiceRoleJwt(token: string, secret: string): boolean {
  try {
    const claims = jwt.verify(token, secret, { algorithms: ['HS256'] });
    return typeof claims === 'object' && claims.role === 'service_role';
  } catch {
    return false;
  }
}

/** Request URLs are logged without an `apikey` query parameter's value. */
export function redactUrl(url: string): string {
  return url.replace(/([?&]apikey=)[^&]*/gi, '$1[redacted]');
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function searchParams(url: string): URLSearchParams {
  const index = url.indexOf('?');
  return new URLSearchParams(index < 0 ? '' : url.slice(index + 1));
}

function firstElement(array: string): string {
  return array.trim().slice(1, -1).trim();
}

interface Outcome {
  rowCount: number;
  body: string;
  total?: number;
}

class RestHandler {
  constructor(
    private readonly pool: Pool,
    private readonly schema: SchemaCache,
  ) {}

  async read(
    table: TableInfo,
    query: ParsedQuery,
    prefs: Preferences,
    representation: Representation,
  ): Promise<Outcome> {
    const params = new Params();
    const relation = tableRef(table.name);
    const where = whereSql(relation, query.filters, params);
    let source =
      `select ${selectListSql(relation, query.select)} ` + `from ${relation}${where}${orderSql(relation, query.order)}`;
    if (query.limit !== undefined) source += ` limit ${params.add(query.limit)}`;
    if (query.offset !== undefined) source += ` offset ${params.add(query.offset)}`;
    const total = prefs.count ? `(select count(*) from ${relation}${where})::int` : undefined;
    const { rows } = await this.pool.query(jsonBodySql(source, representation.stripNulls, total), params.values);
    return { rowCount: rows[0].row_count, body: rows[0].body, total: rows[0].total ?? undefined };
  }

  async insert(
    client: PoolClient,
    table: TableInfo,
    query: ParsedQuery,
    prefs: Preferences,
    representation: Representation,
    body: unknown,
  ): Promise<Outcome> {
    const rows = Array.isArray(body) ? body : [body];
    if (body === undefined || rows.some((row) => typeof row !== 'object' || row === null || Array.isArray(row))) {
      throw bodyError('Empty or invalid json', 'POST takes a JSON object or an array of JSON objects');
    }
    const objects = rows as Record<string, unknown>[];
    const conflict = prefs.resolution ? (query.onConflict ?? table.primaryKey) : undefined;
    if (conflict && conflict.length === 0) {
      throw bodyError(`an upsert on ${table.name} needs on_conflict: the table has no primary key`);
    }
    if (conflict) await this.schema.requireColumns(table, conflict);
    // With missing=default a key a row leaves out takes the column default, so rows with different keys are
    // inserted by separate statements (one data-modifying CTE each, so the answer is still one ordered set);
    // otherwise every row uses the same columns and a missing key is null.
    const groups = new Map<string, { columns: string[]; rows: Record<string, unknown>[] }>();
    const sharedColumns = query.columns ?? [...new Set(objects.flatMap((row) => Object.keys(row)))];
    for (const row of objects) {
      const columns = prefs.missingDefault ? Object.keys(row).sort() : sharedColumns;
      const key = JSON.stringify(columns);
      if (!groups.has(key)) groups.set(key, { columns, rows: [] });
      groups.get(key)!.rows.push(row);
    }
    const params = new Params();
    const relation = tableRef(table.name);
    const statements: string[] = [];
    for (const group of groups.values()) {
      await this.schema.requireColumns(table, group.columns);
      statements.push(insertStatement(relation, group.columns, group.rows, conflict, prefs, params));
    }
    if (statements.length === 0) return { rowCount: 0, body: '[]' };
    return this.mutate(client, statements, relation, params, query, representation);
  }

  async update(
    client: PoolClient,
    table: TableInfo,
    query: ParsedQuery,
    representation: Representation,
    body: unknown,
  ): Promise<Outcome> {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw bodyError('Empty or invalid json', 'PATCH takes one JSON object of the columns to set');
    }
    requireFilters('UPDATE', query);
    const columns = Object.keys(body);
    if (columns.length === 0) return { rowCount: 0, body: '[]' };
    await this.schema.requireColumns(table, columns);
    const params = new Params();
    const relation = tableRef(table.name);
    const record =
      `(select * from ` +
      `json_populate_record(null::${relation}, ${params.add(JSON.stringify(body))}::json)) pgrst_body`;
    const assignments = columns.map((c) => `${ident(c)} = pgrst_body.${ident(c)}`).join(', ');
    const statement =
      `update ${relation} set ${assignments} ` + `from ${record}${whereSql(relation, query.filters, params)}`;
    return this.mutate(client, statement, relation, params, query, representation);
  }

  async delete(
    client: PoolClient,
    table: TableInfo,
    query: ParsedQuery,
    representation: Representation,
  ): Promise<Outcome> {
    requireFilters('DELETE', query);
    const params = new Params();
    const relation = tableRef(table.name);
    const statement = `delete from ${relation}${whereSql(relation, query.filters, params)}`;
    return this.mutate(client, statement, relation, params, query, representation);
  }

  /**
   * Runs data-modifying statements on `relation` in one SQL statement and answers with the affected rows,
   * shaped by select= and order=.
   */
  private async mutate(
    client: PoolClient,
    statements: string | string[],
    relation: string,
    params: Params,
    query: ParsedQuery,
    representation: Representation,
  ): Promise<Outcome> {
    const list = Array.isArray(statements) ? statements : [statements];
    const ctes = list.map((statement, i) => `pgrst_part${i} as (${statement} returning ${relation}.*)`);
    const union = list.map((_, i) => `select * from pgrst_part${i}`).join(' union all ');
    const affected =
      `select ${selectListSql('pgrst_source', query.select)} ` +
      `from pgrst_source${orderSql('pgrst_source', query.order)}`;
    const sql =
      `with ${ctes.join(', ')}, pgrst_source as (${union}) ` + `${jsonBodySql(affected, representation.stripNulls)}`;
    const { rows } = await client.query(sql, params.values);
    return { rowCount: rows[0].row_count, body: rows[0].body };
  }
}

function insertStatement(
  relation: string,
  columns: string[],
  rows: Record<string, unknown>[],
  conflict: string[] | undefined,
  prefs: Preferences,
  params: Params,
): string {
  const columnList = columns.map(ident).join(', ');
  const recordset = `json_populate_recordset(null::${relation}, ${params.add(JSON.stringify(rows))}::json)`;
  let statement = columns.length
    ? `insert into ${relation} (${columnList}) select ${columnList} from ${recordset}`
    : `insert into ${relation} select from ${recordset}`;
  if (conflict) {
    const target = conflict.map(ident).join(', ');
    statement +=
      prefs.resolution === 'ignore-duplicates' || columns.length === 0
        ? ` on conflict (${target}) do nothing`
        : ` on conflict (${target}) ` +
          `do update set ${columns.map((c) => `${ident(c)} = excluded.${ident(c)}`).join(', ')}`;
  }
  return statement;
}

/** Supabase runs pg_safeupdate: an UPDATE or DELETE without a WHERE clause is refused, never run on every row. */
function requireFilters(verb: 'UPDATE' | 'DELETE', query: ParsedQuery): void {
  if (query.filters.length === 0) {
    throw new PostgrestHttpError(400, '21000', `${verb} requires a WHERE clause`, null, 'add a filter, e.g. ?id=eq.1');
  }
  if (query.limit !== undefined || query.offset !== undefined) {
    throw new PostgrestHttpError(400, 'PGRST100', `limit/offset on ${verb} are not supported by this PostgREST subset`);
  }
}

function contentRange(method: string, outcome: Outcome, offset: number, counted: boolean): string {
  const total = counted ? String(outcome.total ?? outcome.rowCount) : '*';
  if (method === 'POST') return `*/${total}`;
  const range = outcome.rowCount > 0 ? `${offset}-${offset + outcome.rowCount - 1}` : '*';
  return `${range}/${total}`;
}

export async function startPostgrest(options: PostgrestOptions): Promise<PostgrestServer> {
  if (!options.serviceKey) throw new Error('startPostgrest: serviceKey is required (the key every request must carry)');
  const pool = new Pool({ connectionString: options.databaseUrl, max: options.maxConnections ?? 10 });
  const logger = pino(
    {
      level: options.logStream ? 'info' : 'silent',
      redact: { paths: ['req.headers.apikey', 'req.headers.authorization'], censor: '[redacted]' },
      serializers: {
        req: (req: { method: string; url: string }) => ({ method: req.method, url: redactUrl(req.url) }),
      },
    },
    options.logStream ?? process.stdout,
  );
  // An idle connection dropped by the server (database dropped, server restarted) must not crash the process.
  pool.on('error', (error) => logger.warn({ err: { message: error.message } }, 'idle database connection closed'));
  const schema = new SchemaCache(pool);
  const handler = new RestHandler(pool, schema);
  const app = Fastify({ loggerInstance: logger, bodyLimit: 10 * 1024 * 1024 });

  const defaultJsonParser = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    // supabase-js sends Content-Type: application/json on a DELETE with no body.
    if (body === '') done(null, undefined);
    else defaultJsonParser(request, body as string, done);
  });

  app.addHook('onRequest', async (request: FastifyRequest) => {
    const apikey = headerValue(request.headers.apikey);
    const bearer = bearerToken(headerValue(request.headers.authorization));
    const keyOk = sameSecret(apikey, options.serviceKey);
    const bearerOk =
      sameSecret(bearer, options.serviceKey) ||
      (options.jwtSecret !== undefined && bearer !== undefined && isServiceRoleJwt(bearer, options.jwtSecret));
    if (!keyOk || !bearerOk) throw invalidKeyError();
  });

  app.setErrorHandler((error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const fastifyCode = (error as { code?: string }).code ?? '';
    let answer: PostgrestHttpError;
    if (fastifyCode === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      answer = new PostgrestHttpError(
        415,
        'PGRST107',
        `Content-Type not acceptable: ${request.headers['content-type'] ?? ''}`,
      );
    } else if (fastifyCode === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      answer = new PostgrestHttpError(413, 'PGRST102', 'Request body too large');
    } else if (fastifyCode.startsWith('FST_ERR_CTP') || error instanceof SyntaxError) {
      answer = bodyError('Empty or invalid json', (error as Error).message);
    } else {
      answer = toPostgrestError(error);
    }
    if (answer.status >= 500) request.log.error({ err: error }, 'request failed');
    void reply
      .status(answer.status)
      .header('content-type', 'application/json; charset=utf-8')
      .send(JSON.stringify(answer.body));
  });

  app.setNotFoundHandler((request, reply) => {
    const body = {
      code: 'PGRST125',
      details: null,
      hint: null,
      message: `Invalid path specified in request URL: ${redactUrl(request.url.split('?')[0])}`,
    };
    void reply.status(404).header('content-type', 'application/json; charset=utf-8').send(JSON.stringify(body));
  });

  app.route({
    method: ['GET', 'POST', 'PATCH', 'DELETE'],
    url: '/rest/v1/:table',
    handler: async (request, reply) => {
      const method = request.method === 'HEAD' ? 'GET' : request.method;
      const profileHeader = method === 'GET' ? 'accept-profile' : 'content-profile';
      const profile = headerValue(request.headers[profileHeader]);
      if (profile !== undefined && profile !== 'public') throw schemaNotExposedError(profile);
      const table = await schema.table((request.params as { table: string }).table);
      const query = parseQuery(searchParams(request.url));
      const representation = parseAccept(headerValue(request.headers.accept));
      const prefs = parsePrefer(request.headers.prefer);
      if (prefs.applied.length) reply.header('preference-applied', prefs.applied.join(', '));

      let outcome: Outcome;
      if (method === 'GET') {
        outcome = await handler.read(table, query, prefs, representation);
      } else {
        outcome = await inTransaction(pool, prefs, representation, (client) => {
          switch (method as Mutation) {
            case 'POST':
              return handler.insert(client, table, query, prefs, representation, request.body);
            case 'PATCH':
              return handler.update(client, table, query, representation, request.body);
            case 'DELETE':
              return handler.delete(client, table, query, representation);
          }
        });
      }
      if (representation.singular && outcome.rowCount !== 1) throw singularityError(outcome.rowCount);

      const offset = query.offset ?? 0;
      reply.header('content-range', contentRange(method, outcome, offset, prefs.count));
      const payload = representation.singular ? firstElement(outcome.body) : outcome.body;
      if (method === 'GET') {
        // PostgREST: 206 when a known total is larger than the page, 416 when the page starts past the end.
        let status = 200;
        if (outcome.total !== undefined && offset > outcome.total) {
          throw new PostgrestHttpError(
            416,
            'PGRST103',
            'Requested range not satisfiable',
            `An offset of ${offset} was requested, but there are only ${outcome.total} rows.`,
          );
        }
        if (outcome.total !== undefined && outcome.rowCount < outcome.total) status = 206;
        return reply.status(status).header('content-type', representation.contentType).send(payload);
      }
      const created = method === 'POST';
      if (prefs.return === 'representation') {
        return reply
          .status(created ? 201 : 200)
          .header('content-type', representation.contentType)
          .send(payload);
      }
      return reply.status(created ? 201 : 204).send();
    },
  });

  await app.listen({ host: '127.0.0.1', port: options.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: async () => {
      await app.close();
      await pool.end();
    },
  };
}

/**
 * A mutation runs in one transaction: when .single() finds other than one affected row, or the client asked
 * for `tx=rollback`, nothing is kept (as PostgREST does).
 */
async function inTransaction(
  pool: Pool,
  prefs: Preferences,
  representation: Representation,
  body: (client: PoolClient) => Promise<Outcome>,
): Promise<Outcome> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    const outcome = await body(client);
    const keep = !prefs.rollback && (!representation.singular || outcome.rowCount === 1);
    await client.query(keep ? 'commit' : 'rollback');
    return outcome;
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
