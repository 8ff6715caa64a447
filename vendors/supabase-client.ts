/**
 * The one Supabase client of the project: production's supabase-js, built from the provider settings at call
 * time, with every request under the retry rule of vendors/vendor-request.ts (supabase-js's own retries are
 * off, so there is one retry loop). A PostgREST error becomes a VendorError carrying its HTTP status and
 * PostgreSQL/PostgREST code (e.g. 409 23505); a transport failure (status 0 from supabase-js) is retried.
 *
 * Typed helpers for `church_voice_agents` live here; other tables go through `request()`.
 */
import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import { supabaseSettings, type SupabaseSettings } from './vendor-settings';
import {
  DEFAULT_RETRY_POLICY,
  callVendor,
  type AttemptFailure,
  type RetryPolicy,
  type VendorCall,
} from './vendor-request';

export const CHURCH_VOICE_AGENTS_TABLE = 'church_voice_agents';

export type VoiceProvider = 'telnyx' | 'twilio';
export type ChurchVoiceAgentStatus = 'provisioning' | 'active' | 'suspended' | 'parked' | 'decommissioned';
export const VOICE_PROVIDERS: readonly VoiceProvider[] = ['telnyx', 'twilio'];
export const CHURCH_VOICE_AGENT_STATUSES: readonly ChurchVoiceAgentStatus[] = [
  'provisioning',
  'active',
  'suspended',
  'parked',
  'decommissioned',
];

/** A church_voice_agents row as PostgREST returns it (db/migrations/001_church_voice_agents.sql). */
export interface ChurchVoiceAgentRecord {
  church_id: string;
  /** E.164. Historical name: holds Telnyx numbers too. */
  twilio_phone_number: string;
  provider: VoiceProvider;
  livekit_trunk_id: string | null;
  dispatch_rule_id: string | null;
  status: ChurchVoiceAgentStatus;
  created_at: string;
  updated_at: string;
}

/** What a write sets. Optional columns left out keep their value (update) or default (insert); null clears. */
export interface ChurchVoiceAgentWrite {
  church_id: string;
  twilio_phone_number: string;
  provider: VoiceProvider;
  livekit_trunk_id?: string | null;
  dispatch_rule_id?: string | null;
  status?: ChurchVoiceAgentStatus;
}

export type ChurchVoiceAgentChanges = Partial<Omit<ChurchVoiceAgentWrite, 'church_id'>>;

export type HttpVerb = 'GET' | 'POST' | 'PATCH' | 'DELETE';

/** PostgREST's error body as supabase-js hands it over. */
interface PostgrestErrorLike {
  code?: string;
  message?: string;
  details?: string | null;
  hint?: string | null;
}

/** What supabase-js resolves every request to (it does not throw unless throwOnError is used). */
export interface PostgrestResult<T> {
  data: T | null;
  error: PostgrestErrorLike | null;
  status: number;
}

/** Thrown inside an attempt so that callVendor can classify the answer. */
export class SupabaseAttemptError extends Error {
  constructor(
    readonly status: number,
    readonly error: PostgrestErrorLike,
  ) {
    super(error.message ?? `HTTP ${status}`);
    this.name = 'SupabaseAttemptError';
  }
}

/**
 * supabase-js reports a failed fetch as status 0 with the fetch error in `message` and a stack in `details`:
 * that is a transport error (retried). Anything else is PostgREST's answer, final unless 429/5xx.
 */
export function classifySupabaseError(error: unknown): AttemptFailure | undefined {
  if (!(error instanceof SupabaseAttemptError)) return undefined;
  const body = error.error;
  if (error.status === 0) {
    const cause = /Caused by: ([^\n]*)/.exec(body.details ?? '')?.[1];
    return { detail: `${body.message ?? 'request failed'}${cause ? ` (${cause})` : ''}` };
  }
  const parts = [body.message || `HTTP ${error.status}`];
  if (body.details) parts.push(`details: ${body.details}`);
  if (body.hint) parts.push(`hint: ${body.hint}`);
  return { status: error.status, code: body.code || undefined, detail: parts.join('; ') };
}

/** Every request gets a deadline: a hung connection becomes a transport error and is retried. */
const REQUEST_TIMEOUT_MS = 30000;

