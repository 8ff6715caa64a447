-- The subscription lifecycle (registry/subscription-lifecycle.ts): a payment problem starts a grace period during
-- which the line keeps working ('past_due'); every transition goes into the church's timeline.
alter table churches drop constraint churches_status_known;
alter table churches add constraint churches_status_known
  check (status in ('active', 'past_due', 'cancelled', 'decommission', 'decommissioned'));
-- The Stripe `created` time of the newest subscription event applied to the church: Stripe delivers unordered, so
-- an event older than this changes nothing.
alter table churches add column lifecycle_at timestamptz;
-- While past_due: when the grace period ends.
alter table churches add column grace_until timestamptz;

-- Every lifecycle transition of a church: what happened, when, and who or what caused it.
create table church_timeline (
  id bigint generated always as identity primary key,
  -- No foreign key: a superseded or unusable event of a church the registry does not hold is kept too.
  church_id text not null,
  -- When the service recorded it.
  at timestamptz not null default now(),
  -- When its cause happened (a Stripe event's `created` time), which may be well before `at`.
  occurred_at timestamptz,
  kind text not null,
  from_status text,
  to_status text,
  -- stripe, founder or service.
  actor text not null constraint church_timeline_actor_known check (actor in ('stripe', 'founder', 'service')),
  -- The Stripe event id, the command, the job...
  cause text,
  detail text
);
create index church_timeline_by_church on church_timeline (church_id, at, id);
