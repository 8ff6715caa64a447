/**
 * The fleet's layout in the registry: whether it is split into shard stacks, how big a shard is, and which shard
 * each church is in (common/fleet-shards.ts names the stacks).
 *
 * Assignment fills shards in order: a new church goes into the lowest shard with room. Most shards are then full
 * and cold (only a church's own lifecycle touches them), a purchase runs a shard of at most `shard_size` churches
 * however large the fleet is, and a burst of purchases lands in one or two shards, which the worker runs as one
 * update each instead of one per purchase. A decommissioned church frees its place for the next new one.
 */
import { checkShardSize } from '../common/fleet-shards';
import type { Queryable } from './db';

export interface FleetLayout {
  /** Churches per shard stack; undefined: the fleet is one stack (new churches get no shard). */
  shardSize?: number;
  /** The split of the fleet is half done (churches have shards, resources not all moved): no stack may run. */
  migrating: boolean;
  changedAt?: Date;
}

export async function getFleetLayout(db: Queryable): Promise<FleetLayout> {
  const { rows } = await db.query<{ shard_size: number | null; migrating: boolean; changed_at: Date }>(
    'select shard_size, migrating, changed_at from fleet_layout',
  );
  const row = rows[0];
  return row
    ? { shardSize: row.shard_size ?? undefined, migrating: row.migrating, changedAt: row.changed_at }
    : { migrating: false };
}

/**
 * Sets the shard size new churches are given from now on, and whether a split is in progress (fleet/migration.ts
 * sets it before it moves anything and clears it when every resource is in its shard's stack).
 */
export async function setFleetLayout(db: Queryable, layout: { shardSize: number; migrating: boolean }): Promise<void> {
  const invalid = checkShardSize('shard size', layout.shardSize);
  if (invalid) throw new Error(invalid);
  await db.query(
    `insert into fleet_layout (singleton, shard_size, migrating) values (true, $1, $2)
     on conflict (singleton) do update set shard_size = excluded.shard_size, migrating = excluded.migrating,
       changed_at = now()`,
    [layout.shardSize, layout.migrating],
  );
}

/** Why no stack may run now (a split in progress), or undefined. The program and the worker both ask. */
export function migrationBlock(layout: FleetLayout): string | undefined {
  if (!layout.migrating) return undefined;
  return (
    'the fleet is being split into shard stacks and the move is not finished: no stack runs until it is. ' +
    'Finish it with `churchwise fleet shard --size <n>` (it picks up where it stopped)'
  );
}

/** Serializes assignments in the same transaction, so two purchases at once never overfill one shard. */
const ASSIGN_LOCK = 'churchwise-voice:shard-assignment';

/**
 * Gives a church without a shard the lowest shard with room, when the fleet is split; returns it (null: the fleet is
 * one stack, or the church already has one). Call it in the transaction that adds the church.
 */
export async function assignShard(db: Queryable, churchId: string): Promise<number | null> {
  const { shardSize } = await getFleetLayout(db);
  if (!shardSize) return null;
  await db.query('select pg_advisory_xact_lock(hashtext($1))', [ASSIGN_LOCK]);
  const { rows } = await db.query<{ shard: number }>(
    `update churches set shard = (
       select s from generate_series(0, (select coalesce(max(shard), -1) + 1 from churches)) s
        where (select count(*) from churches c where c.shard = s and c.status <> 'decommissioned') < $2
        order by s limit 1)
      where church_id = $1 and shard is null
      returning shard`,
    [churchId, shardSize],
  );
  return rows[0]?.shard ?? null;
}

export interface ShardUse {
  /** null: the base stack (churches never split). */
  shard: number | null;
  churches: number;
}

/** Every shard that holds a church (decommissioned ones too: the state may still hold their resources). */
export async function shardsInUse(db: Queryable): Promise<ShardUse[]> {
  const { rows } = await db.query<{ shard: number | null; churches: string }>(
    'select shard, count(*) as churches from churches group by shard order by shard nulls first',
  );
  return rows.map((r) => ({ shard: r.shard, churches: Number(r.churches) }));
}
