/**
 * The migration runner and the church_voice_agents table, on the real sandbox PostgreSQL.
 */
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { promisify } from 'util';
import { Pool } from 'pg';
import { migrate, readMigrations } from '../../db/migrate';
import { createTestDatabase, type TestDatabase } from '../../sandbox/postgres';

const run = promisify(execFile);
const REPO = path.resolve(__dirname, '..', '..');

let db: TestDatabase;
const scratchDirs: string[] = [];

function migrationsDir(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'migrations-'));
  scratchDirs.push(dir);
  for (const [name, sql] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), sql);
  return dir;
}

async function tableExists(pool: Pool, name: string): Promise<boolean> {
  const { rows } = await pool.query('select to_regclass($1) is not null as exists', [`public.${name}`]);
  return rows[0].exists;
}

beforeAll(async () => {
  db = await createTestDatabase('migrate');
});

afterAll(async () => {
  await db?.drop();
  for (const dir of scratchDirs) fs.rmSync(dir, { recursive: true, force: true });
});

describe('migrate()', () => {
  test('a test database has every migration of db/migrations applied and recorded once', async () => {
    const onDisk = readMigrations().map((m) => m.name);
    expect(onDisk[0]).toBe('001_church_voice_agents.sql');
    const { rows } = await db.pool.query('select name from schema_migrations order by name');
    expect(rows.map((r) => r.name)).toEqual(onDisk);
    const again = await migrate(db.pool);
    expect(again).toEqual({ applied: [], alreadyApplied: onDisk });
  });

  test('applies files in name order, each once; later files are applied on the next run', async () => {
    const scratch = await createTestDatabase('migrate_order', { migrate: false });
    try {
      const dir = migrationsDir({
        '002_second.sql': 'insert into log_entries values (2);',
        '001_first.sql': 'create table log_entries (n int); insert into log_entries values (1);',
        'README.md': 'not a migration',
      });
      expect((await migrate(scratch.pool, { dir })).applied).toEqual(['001_first.sql', '002_second.sql']);
      fs.writeFileSync(path.join(dir, '003_third.sql'), 'insert into log_entries values (3);');
      expect(await migrate(scratch.pool, { dir })).toEqual({
        applied: ['003_third.sql'],
        alreadyApplied: ['001_first.sql', '002_second.sql'],
      });
      const { rows } = await scratch.pool.query('select n from log_entries order by n');
      expect(rows.map((r) => r.n)).toEqual([1, 2, 3]);
    } finally {
      await scratch.drop();
    }
  });

  test('a failing migration leaves nothing of itself behind and names the file and line', async () => {
    const scratch = await createTestDatabase('migrate_fail', { migrate: false });
    try {
      const dir = migrationsDir({
        '001_ok.sql': 'create table kept (n int);',
        '002_broken.sql':
          'create table half_done (n int);\ninsert into half_done values (1);\ninsert into nowhere values (1);\n',
      });
      await expect(migrate(scratch.pool, { dir })).rejects.toThrow(
        /migration 002_broken\.sql failed at line 3, nothing of it was applied: relation "nowhere" does not exist/,
      );
      expect(await tableExists(scratch.pool, 'kept')).toBe(true);
      expect(await tableExists(scratch.pool, 'half_done')).toBe(false);
      const { rows } = await scratch.pool.query('select name from schema_migrations');
      expect(rows.map((r) => r.name)).toEqual(['001_ok.sql']);
    } finally {
      await scratch.drop();
    }
  });

  test('an applied migration that was edited is refused', async () => {
    const scratch = await createTestDatabase('migrate_edit', { migrate: false });
    try {
      const dir = migrationsDir({ '001_a.sql': 'create table a (n int);' });
      await migrate(scratch.pool, { dir });
      fs.writeFileSync(path.join(dir, '001_a.sql'), 'create table a (n bigint);');
      await expect(migrate(scratch.pool, { dir })).rejects.toThrow(
        /001_a\.sql was edited after it was applied.*new migration file/,
      );
    } finally {
      await scratch.drop();
    }
  });

  test('concurrent runners on one database apply each migration exactly once', async () => {
    const scratch = await createTestDatabase('migrate_race', { migrate: false });
    const second = new Pool({ connectionString: scratch.url, max: 2 });
    try {
      const dir = migrationsDir({ '001_counter.sql': 'create table runs (n int); insert into runs values (1);' });
      const results = await Promise.all([migrate(scratch.pool, { dir }), migrate(second, { dir })]);
      expect(results.map((r) => r.applied.length).sort()).toEqual([0, 1]);
      const { rows } = await scratch.pool.query('select count(*)::int as n from runs');
      expect(rows[0].n).toBe(1);
    } finally {
      await second.end();
      await scratch.drop();
    }
  });

  test('the CLI applies pending migrations to DATABASE_URL and reports them', async () => {
    const scratch = await createTestDatabase('migrate_cli', { migrate: false });
    try {
      const { stdout } = await run(
        process.execPath,
        [require.resolve('ts-node/dist/bin.js'), '--transpile-only', path.join(REPO, 'db', 'migrate.ts')],
        {
          cwd: REPO,
          env: { ...process.env, DATABASE_URL: scratch.url },
        },
      );
      const names = readMigrations().map((m) => m.name);
      for (const name of names) expect(stdout).toContain(`applied ${name}`);
      expect(stdout).toContain(`${names.length} applied, 0 already applied`);
      expect(await tableExists(scratch.pool, 'church_voice_agents')).toBe(true);
    } finally {
      await scratch.drop();
    }
  });

  test('the CLI without a database says how to give one', async () => {
    const env = { ...process.env };
    delete env.DATABASE_URL;
    await expect(
      run(
        process.execPath,
        [require.resolve('ts-node/dist/bin.js'), '--transpile-only', path.join(REPO, 'db', 'migrate.ts')],
        { cwd: REPO, env },
      ),
    ).rejects.toMatchObject({ stderr: expect.stringContaining('pass --database-url URL or set DATABASE_URL') });
  });
});

