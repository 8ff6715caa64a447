-- updated_at is when the row was written, not when its transaction began (now()). The worker re-queues a church
-- whose row changed after its run claimed the job; an intake transaction that began before the claim and wrote
-- after it would otherwise look older than the claim and its change would be missed.
create or replace function public.set_updated_at() returns trigger
language plpgsql as $$
begin
  if new is distinct from old then
    new.updated_at := clock_timestamp();
  end if;
  return new;
end;
$$;
