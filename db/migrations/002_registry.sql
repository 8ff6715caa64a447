-- Customer registry and durable provisioning queue written by the Stripe webhook service (webhook/).
-- Data flows one way: webhook -> registry -> stacks -> engine. The Pulumi program reads `churches` with exactly
-- the columns below; the worker claims `provisioning_jobs`, runs the stack once for all of them and settles each.

-- updated_at is kept by public.set_updated_at() from 001 (it moves only when a row really changes).

create table churches (
  -- Also the key of the church's Pulumi resources and LiveKit trunk names, hence the narrow alphabet.
  church_id text primary key
    constraint churches_church_id_format check (church_id ~ '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$'),
  name text not null
    constraint churches_name_not_blank check (btrim(name) <> ''),
  -- North American area code (NPA) to search a local number in.
  area_code text
    constraint churches_area_code_format check (area_code ~ '^[2-9][0-9]{2}$'),
  -- A specific number the church asked for: E.164 with the "+", never a 555 fiction number (it cannot ring).
  requested_number text
    constraint churches_requested_number_e164 check (requested_number ~ '^\+[1-9][0-9]{7,14}$')
    constraint churches_requested_number_not_555 check (requested_number !~ '^\+1[0-9]{3}555[0-9]{4}$'),
  plan text not null
    constraint churches_plan_not_blank check (btrim(plan) <> ''),
  -- 'cancelled' keeps the line (a cancellation releases nothing by itself); 'decommission' means the founder asked
  -- for the line to be released; 'decommissioned' means it was.
  status text not null default 'active'
    constraint churches_status_known check (status in ('active', 'cancelled', 'decommission', 'decommissioned')),
  stripe_customer_id text,
  stripe_subscription_id text
    constraint churches_stripe_subscription_id_unique unique,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  -- Without one of them there is nothing to order a number by.
  constraint churches_area_code_or_number check (area_code is not null or requested_number is not null)
);

create trigger churches_set_updated_at before update on churches
  for each row execute function public.set_updated_at();

-- Stripe delivers at least once, unordered, for days: one row per event id is the dedupe.
create table stripe_events (
  event_id text primary key,
  type text not null,
  -- No foreign key: ignored and unusable events are recorded too, for churches that may not exist.
  church_id text,
  -- What the service did with it: queued, unchanged, ignored, cancelled, founder-notified.
  outcome text not null,
  received_at timestamptz not null default now()
);

create table provisioning_jobs (
  id bigint generated always as identity primary key,
  church_id text not null references churches (church_id),
  -- Why the job exists (Stripe event id, admin request), for the log and the founder email.
  reason text not null,
  state text not null default 'queued'
    constraint provisioning_jobs_state_known check (state in ('queued', 'running', 'succeeded', 'failed')),
  -- Stack runs this job has ridden (incremented at claim).
  attempts integer not null default 0 constraint provisioning_jobs_attempts_non_negative check (attempts >= 0),
  -- A queued job is claimed only once this time has passed: the retry backoff.
  next_attempt_at timestamptz not null default now(),
  last_error text,
  failed_step text,
  -- The stack run that last carried the job, and which worker process holds it while running.
  run_id text,
  locked_by text,
  locked_at timestamptz,
  founder_notified_at timestamptz,
  -- What the run reported for this church, shown by GET /churches/:id/status.
  phone_number text,
  trunk_id text,
  dispatch_rule_id text,
  ring_ok boolean,
  ring_cause text,
  ring_at timestamptz,
  finished_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint provisioning_jobs_running_is_locked check ((state = 'running') = (locked_by is not null))
);

create trigger provisioning_jobs_set_updated_at before update on provisioning_jobs
  for each row execute function public.set_updated_at();

-- At most one open job per church: a replayed event or a second event for the same subscription finds it and
-- adds nothing.
create unique index provisioning_jobs_one_open_per_church on provisioning_jobs (church_id)
  where state in ('queued', 'running');
create index provisioning_jobs_due on provisioning_jobs (next_attempt_at) where state = 'queued';
create index provisioning_jobs_by_church on provisioning_jobs (church_id, id desc);

-- Outbox of emails to the founder, written in the same transaction as the fact they report, so a crash between
-- "the job failed" and "the email went out" loses nothing; dedupe_key makes each fact one email.
create table founder_notifications (
  id bigint generated always as identity primary key,
  dedupe_key text not null constraint founder_notifications_dedupe_key_unique unique,
  church_id text,
  job_id bigint references provisioning_jobs (id),
  subject text not null,
  body text not null,
  attempts integer not null default 0,
  next_attempt_at timestamptz not null default now(),
  last_error text,
  sent_at timestamptz,
  created_at timestamptz not null default now()
);

create index founder_notifications_unsent on founder_notifications (next_attempt_at) where sent_at is null;
