/**
 * The PostgREST subset as a sandbox daemon (sandbox/postgrest/main.ts under ts-node), so the sandbox's Supabase
 * URL outlives the command that started it, like the other peers in .sandbox/.
 */
import * as path from 'path';
import { SANDBOX_PORTS } from '../ports';
import { REPO_ROOT, startDaemon } from '../processes';

export const POSTGREST_DAEMON_NAME = 'postgrest';

export interface PostgrestDaemonOptions {
  databaseUrl: string;
  serviceKey: string;
  jwtSecret?: string;
  port?: number;
}

/** Starts the daemon unless it already serves its port; returns the Supabase URL to hand to createClient. */
export async function ensurePostgrestDaemon(
  options: PostgrestDaemonOptions,
): Promise<{ url: string; status: 'started' | 'running' }> {
  const port = options.port ?? SANDBOX_PORTS.postgrest;
  const status = await startDaemon({
    name: POSTGREST_DAEMON_NAME,
    command: process.execPath,
    args: [
      require.resolve('ts-node/dist/bin.js'),
      '--transpile-only',
      path.join(REPO_ROOT, 'sandbox', 'postgrest', 'main.ts'),
    ],
    env: {
      DATABASE_URL: options.databaseUrl,
      SUPABASE_SERVICE_ROLE_KEY: options.serviceKey,
      SUPABASE_JWT_SECRET: options.jwtSecret ?? '',
      SANDBOX_POSTGREST_PORT: String(port),
    },
    port,
  });
  return { url: `http://127.0.0.1:${port}`, status };
}
