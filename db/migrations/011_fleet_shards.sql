-- The fleet split into shard stacks (common/fleet-shards.ts). A church's shard is written once, when it is added,
-- and changed only by the migration command that moves its resources between stacks; null = the base stack.
alter table churches add column shard integer check (shard >= 0);
create index churches_shard on churches (shard) where shard is not null;

-- One row, or none: without it the fleet is one stack and new churches get no shard.
create table fleet_layout (
  singleton boolean primary key default true check (singleton),
  shard_size integer not null check (shard_size between 1 and 1000),
  changed_at timestamptz not null default now()
);
