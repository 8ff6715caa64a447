/**
 * The sandbox PostgreSQL: a real PostgreSQL 15 on loopback, one isolated database per test file.
 */
import * as fs from 'fs';
import { Client } from 'pg';
import { POSTGRES_DATA_DIR, createTestDatabase, ensurePostgres } from '../../sandbox/postgres';
import { SANDBOX_PORTS } from '../../sandbox/ports';

test('ensurePostgres gives a PostgreSQL 15 on 127.0.0.1 at the sandbox port, reachable without a password', async () => {
  const server = await ensurePostgres();
  expect(server.url).toBe(`postgresql://postgres@127.0.0.1:${SANDBOX_PORTS.postgres}/postgres`);
  const client = new Client({ connectionString: server.url });
  await client.connect();
  try {
    const { rows } = await client.query(
      "select current_setting('server_version_num')::int / 10000 as major, current_setting('listen_addresses') as listen, current_setting('data_directory') as data",
    );
    expect(rows[0]).toEqual({ major: 15, listen: '127.0.0.1', data: POSTGRES_DATA_DIR });
  } finally {
    await client.end();
  }
  // initdb and postgres refuse root: the cluster belongs to the postgres OS user when we are root.
  if (process.getuid?.() === 0) expect(fs.statSync(POSTGRES_DATA_DIR).uid).not.toBe(0);
  // A second call finds the running server instead of starting another.
  expect((await ensurePostgres()).url).toBe(server.url);
});

test('test databases are isolated from each other and gone after drop()', async () => {
  const [a, b] = await Promise.all([createTestDatabase('isolation'), createTestDatabase('isolation')]);
  try {
    expect(a.name).not.toBe(b.name);
    await a.pool.query(
      "insert into church_voice_agents (church_id, twilio_phone_number, provider) values ('only-in-a', '+14144007103', 'telnyx')",
    );
    const { rows } = await b.pool.query('select count(*)::int as n from church_voice_agents');
    expect(rows[0].n).toBe(0);
  } finally {
    await b.drop();
  }
  await a.drop();
  const admin = new Client({ connectionString: (await ensurePostgres()).url });
  await admin.connect();
  try {
    const { rows } = await admin.query('select datname from pg_database where datname = any($1)', [[a.name, b.name]]);
    expect(rows).toEqual([]);
  } finally {
    await admin.end();
  }
});

test('a test database prefix that is not a plain lower-case name is refused', async () => {
  await expect(createTestDatabase('Bad"; drop database postgres; --')).rejects.toThrow(
    /test database prefix must match/,
  );
});

test('without the PostgreSQL binaries the error says what to install', async () => {
  const previous = process.env.SANDBOX_POSTGRES_BIN_DIR;
  process.env.SANDBOX_POSTGRES_BIN_DIR = '/nonexistent/postgresql/15/bin';
  try {
    let isolated: typeof import('../../sandbox/postgres') | undefined;
    jest.isolateModules(() => {
      isolated = require('../../sandbox/postgres');
    });
    await expect(isolated!.ensurePostgres(SANDBOX_PORTS.postgres + 1000)).rejects.toThrow(
      /PostgreSQL 15 is not installed.*run scripts\/tools\.sh, or `apt-get install postgresql`/,
    );
  } finally {
    if (previous === undefined) delete process.env.SANDBOX_POSTGRES_BIN_DIR;
    else process.env.SANDBOX_POSTGRES_BIN_DIR = previous;
  }
});
