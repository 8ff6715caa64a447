/**
 * How the fleet is split into stacks (pure: the program, the worker, the CLI and the console all name stacks here).
 *
 * - The base stack (`prod`, `dev`, a test's own) holds what is shared: the lines already in service, the legacy
 *   Twilio trunks and the locked objects, plus every church that has no shard yet (a fleet that was never split).
 * - Shard stack `<base>-shard-<NNN>` holds the churches whose registry row says `shard = NNN`, and nothing else.
 *
 * A church's shard is written once, when the church is added (registry/fleet-layout.ts), and only
 * `churchwise fleet shard` (the migration, which moves its resources with `pulumi state move`) ever changes it:
 * a church that changed stack by itself would be bought again in the new one and refused deletion in the old one.
 */

/** The shard stack suffix: `-shard-` and at least three digits, so names sort in shard order. */
const SHARD_STACK = /^(.+)-shard-(\d{3,})$/;

/** Largest shard size the registry accepts (db/migrations/011_fleet_shards.sql has the same check). */
export const MAX_SHARD_SIZE = 1000;

/** The stack a church of `shard` (null: not split yet) is provisioned in. */
export function stackOfShard(baseStack: string, shard: number | null): string {
  if (shard === null) return baseStack;
  if (!Number.isInteger(shard) || shard < 0) throw new Error(`shard must be a whole number from 0, got ${shard}`);
  return `${baseStack}-shard-${String(shard).padStart(3, '0')}`;
}

/** `prod-shard-007` -> { base: 'prod', shard: 7 }; `prod` -> { base: 'prod', shard: null }. */
export function shardOfStack(stackName: string): { base: string; shard: number | null } {
  const match = SHARD_STACK.exec(stackName);
  return match ? { base: match[1], shard: Number(match[2]) } : { base: stackName, shard: null };
}

/**
 * The rule a shard size must follow, or undefined when it does (the CLI passes the text it was given, the registry
 * a number; the message quotes what was given).
 */
export function checkShardSize(field: string, value: unknown): string | undefined {
  const size = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : value;
  if (typeof size === 'number' && Number.isInteger(size) && size >= 1 && size <= MAX_SHARD_SIZE) return undefined;
  return `${field} must be a whole number of churches from 1 to ${MAX_SHARD_SIZE}, got ${JSON.stringify(value)}`;
}
