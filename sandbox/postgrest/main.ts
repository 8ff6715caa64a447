/**
 * The sandbox's PostgREST daemon: serves the PostgREST subset on 127.0.0.1:SANDBOX_PORTS.postgrest.
 *
 *   DATABASE_URL=postgresql://postgres@127.0.0.1:55432/postgres SUPABASE_SERVICE_ROLE_KEY=... \
 *     ts-node sandbox/postgrest/main.ts
 *
 * Optional: SUPABASE_JWT_SECRET (accept service_role JWTs signed with it). Logs JSON lines to stdout, keys redacted.
 */
import { redactDatabaseUrl } from '../../db/migrate';
import { SANDBOX_PORTS } from '../ports';
import { startPostgrest } from './server';

function requiredEnv(name: string, example: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (${example})`);
  return value;
}

async function main(): Promise<void> {
  const databaseUrl = requiredEnv(
    'DATABASE_URL',
    `e.g. postgresql://postgres@127.0.0.1:${SANDBOX_PORTS.postgres}/postgres`,
  );
  const serviceKey = requiredEnv(
    'SUPABASE_SERVICE_ROLE_KEY',
    'the key clients must send in apikey and Authorization: Bearer',
  );
  const server = await startPostgrest({
    databaseUrl,
    port: SANDBOX_PORTS.postgrest,
    serviceKey,
    jwtSecret: process.env.SUPABASE_JWT_SECRET || undefined,
    logStream: process.stdout,
  });
  console.log(`PostgREST subset on ${server.url}/rest/v1 over ${redactDatabaseUrl(databaseUrl)}`);
  const stop = () => {
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((error) => {
  console.error(`postgrest: ${(error as Error).message}`);
  process.exit(1);
});
