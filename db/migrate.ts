/**
 * Applies db/migrations/*.sql in name order, each once, each in its own transaction, recorded in
 * public.schema_migrations with a checksum (so an edited, already-applied migration is refused instead of being
 * silently skipped: schema changes go in a new file).
 *
 *   DATABASE_URL=postgresql://... ts-node db/migrate.ts [--database-url URL] [--dir DIR]
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { Pool, type PoolClient } from 'pg';

export const MIGRATIONS_DIR = path.join(__dirname, 'migrations');

/** Key of the advisory lock that serializes migrators of one database (two workers, two deploys). */
const MIGRATION_LOCK_KEY = 'churchwise-voice:schema_migrations';

export interface Migration {
  name: string;
  sql: string;
  checksum: string;
}

export interface MigrationResult {
  /** Applied by this run, in order. */
  applied: string[];
  /** Found already recorded in schema_migrations. */
  alreadyApplied: string[];
}

export interface MigrateOptions {
  dir?: string;
  log?: (line: string) => void;
}

export function readMigrations(dir: string = MIGRATIONS_DIR): Migration[] {
  return fs
    .readdirSync(dir)
    .filter((file) => file.endsWith('.sql'))
    .sort()
    .map((name) => {
      const sql = fs.readFileSync(path.join(dir, name), 'utf8');
      return { name, sql, checksum: createHash('sha256').update(sql).digest('hex') };
    });
}

export async function migrate(pool: Pool, options: MigrateOptions = {}): Promise<MigrationResult> {
  const migrations = readMigrations(options.dir);
  const log = options.log ?? (() => undefined);
  const client = await pool.connect();
  try {
    await client.query('select pg_advisory_lock(hashtext($1))', [MIGRATION_LOCK_KEY]);
    try {
      return await applyPending(client, migrations, log);
    } finally {
      await client.query('select pg_advisory_unlock(hashtext($1))', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    client.release();
  }
}

async function applyPending(
  client: PoolClient,
  migrations: Migration[],
  log: (line: string) => void,
): Promise<MigrationResult> {
  await client.query(`
    create table if not exists public.schema_migrations (
      name text primary key,
      checksum text not null,
      applied_at timestamptz not null default now()
    )`);
  const { rows } = await client.query<{ name: string; checksum: string }>(
    'select name, checksum from public.schema_migrations',
  );
  const recorded = new Map(rows.map((row) => [row.name, row.checksum]));
  const result: MigrationResult = { applied: [], alreadyApplied: [] };
  for (const migration of migrations) {
    const checksum = recorded.get(migration.name);
    if (checksum !== undefined) {
      if (checksum !== migration.checksum) {
        throw new Error(
          `migration ${migration.name} was edited after it was applied (checksum ${checksum.slice(0, 12)} recorded, ` +
            `${migration.checksum.slice(0, 12)} on disk): put schema changes in a new migration file`,
        );
      }
      result.alreadyApplied.push(migration.name);
      continue;
    }
    await client.query('begin');
    try {
      await client.query(migration.sql);
      await client.query('insert into public.schema_migrations (name, checksum) values ($1, $2)', [
        migration.name,
        migration.checksum,
      ]);
      await client.query('commit');
    } catch (error) {
      await client.query('rollback');
      const e = error as { message: string; position?: string };
      const where = e.position ? ` at line ${lineOf(migration.sql, Number(e.position))}` : '';
      throw new Error(`migration ${migration.name} failed${where}, nothing of it was applied: ${e.message}`, {
        cause: error,
      });
    }
    result.applied.push(migration.name);
    log(`applied ${migration.name}`);
  }
  return result;
}

function lineOf(text: string, position: number): number {
  return text.slice(0, position).split('\n').length;
}

/** The URL without its password, for messages. */
export function redactDatabaseUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparsable database URL)';
  }
}

function argValue(args: string[], flag: string): string | undefined {
  const index = args.indexOf(flag);
  return index >= 0 ? args[index + 1] : undefined;
}

async function main(args: string[]): Promise<void> {
  const databaseUrl = argValue(args, '--database-url') ?? process.env.DATABASE_URL;
  if (!databaseUrl) {
    throw new Error(
      'no database: pass --database-url URL or set DATABASE_URL ' +
        '(the sandbox: postgresql://postgres@127.0.0.1:55432/postgres)',
    );
  }
  const pool = new Pool({ connectionString: databaseUrl, max: 1 });
  try {
    const result = await migrate(pool, { dir: argValue(args, '--dir'), log: (line) => console.log(line) });
    console.log(
      `${redactDatabaseUrl(databaseUrl)}: ${result.applied.length} ` +
        `applied, ${result.alreadyApplied.length} already applied` +
        (result.alreadyApplied.length ? ` (${result.alreadyApplied.join(', ')})` : ''),
    );
  } finally {
    await pool.end();
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((error) => {
    console.error(`migrate: ${(error as Error).message}`);
    process.exit(1);
  });
}