describe('church_voice_agents', () => {
  const insert = (row: Record<string, unknown>) => {
    const columns = Object.keys(row);
    return db.pool.query(
      `insert into church_voice_agents (${columns.join(', ')}) values (${columns.map((_, i) => `$${i + 1}`).join(', ')}) returning *`,
      Object.values(row),
    );
  };
  const line = { church_id: 'medhanialem', twilio_phone_number: '+14144007103', provider: 'telnyx' };

  beforeEach(async () => {
    await db.pool.query('truncate church_voice_agents');
  });

  test('a line gets status active and both timestamps by default', async () => {
    const { rows } = await insert(line);
    expect(rows[0]).toMatchObject({ ...line, status: 'active', livekit_trunk_id: null, dispatch_rule_id: null });
    expect(rows[0].created_at).toBeInstanceOf(Date);
    expect(rows[0].updated_at.getTime()).toBe(rows[0].created_at.getTime());
  });

  test.each([
    ['church_id', { church_id: '-leading-dash' }, 'church_voice_agents_church_id_format'],
    ['church_id', { church_id: 'has space' }, 'church_voice_agents_church_id_format'],
    ['church_id', { church_id: 'x'.repeat(65) }, 'church_voice_agents_church_id_format'],
    ['twilio_phone_number', { twilio_phone_number: '14144007103' }, 'church_voice_agents_twilio_phone_number_e164'],
    ['twilio_phone_number', { twilio_phone_number: '+04144007103' }, 'church_voice_agents_twilio_phone_number_e164'],
    [
      'twilio_phone_number',
      { twilio_phone_number: '+1414400710312345' },
      'church_voice_agents_twilio_phone_number_e164',
    ],
    ['provider', { provider: 'vonage' }, 'church_voice_agents_provider_known'],
    ['status', { status: 'deleted' }, 'church_voice_agents_status_known'],
  ])('%s is checked: %j is refused by %s', async (_column, override, constraint) => {
    await expect(insert({ ...line, ...override })).rejects.toMatchObject({ code: '23514', constraint });
  });

  test('a UUID church id and a 64-character id are accepted', async () => {
    await insert({ ...line, church_id: '3f2b8c1e-9a4d-4e6f-8b7a-1c2d3e4f5a6b' });
    await insert({ church_id: 'c'.repeat(64), twilio_phone_number: '+17473897673', provider: 'twilio' });
    const { rows } = await db.pool.query('select count(*)::int as n from church_voice_agents');
    expect(rows[0].n).toBe(2);
  });

  test('one number belongs to one church', async () => {
    await insert(line);
    await expect(insert({ ...line, church_id: 'someone-else' })).rejects.toMatchObject({
      code: '23505',
      constraint: 'church_voice_agents_twilio_phone_number_key',
    });
  });

  test('provider and phone number are required', async () => {
    await expect(insert({ church_id: 'a', twilio_phone_number: '+14144007103' })).rejects.toMatchObject({
      code: '23502',
      column: 'provider',
    });
    await expect(insert({ church_id: 'a', provider: 'telnyx' })).rejects.toMatchObject({
      code: '23502',
      column: 'twilio_phone_number',
    });
  });

  test('updated_at moves when a row changes, not when an update changes nothing', async () => {
    await insert(line);
    // Compared in SQL: microseconds apart would look equal as JavaScript Dates.
    const same = await db.pool.query(
      "update church_voice_agents set provider = 'telnyx' where church_id = $1 returning updated_at = created_at as untouched",
      [line.church_id],
    );
    expect(same.rows[0].untouched).toBe(true);
    const changed = await db.pool.query(
      "update church_voice_agents set status = 'suspended' where church_id = $1 returning updated_at > created_at as moved",
      [line.church_id],
    );
    expect(changed.rows[0].moved).toBe(true);
  });

  test('the phone number column says it holds Telnyx numbers too', async () => {
    const { rows } = await db.pool.query(
      "select col_description('public.church_voice_agents'::regclass, attnum) as comment from pg_attribute where attrelid = 'public.church_voice_agents'::regclass and attname = 'twilio_phone_number'",
    );
    expect(rows[0].comment).toMatch(/historical/);
    expect(rows[0].comment).toMatch(/Telnyx numbers too/);
  });
});
