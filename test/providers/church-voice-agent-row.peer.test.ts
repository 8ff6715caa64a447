/**
 * ChurchVoiceAgentRow create/read/update/delete through the PostgREST subset (production's supabase-js) over the
 * real sandbox PostgreSQL. What the row looks like is checked in the database itself, as the voice agent sees it.
 */
import {
  provider,
  checkChurchVoiceAgentRow,
  type ChurchVoiceAgentRowInputs,
  type ChurchVoiceAgentRowOutputs,
} from '../../providers/church-voice-agent-row';
import { resetConfiguredSettings } from '../../vendors/vendor-settings';
import {
  AdoptionMismatchError,
  NotDecommissionedError,
  NothingToAdoptError,
  NumberInUseError,
} from '../../providers/refusals';
import { startSupabaseSandbox, type SupabaseSandbox } from '../support/supabase-sandbox';

let sandbox: SupabaseSandbox;
const savedEnv = { url: process.env.SUPABASE_URL, key: process.env.SUPABASE_SERVICE_ROLE_KEY };

const MEDHANIALEM = {
  churchId: 'medhanialem',
  phoneNumber: '+14144007103',
  provider: 'telnyx',
  livekitTrunkId: 'ST_LWgmiBSwTk7P',
  dispatchRuleId: 'SDR_medhanialem',
};

/** Inputs as the engine hands them to create/update: after check. */
function inputs(news: Record<string, unknown>): ChurchVoiceAgentRowInputs {
  const result = checkChurchVoiceAgentRow({}, news);
  expect(result.failures).toEqual([]);
  return result.inputs as ChurchVoiceAgentRowInputs;
}

async function liveRow(churchId: string): Promise<Record<string, any> | undefined> {
  const { rows } = await sandbox.db.pool.query(
    "select church_id, twilio_phone_number, provider, livekit_trunk_id, dispatch_rule_id, status, to_json(created_at)#>>'{}' as created_at, to_json(updated_at)#>>'{}' as updated_at from church_voice_agents where church_id = $1",
    [churchId],
  );
  return rows[0];
}

/** create, with the outputs every create of this provider returns. */
async function created(news: Record<string, unknown>): Promise<{ id: string; outs: ChurchVoiceAgentRowOutputs }> {
  const result = await provider.create(inputs(news));
  return { id: result.id, outs: result.outs! };
}

async function rowCount(): Promise<number> {
  const { rows } = await sandbox.db.pool.query('select count(*)::int as n from church_voice_agents');
  return rows[0].n;
}

beforeAll(async () => {
  sandbox = await startSupabaseSandbox('cva_row');
  resetConfiguredSettings();
  process.env.SUPABASE_URL = sandbox.url;
  process.env.SUPABASE_SERVICE_ROLE_KEY = sandbox.serviceKey;
});

afterAll(async () => {
  for (const [name, value] of [
    ['SUPABASE_URL', savedEnv.url],
    ['SUPABASE_SERVICE_ROLE_KEY', savedEnv.key],
  ] as const) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  await sandbox?.close();
});

beforeEach(async () => {
  await sandbox.db.pool.query('truncate church_voice_agents');
});

