/**
 * One isolated Supabase for a test file: a fresh database on the sandbox PostgreSQL (all migrations applied),
 * the PostgREST subset in front of it on a free port, and production's supabase-js pointed at it.
 */
import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import { randomBytes } from 'crypto';
import * as net from 'net';
import { Writable } from 'stream';
import { createTestDatabase, type TestDatabase } from '../../sandbox/postgres';
import { startPostgrest, type PostgrestServer } from '../../sandbox/postgrest';

export interface SupabaseSandbox {
  db: TestDatabase;
  server: PostgrestServer;
  /** The Supabase URL (REST under /rest/v1). */
  url: string;
  serviceKey: string;
  jwtSecret: string;
  client: SupabaseClient;
  /** Everything the server logged so far. */
  logs(): string;
  close(): Promise<void>;
}

/** The options production uses for a server-side client: no session storage, no token refresh timers. */
export function serverClient(url: string, key: string): SupabaseClient {
  return createClient(url, key, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
  });
}

export async function startSupabaseSandbox(prefix: string): Promise<SupabaseSandbox> {
  const db = await createTestDatabase(prefix);
  const serviceKey = `test-service-key-${randomBytes(16).toString('hex')}`;
  const jwtSecret = `test-jwt-secret-${randomBytes(16).toString('hex')}`;
  const chunks: string[] = [];
  const logStream = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  let server: PostgrestServer;
  try {
    server = await startPostgrest({ databaseUrl: db.url, port: 0, serviceKey, jwtSecret, logStream });
  } catch (error) {
    await db.drop();
    throw error;
  }
  return {
    db,
    server,
    url: server.url,
    serviceKey,
    jwtSecret,
    client: serverClient(server.url, serviceKey),
    logs: () => chunks.join(''),
    close: async () => {
      await server.close();
      await db.drop();
    },
  };
}

/** A loopback port nothing listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}
