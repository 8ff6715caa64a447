/**
 * The on-demand ring (`npm run ring -- --church <id>`) as the founder runs it: a real call through the whole path
 * (the stand-in's dial -> sipp INVITE over TCP -> livekit-sip -> livekit-server) to a line the stack provisioned.
 */
import { SipClient } from 'livekit-server-sdk';
import { SANDBOX_LIVEKIT } from '../../sandbox/livekit';
import { churchStatus } from '../../registry/jobs';
import type { RingOutcome } from '../../checks/ring';
import { founderCli, jsonOf, removeStackObjects } from '../support/founder-cli';
import { newVoiceStack, type VoiceStackFixture, type LiveLine } from '../support/voice-stack';

const sip = new SipClient(SANDBOX_LIVEKIT.url, SANDBOX_LIVEKIT.apiKey, SANDBOX_LIVEKIT.apiSecret);

describe('npm run ring', () => {
  let stack: VoiceStackFixture;
  let line: LiveLine;

  beforeAll(async () => {
    // No ring during up: the first call this line gets is the command's.
    stack = await newVoiceStack('ring-command', { testRings: false });
    await stack.addChurch({ churchId: 'ring-zion', name: 'Zion Ring', areaCode: '330' });
    const up = await stack.cli(['up', '--yes', '--skip-preview']);
    expect({ code: up.code, out: up.code ? up.stdout + up.stderr : '' }).toEqual({ code: 0, out: '' });
    [line] = await stack.lines();
  });
  afterAll(async () => {
    if (stack) await removeStackObjects(stack);
    await stack?.close();
  });

  test('a freshly provisioned line rings through: exit 0, the room and participant it reached', async () => {
    const callsBefore = stack.telnyx.state.calls.size;
    const result = await founderCli(stack, ['ring', '--church', 'ring-zion', '--json']);
    expect(result.code).toBe(0);
    const outcome = jsonOf<RingOutcome>(result);
    expect(outcome.line).toMatchObject({
      churchId: 'ring-zion',
      phoneNumber: line.phoneNumber,
      trunkId: line.trunkId,
      dispatchRuleId: line.dispatchRuleId,
      roomPrefix: 'church-ring-zion-',
      from: '+14697288326',
    });
    expect(outcome.result).toMatchObject({ ok: true, roomName: expect.stringMatching(/^church-ring-zion-/) });
    expect(outcome.result.detail).toContain(
      `via trunk ${line.trunkId} and rule ${line.dispatchRuleId}; agent churchwiseai-voice dispatched`,
    );
    // One real call was placed, and it is over (the ring hangs up on every path).
    const calls = [...stack.telnyx.state.calls.values()].slice(callsBefore);
    expect(calls.map((c) => [c.to, c.from, c.state])).toEqual([[line.phoneNumber, '+14697288326', 'ended']]);
    // Recorded where the status route reads the church's last ring.
    expect(outcome.recorded).toContain('recorded in the registry');
    expect(await churchStatus(stack.db.pool, 'ring-zion')).toMatchObject({
      lastRing: { ok: true, at: new Date(outcome.result.at) },
    });

    const text = await founderCli(stack, ['ring', '--church', 'ring-zion']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(
      new RegExp(`^RING OK: \\${line.phoneNumber} \\(Zion Ring, ring-zion\\) reached LiveKit in \\d+\\.\\d s`),
    );
  });

  test('after auth is put on the trunk the ring fails with its cause: exit 1', async () => {
    await sip.updateSipInboundTrunkFields(line.trunkId, { authUsername: 'telnyx', authPassword: 'set-by-hand' });
    try {
      const result = await founderCli(stack, ['ring', '--church', 'ring-zion', '--json', '--timeout', '10']);
      expect(result.code).toBe(1);
      const outcome = jsonOf<RingOutcome>(result);
      expect(outcome.result).toMatchObject({ ok: false, cause: 'call_rejected' });
      expect(await churchStatus(stack.db.pool, 'ring-zion')).toMatchObject({
        lastRing: { ok: false, cause: 'call_rejected' },
      });
      expect(outcome.result.detail).toContain(`trunk ${line.trunkId} requires auth`);
      expect(result.stdout).not.toContain('set-by-hand');

      const text = await founderCli(stack, ['ring', '--church', 'ring-zion', '--timeout', '10']);
      expect(text.code).toBe(1);
      expect(text.stdout).toMatch(
        new RegExp(`^RING FAILED: \\${line.phoneNumber} \\(Zion Ring, ring-zion\\): call_rejected after`),
      );
      expect(text.stdout).toContain('requires auth: LiveKit challenges every INVITE and Telnyx sends no credentials');
    } finally {
      await sip.updateSipInboundTrunkFields(line.trunkId, { authUsername: '', authPassword: '' });
    }
  });

  test('a church without a line in the stack is an error naming the lines there are', async () => {
    const result = await founderCli(stack, ['ring', '--church', 'no-such-church']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('error: church no-such-church has no line in stack test (lines: ring-zion)');
  });

  test('ring without --church is a usage error', async () => {
    const result = await founderCli(stack, ['ring']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('ring needs --church <id>');
  });
});
