/**
 * The sandbox's real PostgreSQL 15 (Debian's binaries), on loopback only, with trust auth: the database every
 * church_voice_agents / registry test and the local PostgREST run against.
 *
 * We usually run as root and initdb/postgres refuse root, so both run as the `postgres` OS user (setpriv execs
 * the server in place, so the pid startDaemon records is the postmaster itself) and the data directory is owned
 * by that user. Run as any other user, they run as that user.
 */
import { execFileSync } from 'child_process';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { Client, Pool, escapeIdentifier } from 'pg';
import { migrate } from '../db/migrate';
import { SANDBOX_PORTS } from './ports';
import { SANDBOX_DIR, logFile, startDaemon, stopDaemon, runningPid } from './processes';

export const POSTGRES_BIN_DIR = process.env.SANDBOX_POSTGRES_BIN_DIR ?? '/usr/lib/postgresql/15/bin';
export const POSTGRES_DIR = path.join(SANDBOX_DIR, 'postgres');
export const POSTGRES_DATA_DIR = path.join(POSTGRES_DIR, 'data');
/** The superuser initdb creates; trust auth on loopback means no password. */
export const POSTGRES_SUPERUSER = 'postgres';
/** The OS account the server runs as when we are root. */
const POSTGRES_OS_USER = 'postgres';
const DAEMON_NAME = 'postgres';
const READY_TIMEOUT_MS = 60000;

export interface PostgresConnection {
  host: '127.0.0.1';
  port: number;
  user: string;
  /** URL of the maintenance database `postgres`. */
  url: string;
  /** URL of another database on the same server. */
  databaseUrl(database: string): string;
}

export function sandboxPostgres(port: number = SANDBOX_PORTS.postgres): PostgresConnection {
  const databaseUrl = (database: string) =>
    `postgresql://${POSTGRES_SUPERUSER}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
  return { host: '127.0.0.1', port, user: POSTGRES_SUPERUSER, url: databaseUrl('postgres'), databaseUrl };
}

function postgresBinary(name: 'initdb' | 'postgres' | 'pg_ctl'): string {
  const file = path.join(POSTGRES_BIN_DIR, name);
  if (!fs.existsSync(file)) {
    throw new Error(
      `PostgreSQL 15 is not installed (${file} is missing): run scripts/tools.sh, or \`apt-get install postgresql\``,
    );
  }
  return file;
}

const runningAsRoot = () => process.getuid?.() === 0;

/** Command prefix that drops root to the postgres OS user (empty when we are not root). */
function asPostgresUser(): string[] {
  if (!runningAsRoot()) return [];
  try {
    execFileSync('id', ['-u', POSTGRES_OS_USER], { stdio: 'ignore' });
  } catch {
    throw new Error(
      `running as root, but there is no "${POSTGRES_OS_USER}" OS user to run PostgreSQL as ` +
        '(initdb and postgres refuse root): run scripts/tools.sh, or `apt-get install postgresql`',
    );
  }
  return ['setpriv', `--reuid=${POSTGRES_OS_USER}`, `--regid=${POSTGRES_OS_USER}`, '--init-groups', '--'];
}

/** Runs a PostgreSQL program as the right user; the command and its output are in the error when it fails. */
function runPostgresTool(args: string[], cwd: string): void {
  const [command, ...rest] = [...asPostgresUser(), ...args];
  try {
    execFileSync(command, rest, { cwd, stdio: 'pipe' });
  } catch (error) {
    const e = error as { stderr?: Buffer; stdout?: Buffer; message: string };
    const output = `${e.stdout?.toString() ?? ''}${e.stderr?.toString() ?? ''}`.trim();
    throw new Error(`${args.join(' ')} failed: ${output || e.message}`, { cause: error });
  }
}

/** Creates the cluster on first use: UTF-8, C collation (same sort everywhere), trust auth (loopback only). */
function initCluster(): void {
  if (fs.existsSync(path.join(POSTGRES_DATA_DIR, 'PG_VERSION'))) return;
  const initdb = postgresBinary('initdb');
  // The parents stay searchable (0755) for the postgres user; only the data directory itself is private.
  fs.mkdirSync(POSTGRES_DIR, { recursive: true, mode: 0o755 });
  fs.chmodSync(POSTGRES_DIR, 0o755);
  fs.mkdirSync(POSTGRES_DATA_DIR, { recursive: true, mode: 0o700 });
  if (runningAsRoot()) {
    // Every parent must be traversable by the postgres user, and the data directory must be its own.
    for (let dir = path.dirname(POSTGRES_DATA_DIR); dir !== path.dirname(dir); dir = path.dirname(dir)) {
      if ((fs.statSync(dir).mode & 0o001) === 0) {
        throw new Error(
          `${dir} is not searchable by the ${POSTGRES_OS_USER} OS user, so PostgreSQL cannot reach ` +
            `${POSTGRES_DATA_DIR}: set CHURCHWISE_SANDBOX_DIR to a directory outside it, or chmod o+x ${dir}`,
        );
      }
    }
    const { uid, gid } = osUser(POSTGRES_OS_USER);
    fs.chownSync(POSTGRES_DATA_DIR, uid, gid);
  }
  fs.chmodSync(POSTGRES_DATA_DIR, 0o700);
  runPostgresTool(
    [
      initdb,
      '-D',
      POSTGRES_DATA_DIR,
      '-U',
      POSTGRES_SUPERUSER,
      '--auth=trust',
      '--encoding=UTF8',
      '--locale=C',
      '--no-instructions',
    ],
    POSTGRES_DIR,
  );
}