describe('create', () => {
  test('writes the row the voice agent routes by, and returns every column', async () => {
    const { id, outs } = await provider.create(inputs(MEDHANIALEM));
    expect(id).toBe('medhanialem');
    const row = await liveRow('medhanialem');
    expect(row).toMatchObject({
      church_id: 'medhanialem',
      twilio_phone_number: '+14144007103',
      provider: 'telnyx',
      livekit_trunk_id: 'ST_LWgmiBSwTk7P',
      dispatch_rule_id: 'SDR_medhanialem',
      status: 'active',
    });
    expect(outs).toEqual({
      ...MEDHANIALEM,
      status: 'active',
      decommission: false,
      createdAt: row!.created_at,
      updatedAt: row!.updated_at,
    });
  });

  test('is idempotent: a retried create leaves one unchanged row', async () => {
    const first = await provider.create(inputs(MEDHANIALEM));
    const again = await provider.create(inputs(MEDHANIALEM));
    expect(again).toEqual(first);
    expect(await rowCount()).toBe(1);
  });

  test('a number that already routes to another church is refused, naming that church; nothing is written', async () => {
    await provider.create(inputs(MEDHANIALEM));
    const create = provider.create(inputs({ ...MEDHANIALEM, churchId: 'melvindale' }));
    await expect(create).rejects.toBeInstanceOf(NumberInUseError);
    await expect(create).rejects.toMatchObject({
      phoneNumber: '+14144007103',
      churchId: 'melvindale',
      ownerChurchId: 'medhanialem',
    });
    expect(await liveRow('melvindale')).toBeUndefined();
    expect(await rowCount()).toBe(1);
  });

  test('adoption verifies the existing row and writes nothing', async () => {
    await sandbox.db.pool.query(
      "insert into church_voice_agents (church_id, twilio_phone_number, provider, livekit_trunk_id) values ('demo-us', '+14696152221', 'twilio', 'ST_jKtes8Md7dEZ')",
    );
    const before = await liveRow('demo-us');
    const { id, outs } = await provider.create(
      inputs({
        churchId: 'demo-us',
        phoneNumber: '+14696152221',
        provider: 'twilio',
        livekitTrunkId: 'ST_jKtes8Md7dEZ',
        adoptId: 'demo-us',
      }),
    );
    expect(id).toBe('demo-us');
    expect(outs).toMatchObject({
      churchId: 'demo-us',
      adoptId: 'demo-us',
      livekitTrunkId: 'ST_jKtes8Md7dEZ',
      updatedAt: before!.updated_at,
    });
    expect(await liveRow('demo-us')).toEqual(before);
  });

  test('adopting a row that does not exist, or that routes another number, fails and writes nothing', async () => {
    const adoptMissing = provider.create(inputs({ ...MEDHANIALEM, adoptId: 'medhanialem' }));
    await expect(adoptMissing).rejects.toBeInstanceOf(NothingToAdoptError);
    await expect(adoptMissing).rejects.toMatchObject({
      holder: 'Supabase',
      id: 'medhanialem',
      churchId: 'medhanialem',
    });
    expect(await rowCount()).toBe(0);
    await sandbox.db.pool.query(
      "insert into church_voice_agents (church_id, twilio_phone_number, provider) values ('medhanialem', '+17473897673', 'telnyx')",
    );
    const before = await liveRow('medhanialem');
    const adoptOther = provider.create(inputs({ ...MEDHANIALEM, adoptId: 'medhanialem' }));
    await expect(adoptOther).rejects.toBeInstanceOf(AdoptionMismatchError);
    await expect(adoptOther).rejects.toMatchObject({
      holder: 'Supabase',
      churchId: 'medhanialem',
      differences: [{ field: 'phoneNumber', holderHas: '+17473897673', programSays: '+14144007103' }],
    });
    expect(await liveRow('medhanialem')).toEqual(before);
  });
});

describe('read', () => {
  test('returns the live row, so a change made outside the program shows as drift', async () => {
    const { outs } = await created(MEDHANIALEM);
    await sandbox.db.pool.query(
      "update church_voice_agents set status = 'suspended', dispatch_rule_id = null where church_id = 'medhanialem'",
    );
    const read = await provider.read!('medhanialem', outs);
    const row = await liveRow('medhanialem');
    expect(read).toEqual({
      id: 'medhanialem',
      props: {
        churchId: 'medhanialem',
        phoneNumber: '+14144007103',
        provider: 'telnyx',
        livekitTrunkId: 'ST_LWgmiBSwTk7P',
        status: 'suspended',
        decommission: false,
        createdAt: row!.created_at,
        updatedAt: row!.updated_at,
      },
    });
  });

  test('keeps the state-only inputs (decommission, adoptId) from the previous outputs', async () => {
    const { outs } = await created(MEDHANIALEM);
    const read = await provider.read!('medhanialem', {
      ...outs,
      decommission: true,
      adoptId: 'medhanialem',
    } satisfies ChurchVoiceAgentRowOutputs);
    expect(read.props).toMatchObject({ decommission: true, adoptId: 'medhanialem' });
  });

  test('a row that is gone reads as gone (empty id)', async () => {
    const { outs } = await created(MEDHANIALEM);
    await sandbox.db.pool.query('delete from church_voice_agents');
    expect(await provider.read!('medhanialem', outs)).toEqual({ id: '', props: undefined });
  });
});

