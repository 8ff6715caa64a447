/**
 * The customer registry: typed functions over the production PostgreSQL (DATABASE_URL) that the webhook writes
 * and the Pulumi program reads. Schema: db/migrations/002_registry.sql.
 */
export * from './db';
export * from './churches';
export * from './stripe-events';
export * from './jobs';
export * from './founder-notifications';
export * from './rings';
export * from './parked-lines';
export * from './number-holds';
export * from './line-steps';
export * from './console';
export * from './timeline';
export * from './subscription-lifecycle';
export * from './fleet-layout';