function osUser(name: string): { uid: number; gid: number } {
  const uid = Number(execFileSync('id', ['-u', name]).toString().trim());
  const gid = Number(execFileSync('id', ['-g', name]).toString().trim());
  return { uid, gid };
}

/**
 * Starts the sandbox PostgreSQL unless it already runs, creating the cluster on first use.
 * Listens on 127.0.0.1 only, no unix socket (so it never collides with a system cluster's socket).
 */
export async function ensurePostgres(port: number = SANDBOX_PORTS.postgres): Promise<PostgresConnection> {
  const postgres = postgresBinary('postgres');
  const [command, ...prefix] = [...asPostgresUser(), postgres];
  await startDaemon({
    name: DAEMON_NAME,
    command,
    args: [
      ...prefix,
      '-D',
      POSTGRES_DATA_DIR,
      '-p',
      String(port),
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'unix_socket_directories=',
      '-c',
      'max_connections=300',
      // A throw-away sandbox: durability costs seconds per CREATE DATABASE and buys nothing here.
      '-c',
      'fsync=off',
      '-c',
      'synchronous_commit=off',
      '-c',
      'full_page_writes=off',
    ],
    port,
    cwd: POSTGRES_DIR,
    readyTimeoutMs: READY_TIMEOUT_MS,
    // Under startDaemon's start lock, so two workers never run initdb on one directory.
    prepare: () => {
      if (!runningPid(DAEMON_NAME)) initCluster();
    },
  });
  const connection = sandboxPostgres(port);
  await waitUntilAcceptingQueries(connection);
  return connection;
}

/** The port opens before recovery finishes; "the database system is starting up" is not ready. */
async function waitUntilAcceptingQueries(connection: PostgresConnection): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    const client = new Client({ connectionString: connection.url });
    try {
      await client.connect();
      await client.query('select 1');
      return;
    } catch (error) {
      if (Date.now() > deadline) {
        throw new Error(
          `PostgreSQL on 127.0.0.1:${connection.port} does not accept queries: ${(error as Error).message} ` +
            `(log: ${logFile(DAEMON_NAME)})`,
          { cause: error },
        );
      }
      await new Promise((r) => setTimeout(r, 200));
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}

/** Stops the sandbox PostgreSQL with a fast shutdown (SIGINT: no waiting for idle clients to leave). */
export async function stopPostgres(): Promise<boolean> {
  const pid = runningPid(DAEMON_NAME);
  if (!pid) return false;
  try {
    process.kill(pid, 'SIGINT');
  } catch {
    /* already gone */
  }
  return stopDaemon(DAEMON_NAME, 30000);
}

export interface TestDatabase {
  name: string;
  url: string;
  /** A pool on the new database; drop() ends it. */
  pool: Pool;
  /** Ends the pool and drops the database (connections of other processes are terminated). */
  drop(): Promise<void>;
}

const TEST_DATABASE_PREFIX = /^[a-z][a-z0-9_]{0,29}$/;

export interface TestDatabaseOptions {
  /** Apply db/migrations (default true); false gives an empty database, e.g. to test migrations themselves. */
  migrate?: boolean;
}

/**
 * A fresh, uniquely named database on the sandbox PostgreSQL with every migration in db/migrations applied,
 * so each test file works in isolation and may run in parallel with the others.
 */
export async function createTestDatabase(prefix: string, options: TestDatabaseOptions = {}): Promise<TestDatabase> {
  if (!TEST_DATABASE_PREFIX.test(prefix)) {
    throw new Error(
      `test database prefix must match ${TEST_DATABASE_PREFIX} (lower-case, at most 30 chars), ` +
        `got ${JSON.stringify(prefix)}`,
    );
  }
  const server = await ensurePostgres();
  const name = `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  await withAdminClient(server, (admin) => admin.query(`create database ${escapeIdentifier(name)}`));
  const url = server.databaseUrl(name);
  const pool = new Pool({ connectionString: url, max: 5 });
  try {
    if (options.migrate !== false) await migrate(pool);
  } catch (error) {
    await pool.end();
    await dropDatabase(server, name);
    throw error;
  }
  let dropped = false;
  return {
    name,
    url,
    pool,
    drop: async () => {
      if (dropped) return;
      dropped = true;
      await pool.end();
      await dropDatabase(server, name);
    },
  };
}

/** How long a drop waits for the database's connections to close by themselves before forcing them. */
const DROP_GRACE_MS = 5000;

async function dropDatabase(server: PostgresConnection, name: string): Promise<void> {
  await withAdminClient(server, async (admin) => {
    // pg-pool's end() resolves before its sockets have closed. Forcing those connections while they say goodbye
    // makes node-postgres emit an error nobody listens to any more, which crashes the test process: let them go
    // first, and force only what is still there after the grace period (another process's connections).
    const deadline = Date.now() + DROP_GRACE_MS;
    while (Date.now() < deadline) {
      const { rows } = await admin.query('select count(*)::int as n from pg_stat_activity where datname = $1', [name]);
      if (rows[0].n === 0) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    await admin.query(`drop database if exists ${escapeIdentifier(name)} with (force)`);
  });
}

async function withAdminClient<T>(server: PostgresConnection, body: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: server.url });
  await client.connect();
  try {
    return await body(client);
  } finally {
    await client.end();
  }
}
