-- When the founder was reminded that a parked church's quarantine is over: the clock's sweep looks only at churches
-- not reminded yet for their current quarantine, instead of re-reading every one of them on every pass.
alter table churches add column quarantine_reminded_at timestamptz;

-- Churches an older release moved from 'cancelled' to 'parking' (006) have no job to carry the parking: queue one.
insert into provisioning_jobs (church_id, reason)
  select c.church_id, 'park: cancelled before parking existed'
    from churches c
   where c.status = 'parking'
     and not exists (select 1 from provisioning_jobs j where j.church_id = c.church_id and j.state in ('queued', 'running'));
