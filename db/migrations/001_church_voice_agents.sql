-- One row per church phone line: which number rings which church, through which LiveKit trunk and dispatch rule.
-- The voice agent's resolve_route() looks the called number up here, so the constraints below are what keep a
-- malformed number or a duplicate line out of production routing.

create table public.church_voice_agents (
  church_id text primary key
    constraint church_voice_agents_church_id_format
    check (church_id ~ '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$'),
  twilio_phone_number text not null
    constraint church_voice_agents_twilio_phone_number_key unique
    constraint church_voice_agents_twilio_phone_number_e164
    check (twilio_phone_number ~ '^\+[1-9][0-9]{7,14}$'),
  provider text not null
    constraint church_voice_agents_provider_known
    check (provider in ('telnyx', 'twilio')),
  livekit_trunk_id text,
  dispatch_rule_id text,
  status text not null default 'active'
    constraint church_voice_agents_status_known
    check (status in ('provisioning', 'active', 'suspended', 'decommissioned')),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

comment on table public.church_voice_agents is
  'One row per church phone line; the voice agent routes a call by looking up the called number here.';
comment on column public.church_voice_agents.twilio_phone_number is
  'The church''s phone number in E.164 (+ included). The column name is historical: it holds Telnyx numbers too '
  '(see provider); LiveKit matches it exactly against the trunk''s numbers.';
comment on column public.church_voice_agents.provider is
  'Carrier that owns the number: telnyx for new customers, twilio for legacy lines (never migrated).';

-- updated_at moves only when a row really changes, so an idempotent upsert (a retried create) leaves it alone.
create or replace function public.set_updated_at() returns trigger
language plpgsql as $$
begin
  if new is distinct from old then
    new.updated_at := now();
  end if;
  return new;
end;
$$;

create trigger church_voice_agents_set_updated_at
  before update on public.church_voice_agents
  for each row execute function public.set_updated_at();
