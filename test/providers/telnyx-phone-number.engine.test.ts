/**
 * TelnyxPhoneNumber through the real Pulumi engine (CLI built by scripts/tools.sh, Automation API, file backend)
 * against the Telnyx stand-in: what the founder sees in a preview and what an `up` really does to the number.
 */
import type { Stack } from '@pulumi/pulumi/automation';
import Telnyx from 'telnyx';
import { PRODUCTION_FQDN_CONNECTION_ID } from '../../vendors/vendor-settings';
import { TelnyxPhoneNumber, type TelnyxPhoneNumberArgs } from '../../providers/telnyx-phone-number';
import {
  LIVEKIT_INBOUND_CONNECTION,
  LIVEKIT_INBOUND_FQDN,
  startTelnyxStandIn,
  type TelnyxStandIn,
} from '../../sandbox/telnyx/standin';
import { inlineStack, type WorkDir } from '../support/engine';

const CONNECTION = PRODUCTION_FQDN_CONNECTION_ID;
const OTHER_CONNECTION = '2925216093662340001';
const TYPE = 'pulumi-nodejs:dynamic/telnyx:TelnyxPhoneNumber';

let standIn: TelnyxStandIn;

beforeAll(async () => {
  standIn = await startTelnyxStandIn({
    connections: [LIVEKIT_INBOUND_CONNECTION, { id: OTHER_CONNECTION, connection_name: 'Somebody else' }],
    fqdns: [LIVEKIT_INBOUND_FQDN],
  });
});

afterAll(async () => {
  await standIn?.close();
});

afterEach(() => {
  standIn.clearFaults();
  expect(standIn.state.specFailures).toEqual([]);
});

/** A stack whose program declares one church's number with whatever `declared` holds at the time of the run. */
async function churchStack(
  name: string,
  declared: { args?: TelnyxPhoneNumberArgs },
): Promise<{ stack: Stack; work: WorkDir }> {
  const program = async () => {
    if (!declared.args) return {};
    const number = new TelnyxPhoneNumber('church-number', declared.args);
    return { phoneNumber: number.phoneNumber, phoneNumberId: number.phoneNumberId, connectionId: number.connectionId };
  };
  return inlineStack({
    name,
    projectName: 'telnyx-number-check',
    program,
    vendors: { telnyx: { baseUrl: standIn.url, apiKey: standIn.apiKey } },
  });
}

/** Everything the engine printed during a run, for the messages a founder would read. */
function collect(): { lines: string[]; onOutput: (line: string) => void } {
  const lines: string[] = [];
  return { lines, onOutput: (line) => void lines.push(line) };
}

const numberOf = (id: string) => standIn.state.phoneNumbers.get(id)!;

async function stateNumber(stack: Stack) {
  const deployment = await stack.exportStack();
  return (deployment.deployment.resources ?? []).find((r: { type: string }) => r.type === TYPE);
}

