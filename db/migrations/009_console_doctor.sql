-- The console also runs the doctor (checks/doctor.ts) as a task and keeps its last report for "needs attention".
alter table console_tasks drop constraint console_tasks_kind_known;
alter table console_tasks add constraint console_tasks_kind_known
  check (kind in ('drift-check', 'doctor', 'ring', 'decommission'));

create table doctor_reports (
  id bigint generated always as identity primary key,
  stack text not null,
  checked_at timestamptz not null,
  report jsonb not null
);
create index doctor_reports_latest on doctor_reports (stack, checked_at desc);
