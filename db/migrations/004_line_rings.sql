-- Test rings asked for by hand (`./dev ring`), next to the rings provisioning runs record on their jobs: the
-- status route shows whichever is newest. No foreign key: lines in service are rung too, and they need not be in
-- the registry.
create table line_rings (
  id bigserial primary key,
  church_id text not null,
  ok boolean not null,
  cause text,
  detail text,
  elapsed_ms integer not null check (elapsed_ms >= 0),
  rang_at timestamptz not null,
  source text not null check (source in ('on-demand', 'provisioning'))
);
create index line_rings_latest on line_rings (church_id, rang_at desc);