function fetchWithTimeout(input: Parameters<typeof fetch>[0], init?: RequestInit): Promise<Response> {
  return fetch(input, { ...init, signal: init?.signal ?? AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
}

export class SupabaseVendorClient {
  readonly settings: Pick<SupabaseSettings, 'url'>;
  /** supabase-js itself, for callers that need more than the helpers (wrap calls in `request`). */
  readonly db: SupabaseClient;
  readonly churchVoiceAgents: ChurchVoiceAgentsTable;
  private readonly retryPolicy: RetryPolicy;

  /** Defaults to the provider settings (stack config or env) read now, at call time. */
  constructor(settings: SupabaseSettings = supabaseSettings(), retryPolicy: RetryPolicy = DEFAULT_RETRY_POLICY) {
    // Only the URL is kept in a readable field: the key lives inside supabase-js and is never printed by us.
    this.settings = { url: settings.url };
    this.retryPolicy = retryPolicy;
    this.db = createClient(settings.url, settings.serviceKey, {
      auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
      db: { retry: false },
      global: { fetch: fetchWithTimeout },
    });
    this.churchVoiceAgents = new ChurchVoiceAgentsTable(this);
  }

  /**
   * One PostgREST request under the retry rule, e.g.
   * `client.request('GET', 'churches', (db) => db.from('churches').select('*').eq('church_id', id))`.
   * Resolves to `data`; a PostgREST error or a transport failure rejects with a VendorError.
   * Pass idempotent=false for a write that must not be repeated blindly (a plain insert).
   */
  request<T>(
    method: HttpVerb,
    table: string,
    run: (db: SupabaseClient) => PromiseLike<PostgrestResult<T>>,
    idempotent = true,
  ): Promise<T | null> {
    const call: VendorCall = { vendor: 'supabase', method, path: `/rest/v1/${table}`, idempotent };
    return callVendor(
      call,
      async () => {
        const result = await run(this.db);
        if (result.error) throw new SupabaseAttemptError(result.status, result.error);
        return result.data;
      },
      classifySupabaseError,
      this.retryPolicy,
    );
  }
}

/** Typed access to church_voice_agents. Every call is idempotent, so every call may be retried. */
export class ChurchVoiceAgentsTable {
  constructor(private readonly client: SupabaseVendorClient) {}

  private from(db: SupabaseClient) {
    return db.from(CHURCH_VOICE_AGENTS_TABLE);
  }

  /** The church's row, or undefined. */
  async get(churchId: string): Promise<ChurchVoiceAgentRecord | undefined> {
    const row = await this.client.request<ChurchVoiceAgentRecord>('GET', CHURCH_VOICE_AGENTS_TABLE, (db) =>
      this.from(db).select('*').eq('church_id', churchId).maybeSingle(),
    );
    return row ?? undefined;
  }

  /** The row that routes this number (E.164), or undefined. */
  async getByNumber(phoneNumber: string): Promise<ChurchVoiceAgentRecord | undefined> {
    const row = await this.client.request<ChurchVoiceAgentRecord>('GET', CHURCH_VOICE_AGENTS_TABLE, (db) =>
      this.from(db).select('*').eq('twilio_phone_number', phoneNumber).maybeSingle(),
    );
    return row ?? undefined;
  }

  /** Inserts or replaces the church's row (keyed on church_id): the same call twice leaves one row. */
  async upsert(row: ChurchVoiceAgentWrite): Promise<ChurchVoiceAgentRecord> {
    const written = await this.client.request<ChurchVoiceAgentRecord>('POST', CHURCH_VOICE_AGENTS_TABLE, (db) =>
      this.from(db).upsert(row, { onConflict: 'church_id' }).select('*').single(),
    );
    return written!;
  }

  /** Changes columns of the church's row; undefined when there is no such row. */
  async update(churchId: string, changes: ChurchVoiceAgentChanges): Promise<ChurchVoiceAgentRecord | undefined> {
    const row = await this.client.request<ChurchVoiceAgentRecord>('PATCH', CHURCH_VOICE_AGENTS_TABLE, (db) =>
      this.from(db).update(changes).eq('church_id', churchId).select('*').maybeSingle(),
    );
    return row ?? undefined;
  }

  /** Removes the church's row; false when there was none. */
  async delete(churchId: string): Promise<boolean> {
    const rows = await this.client.request<{ church_id: string }[]>('DELETE', CHURCH_VOICE_AGENTS_TABLE, (db) =>
      this.from(db).delete().eq('church_id', churchId).select('church_id'),
    );
    return (rows ?? []).length > 0;
  }
}
