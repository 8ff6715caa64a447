export { startPostgrest, type PostgrestOptions, type PostgrestServer } from './server';
export { PostgrestHttpError, statusForSqlState, type PostgrestErrorBody } from './errors';
export { ensurePostgrestDaemon, POSTGREST_DAEMON_NAME } from './daemon';
