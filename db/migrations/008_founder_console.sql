-- The founder console (webhook/console/): the long actions it starts (a drift check, a ring, a decommission) run
-- as tasks whose progress the page shows, and the last drift check's report is kept for "needs attention".
create table console_tasks (
  id bigint generated always as identity primary key,
  kind text not null constraint console_tasks_kind_known check (kind in ('drift-check', 'ring', 'decommission')),
  church_id text,
  -- Who started it (the console's signed-in founder).
  actor text not null,
  state text not null default 'running' constraint console_tasks_state_known
    check (state in ('running', 'succeeded', 'failed')),
  progress text not null default '',
  result jsonb,
  started_at timestamptz not null default now(),
  finished_at timestamptz
);
create index console_tasks_recent on console_tasks (started_at desc);

create table drift_reports (
  id bigint generated always as identity primary key,
  stack text not null,
  checked_at timestamptz not null,
  report jsonb not null
);
create index drift_reports_latest on drift_reports (stack, checked_at desc);