describe('update', () => {
  test('writes the new values in place; a column the program drops is cleared', async () => {
    const { outs } = await created(MEDHANIALEM);
    const { dispatchRuleId: _dropped, ...withoutRule } = MEDHANIALEM;
    const { outs: updated } = await provider.update!(
      'medhanialem',
      outs,
      inputs({ ...withoutRule, livekitTrunkId: 'ST_newTrunk', status: 'suspended' }),
    );
    const row = await liveRow('medhanialem');
    expect(row).toMatchObject({
      livekit_trunk_id: 'ST_newTrunk',
      dispatch_rule_id: null,
      status: 'suspended',
      created_at: outs.createdAt,
    });
    expect(updated).toMatchObject({ livekitTrunkId: 'ST_newTrunk', status: 'suspended', updatedAt: row!.updated_at });
    expect(updated).not.toHaveProperty('dispatchRuleId');
  });

  test('decommission alone is recorded in the outputs without writing the row', async () => {
    const { outs } = await created(MEDHANIALEM);
    const before = await liveRow('medhanialem');
    const { outs: updated } = await provider.update!(
      'medhanialem',
      outs,
      inputs({ ...MEDHANIALEM, decommission: true }),
    );
    expect(updated).toEqual({ ...outs, decommission: true });
    expect(await liveRow('medhanialem')).toEqual(before);
  });

  test('recreates the row when it was deleted outside the program (update is an upsert)', async () => {
    const { outs } = await created(MEDHANIALEM);
    await sandbox.db.pool.query('delete from church_voice_agents');
    await provider.update!('medhanialem', outs, inputs({ ...MEDHANIALEM, status: 'suspended' }));
    expect(await liveRow('medhanialem')).toMatchObject({ status: 'suspended', twilio_phone_number: '+14144007103' });
  });
});

describe('delete', () => {
  test('without decommission it is refused with how to decommission, and the row stays', async () => {
    const { outs } = await created(MEDHANIALEM);
    const deletion = provider.delete!('medhanialem', outs);
    await expect(deletion).rejects.toBeInstanceOf(NotDecommissionedError);
    await expect(deletion).rejects.toMatchObject({
      kind: 'church_voice_agents row',
      id: 'medhanialem',
      churchId: 'medhanialem',
      phoneNumber: '+14144007103',
    });
    expect(await liveRow('medhanialem')).toBeDefined();
  });

  test('after decommission was recorded it removes the row', async () => {
    const { outs } = await created(MEDHANIALEM);
    const { outs: decommissioned } = await provider.update!(
      'medhanialem',
      outs,
      inputs({ ...MEDHANIALEM, decommission: true }),
    );
    await provider.delete!('medhanialem', decommissioned!);
    expect(await liveRow('medhanialem')).toBeUndefined();
    // Deleting a row that is already gone is not an error (a retried delete).
    await provider.delete!('medhanialem', decommissioned!);
  });
});

test('a failure from Supabase names the vendor call and never shows the service key', async () => {
  process.env.SUPABASE_SERVICE_ROLE_KEY = 'wrong-key-must-not-leak';
  try {
    const failure = provider.create(inputs(MEDHANIALEM));
    await expect(failure).rejects.toThrow(/supabase POST \/rest\/v1\/church_voice_agents failed: HTTP 401/);
    await failure.catch((error: Error) => {
      expect(error.message).not.toContain('wrong-key-must-not-leak');
      expect(error.message).not.toContain(sandbox.serviceKey);
    });
  } finally {
    process.env.SUPABASE_SERVICE_ROLE_KEY = sandbox.serviceKey;
  }
  expect(await rowCount()).toBe(0);
});
