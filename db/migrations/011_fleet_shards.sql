-- The fleet split into shard stacks (common/fleet-shards.ts). A church's shard is written once, when it is added,
-- and changed only by the migration command that moves its resources between stacks; null = the base stack.
alter table churches add column shard integer check (shard >= 0);
create index churches_shard on churches (shard) where shard is not null;

-- One row, or none (the fleet is one stack). shard_size null: new churches get no shard. migrating: the command that
-- splits the fleet has written the churches' shards and not yet moved all their resources; no stack may run until
-- it finishes (a run in between would declare a church in a stack that does not hold its resources yet).
create table fleet_layout (
  singleton boolean primary key default true check (singleton),
  shard_size integer check (shard_size between 1 and 1000),
  migrating boolean not null default false,
  changed_at timestamptz not null default now()
);