describe('TelnyxPhoneNumber in the real engine', () => {
  it('buys once, previews clean, keeps the number on an area code change, and shows and repairs drift', async () => {
    const declared: { args?: TelnyxPhoneNumberArgs } = {
      args: { areaCode: '469', customerReference: 'church-engine', tags: ['churchwise-voice'] },
    };
    const { stack } = await churchStack('telnyx-number', declared);
    const posts = standIn.countRequests('POST', '/number_orders');

    const up = await stack.up();
    expect(up.summary.result).toBe('succeeded');
    const id = up.outputs.phoneNumberId!.value as string;
    expect(numberOf(id)).toMatchObject({
      status: 'active',
      connection_id: CONNECTION,
      customer_reference: 'church-engine',
    });
    expect(standIn.countRequests('POST', '/number_orders') - posts).toBe(1);
    expect(JSON.stringify(await stack.exportStack())).not.toContain(standIn.apiKey);

    expect((await stack.preview({ expectNoChanges: true })).changeSummary).toEqual({ same: 2 });

    // A new area code is recorded, never a new number: the preview says "update", not "replace".
    declared.args = { ...declared.args!, areaCode: '747' };
    const preview = collect();
    const previewed = await stack.preview({ onOutput: preview.onOutput });
    expect(previewed.changeSummary).toEqual({ same: 1, update: 1 });
    expect(preview.lines.join('')).toContain('keeps its number; an area code only applies to a new purchase');
    const writes =
      standIn.countRequests('POST', '/') + standIn.countRequests('PATCH', '/') + standIn.countRequests('DELETE', '/');
    const moved = await stack.up();
    expect(moved.summary.resourceChanges).toEqual({ same: 1, update: 1 });
    expect(moved.outputs.phoneNumber!.value).toBe(up.outputs.phoneNumber!.value);
    expect(
      standIn.countRequests('POST', '/') +
        standIn.countRequests('PATCH', '/') +
        standIn.countRequests('DELETE', '/') -
        writes,
    ).toBe(0);

    // Someone moves the number to another connection in the portal: a plain preview cannot know ...
    const portal = new Telnyx({ apiKey: standIn.apiKey, baseURL: standIn.url, maxRetries: 0 });
    await portal.phoneNumbers.update(id, { connection_id: OTHER_CONNECTION });
    expect((await stack.preview({ expectNoChanges: true })).changeSummary).toEqual({ same: 2 });
    // ... a refreshing preview sees it, and up puts it back.
    const drift = await stack.preview({ refresh: true });
    expect(drift.changeSummary).toMatchObject({ update: 1 });
    const repaired = await stack.up({ refresh: true });
    expect(repaired.outputs.connectionId!.value).toBe(CONNECTION);
    expect(numberOf(id).connection_id).toBe(CONNECTION);
    expect(standIn.countRequests('POST', '/number_orders') - posts).toBe(1);
  });

  it('refuses to release a number dropped from the program until it is decommissioned', async () => {
    const declared: { args?: TelnyxPhoneNumberArgs } = {
      args: { areaCode: '469', customerReference: 'church-leaving-engine' },
    };
    const { stack } = await churchStack('telnyx-release', declared);
    const up = await stack.up();
    const id = up.outputs.phoneNumberId!.value as string;

    declared.args = undefined;
    await expect(stack.up()).rejects.toThrow(/refusing to release \+1469\d{7} \(church church-leaving-engine\)/);
    expect(numberOf(id).status).toBe('active');
    expect(await stateNumber(stack)).toMatchObject({ id });

    // The church's registry status becomes 'decommission': up records it, then dropping the number releases it.
    declared.args = { areaCode: '469', customerReference: 'church-leaving-engine', decommission: true };
    expect((await stack.up()).summary.resourceChanges).toEqual({ same: 1, update: 1 });
    expect(numberOf(id).status).toBe('active');
    declared.args = undefined;
    expect((await stack.up()).summary.resourceChanges).toEqual({ same: 1, delete: 1 });
    expect(numberOf(id).status).toBe('deleted');
    expect(await stateNumber(stack)).toBeUndefined();
  });

  it('keeps a bought-but-unfinished number in the state, and the next up finishes it without buying again', async () => {
    const declared: { args?: TelnyxPhoneNumberArgs } = {
      args: { areaCode: '469', customerReference: 'church-half-engine', tags: ['churchwise-voice'] },
    };
    const { stack } = await churchStack('telnyx-half', declared);
    const posts = standIn.countRequests('POST', '/number_orders');
    standIn.injectFaults({ status: 422, method: 'PATCH', pathPrefix: '/phone_numbers' });
    await expect(stack.up()).rejects.toThrow(/was bought for church church-half-engine but is not ready/);
    const kept = await stateNumber(stack);
    expect(kept).toBeDefined();
    expect(numberOf(kept.id)).toMatchObject({ status: 'active', customer_reference: 'church-half-engine' });

    standIn.clearFaults();
    const up = await stack.up();
    expect(up.outputs.phoneNumberId!.value).toBe(kept.id);
    expect(numberOf(kept.id).tags).toEqual(['churchwise-voice']);
    expect(standIn.countRequests('POST', '/number_orders') - posts).toBe(1);
  });
});
