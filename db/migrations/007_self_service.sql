-- The pastor's self-service pages (webhook/pastor/): the numbers a church holds before paying, and the steps of
-- its line as a stack run carries them out (the status page shows them as they happen).
-- The pastor's hold on churches.requested_number: a held number gone by the time the payment arrives is replaced
-- by the best one left in its area code (a number the founder typed stays exact).
alter table churches add column number_hold text;

create table number_holds (
  id bigint generated always as identity primary key,
  church_id text not null,
  phone_number text not null,
  -- Telnyx's number reservation that holds it.
  reservation_id text not null unique,
  -- The client address that asked, for the per-address limit (someone must not hold every number in an area code).
  client_address text not null,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  -- held: the church's current pick; replaced: an earlier pick of the same church; checkout: sent to Stripe with it.
  state text not null default 'held' constraint number_holds_state_known check (state in ('held', 'replaced', 'checkout'))
);
create index number_holds_by_church on number_holds (church_id, created_at desc);
create index number_holds_by_client on number_holds (client_address, created_at desc);

create table line_steps (
  id bigint generated always as identity primary key,
  church_id text not null,
  -- The stack run (worker run id) that carried the step out.
  run_id text not null,
  -- providers/resource-kinds.ts steps: telnyx-number, livekit-trunk, dispatch-rule, church-row, test-ring.
  step text not null,
  at timestamptz not null default now(),
  ok boolean not null,
  detail text
);
create index line_steps_by_church on line_steps (church_id, at, id);
