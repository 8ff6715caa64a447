/**
 * ChurchVoiceAgentRow driven by the real Pulumi engine (Automation API, inline program, file backend) through
 * the PostgREST subset over the real sandbox PostgreSQL: what a founder sees on up, refresh, rename and destroy.
 */
import * as fs from 'fs';
import { ChurchVoiceAgentRow, type ChurchVoiceAgentRowArgs } from '../../providers/church-voice-agent-row';
import { startSupabaseSandbox, type SupabaseSandbox } from '../support/supabase-sandbox';
import { failedRun, inlineStack } from '../support/engine';

jest.setTimeout(600_000);

let sandbox: SupabaseSandbox;

beforeAll(async () => {
  sandbox = await startSupabaseSandbox('cva_engine');
});

afterAll(async () => {
  await sandbox?.close();
});

async function liveRow(churchId: string): Promise<Record<string, any> | undefined> {
  const { rows } = await sandbox.db.pool.query(
    'select church_id, twilio_phone_number, provider, livekit_trunk_id, dispatch_rule_id, status, updated_at::text from church_voice_agents where church_id = $1',
    [churchId],
  );
  return rows[0];
}

test('up writes the row, refresh finds a hand edit and up repairs it, a rename and a destroy are refused until decommission', async () => {
  let args: ChurchVoiceAgentRowArgs = {
    churchId: 'engine-church',
    phoneNumber: '+14144007103',
    provider: 'telnyx',
    livekitTrunkId: 'ST_engineTrunk',
    dispatchRuleId: 'SDR_engineRule',
  };
  const { stack, work } = await inlineStack({
    name: 'church-voice-agent-row',
    projectName: 'church-voice-agent-row',
    program: async () => {
      const row = new ChurchVoiceAgentRow('row', args);
      return { churchId: row.churchId, status: row.status, createdAt: row.createdAt, trunk: row.livekitTrunkId };
    },
    vendors: { supabase: { url: sandbox.url, serviceKey: sandbox.serviceKey } },
  });

  const up = await stack.up();
  expect(up.summary.result).toBe('succeeded');
  expect(up.outputs.churchId.value).toBe('engine-church');
  expect(up.outputs.status.value).toBe('active');
  expect(up.outputs.trunk.value).toBe('ST_engineTrunk');
  expect(up.outputs.createdAt.value).toMatch(/^\d{4}-\d\d-\d\dT/);
  expect(await liveRow('engine-church')).toMatchObject({
    twilio_phone_number: '+14144007103',
    livekit_trunk_id: 'ST_engineTrunk',
    status: 'active',
  });
  expect((await stack.preview({ expectNoChanges: true, refresh: true })).changeSummary).toEqual({ same: 2 });

  // Someone suspends the line by hand: refresh sees it, up puts the program's value back in place.
  await sandbox.db.pool.query("update church_voice_agents set status = 'suspended' where church_id = 'engine-church'");
  expect((await stack.preview({ refresh: true })).changeSummary).toMatchObject({ update: 1 });
  const repaired = await stack.up({ refresh: true });
  expect(repaired.summary.resourceChanges).toEqual({ same: 1, update: 1 });
  expect((await liveRow('engine-church'))?.status).toBe('active');

  // A new church id is another row; the old row would have to go first, which needs a decommission.
  args = { ...args, churchId: 'engine-renamed' };
  expect(await failedRun(stack.up())).toMatch(/refusing to delete the church_voice_agents row of church engine-church/);
  expect(await liveRow('engine-church')).toBeDefined();
  expect(await liveRow('engine-renamed')).toBeUndefined();
  args = { ...args, churchId: 'engine-church' };

  expect(await failedRun(stack.destroy())).toMatch(/\.\/dev church decommission --church/);
  expect(await liveRow('engine-church')).toBeDefined();

  // decommission is recorded by an update that leaves the row alone; then destroy removes it.
  const before = await liveRow('engine-church');
  args = { ...args, decommission: true };
  const recorded = await stack.up();
  expect(recorded.summary.resourceChanges).toEqual({ same: 1, update: 1 });
  expect(await liveRow('engine-church')).toEqual(before);
  const destroyed = await stack.destroy();
  expect(destroyed.summary.result).toBe('succeeded');
  expect(await liveRow('engine-church')).toBeUndefined();

  expect(JSON.stringify(await stack.exportStack())).not.toContain(sandbox.serviceKey);
  await stack.workspace.removeStack('test');
  fs.rmSync(work.dir, { recursive: true, force: true });
});
