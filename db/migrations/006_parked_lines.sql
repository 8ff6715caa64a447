-- Parking (registry/subscription-lifecycle.ts): a cancelled subscription, or a grace period that ran out, parks the
-- church's line instead of releasing it. 'parking' is the first of the two stack runs (the number moves to the
-- fallback TeXML application, the trunk and rule are marked for removal), 'parked' the second (they are removed).
-- A cancelled church of an older release is parked by the next run.
alter table churches drop constraint churches_status_known;
update churches set status = 'parking' where status = 'cancelled';
alter table churches add constraint churches_status_known
  check (status in ('active', 'past_due', 'parking', 'parked', 'decommission', 'decommissioned'));
-- When parking started; cleared when the church comes back. A decommission of a parked church keeps it, so the
-- program declares the parked shape (no trunk, no rule) while the number is released.
alter table churches add column parked_at timestamptz;
-- Until then the parked number is kept for the church (undo by resubscribing); after it the founder is reminded to
-- decommission. Nothing is ever released by the clock.
alter table churches add column quarantine_until timestamptz;
update churches set parked_at = now(), quarantine_until = now() + interval '30 days' where status = 'parking';

-- A parked line's row says so.
alter table church_voice_agents drop constraint church_voice_agents_status_known;
alter table church_voice_agents add constraint church_voice_agents_status_known
  check (status in ('provisioning', 'active', 'suspended', 'parked', 'decommissioned'));

-- Every call the fallback TeXML application sent to the service's /voice/fallback: the proof a parked number's
-- callers hear the fallback message (a parked line's test ring looks for its call here).
create table fallback_answers (
  id bigint generated always as identity primary key,
  answered_at timestamptz not null default now(),
  -- E.164 as Telnyx sends them (To, From); empty when the request had none.
  called_number text not null,
  caller_number text not null,
  call_sid text
);
create index fallback_answers_by_number on fallback_answers (called_number, answered_at);
