/**
 * kill -9 of the webhook service (webhook/main.ts, its own process) in the middle of an engine update, then a
 * restart: the church ends up live with exactly one number order.
 *
 * Run alone (`npm test`'s second jest run): the recovery ends the processes of every dead run on this machine, so
 * any other test's service starting a run beside this one could end what this test counts.
 *
 * What really stays behind was checked on the real CLI: the inline program's `pulumi up` child normally exits
 * within a second of losing its host, leaving the stack locked by a dead pid with the number's create pending;
 * the dynamic-provider plugin it started runs in its own process group, so it survives even a kill of the
 * service's whole process group, and keeps working on the order. Both cases are played here: the whole group
 * killed (engine dead, plugin orphaned), and only the service killed while its engine cannot exit yet (held with
 * SIGSTOP, as a step that takes a while would hold it) so the restart finds a live orphaned engine on the lock.
 * The Telnyx stand-in answers slowly (setLatency) so the kill lands while the number is being bought.
 */
import { SipClient } from 'livekit-server-sdk';
import * as fs from 'fs';
import { SANDBOX_LIVEKIT } from '../../sandbox/livekit';
import type { MailpitConnection } from '../../sandbox/mailpit';
import {
  isRunning,
  killProcesses,
  processesOfDeadHosts,
  readProcess,
  RUN_HOST_ENV,
} from '../../engine/orphaned-processes';
import { PROJECT_NAME } from '../../engine/voice-stack';
import { newVoiceStack, type VoiceStackFixture } from '../support/voice-stack';
import {
  ENGINE_WAIT_MS,
  ServiceProcess,
  ensureMailpit,
  serviceConfig,
  stackUpdates,
  stateFile,
  subscriptionEvent,
  uniqueId,
} from '../support/service';

const sip = new SipClient(SANDBOX_LIVEKIT.url, SANDBOX_LIVEKIT.apiKey, SANDBOX_LIVEKIT.apiSecret);

let mailpit: MailpitConnection;
beforeAll(async () => {
  mailpit = await ensureMailpit();
});

/** Children of a process that are the pulumi CLI (the engine the Automation API started). */
function engineChildren(pid: number): number[] {
  return fs
    .readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map((entry) => readProcess(Number(entry)))
    .filter((p) => p !== undefined && p.ppid === pid && p.argv[0]?.endsWith('/pulumi'))
    .map((p) => p!.pid);
}

/** Processes still running that runs of these (dead) services started: engines, language hosts, providers. */
function leftBy(services: ServiceProcess[]): ReturnType<typeof processesOfDeadHosts> {
  const hosts = new Set(services.map((s) => String(s.pid)));
  return processesOfDeadHosts().filter((p) => hosts.has(p.host.split(':')[0]));
}

async function until<T>(what: string, probe: () => T | undefined | false): Promise<T> {
  const deadline = Date.now() + ENGINE_WAIT_MS;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${ENGINE_WAIT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe.each([
  {
    variant: "the service's whole process group",
    kill: async (service: ServiceProcess): Promise<number | undefined> => {
      await until('the dynamic provider process', () => providersOf(service).length >= 1);
      process.kill(-service.pid, 'SIGKILL');
      return undefined;
    },
  },
  {
    variant: 'the service process alone while its engine is still running',
    kill: async (service: ServiceProcess): Promise<number | undefined> => {
      const [engine] = engineChildren(service.pid);
      expect(engine).toBeDefined();
      process.kill(engine, 'SIGSTOP');
      process.kill(service.pid, 'SIGKILL');
      return engine;
    },
  },
])('kill -9 of $variant during an update, then a restart', ({ variant, kill }) => {
  let stack: VoiceStackFixture;
  const started: ServiceProcess[] = [];
  let heldEngine: number | undefined;
  beforeAll(async () => {
    stack = await newVoiceStack(`e2e-kill-${variant.length}`, { testRings: true });
  });
  afterAll(async () => {
    for (const service of started) await service.stop().catch(() => undefined);
    // A failed assertion before the restart leaves the dead run's engine and plugin behind: this test's to end.
    if (heldEngine !== undefined && isRunning(heldEngine)) process.kill(heldEngine, 'SIGKILL');
    await killProcesses(leftBy(started).map((p) => p.pid));
    await stack?.close();
  });

  test(
    'the church ends up live with exactly one number order',
    async () => {
      const config = serviceConfig(stack, mailpit);
      const churchId = uniqueId('phoenix').toLowerCase();
      stack.telnyx.setLatency(1500);
      const first = await ServiceProcess.start(stack, config);
      started.push(first);
      const accepted = await first.deliver(
        subscriptionEvent({ subscriptionId: uniqueId('sub'), churchId, areaCode: '602', churchName: 'Phoenix First' }),
      );
      expect(accepted.json()).toMatchObject({ outcome: 'queued' });

      // Telnyx accepted the order; the create is still waiting for it to complete (every call takes 1.5 s).
      await until('the number order', () => stack.telnyx.state.numberOrders.size > 0);
      heldEngine = await kill(first);
      await first.exited();
      // What the dead run left (besides a held engine) is frozen where it stands: a process that notices its
      // engine is gone exits by itself, sometimes before the restart's recovery looks, so without this the counts
      // below would depend on that race. Stopped, each (an engine outside the killed group, or a plugin) can only be
      // ended by the recovery, which must report every one of them.
      // Only processes outside the killed group: one of the group may still be dying from the SIGKILL.
      const leftAtKill = heldEngine ? [] : leftBy([first]).filter((p) => p.pgrp !== first.pid);
      for (const p of leftAtKill) process.kill(p.pid, 'SIGSTOP');

      // Mid-update indeed: the engine had the number's create pending and the stack locked.
      const pendingAtKill = stateFile(stack).pending;
      expect(pendingAtKill).toEqual(
        expect.arrayContaining([
          { type: 'creating', urn: expect.stringMatching(new RegExp(`::church-${churchId}-number$`)) },
        ]),
      );
      const locks = fs
        .readdirSync(`${stack.work.dir}/state/.pulumi/locks/organization/${PROJECT_NAME}/test`)
        .filter((f) => f.endsWith('.json'));
      expect(locks).toHaveLength(1);
      if (heldEngine) expect(isRunning(heldEngine)).toBe(true);

      stack.telnyx.setLatency(0);
      const second = await ServiceProcess.start(stack, config);
      started.push(second);
      const status = await second.waitForState(churchId, ['live', 'failed']);
      expect(status).toMatchObject({
        state: 'live',
        phoneNumber: expect.stringMatching(/^\+1602\d{7}$/),
        lastRing: { ok: true },
      });

      expect(stack.telnyx.state.numberOrders.size).toBe(1);
      const [order] = [...stack.telnyx.state.numberOrders.values()];
      expect(order.phone_numbers.map((n: { phone_number: string }) => n.phone_number)).toEqual([status.phoneNumber]);
      const trunks = await sip.listSipInboundTrunk({ numbers: [status.phoneNumber] } as never);
      expect(trunks.map((t) => t.sipTrunkId)).toEqual([status.trunkId]);
      const row = await stack.db.pool.query(
        'select twilio_phone_number from church_voice_agents where church_id = $1',
        [churchId],
      );
      expect(row.rows).toEqual([{ twilio_phone_number: status.phoneNumber }]);

      // The restart cleaned up after the dead run, and said so.
      const run = second.records('stack run succeeded')[0];
      expect(run.recovered).toMatchObject({ pendingOperationsCleared: 1 });
      if (heldEngine) {
        expect(run.recovered.orphanedEnginesStopped).toBe(1);
        expect(isRunning(heldEngine)).toBe(false);
      } else {
        expect(run.recovered.staleLocksRemoved).toBe(1);
        expect(run.recovered.orphanedEnginesStopped + run.recovered.orphanedPluginsKilled).toBe(leftAtKill.length);
      }
      expect(second.records('job left running by a dead worker queued again')).toHaveLength(1);
      expect(leftBy([first])).toEqual([]);
      expect(stateFile(stack).pending).toEqual([]);
      // The killed update never finished, so the history has only the run that did.
      expect((await stackUpdates(stack)).map((u) => u.result)).toEqual(['succeeded']);
    },
    ENGINE_WAIT_MS * 2,
  );
});

describe('kill -9 of the service five times while a burst is provisioned', () => {
  let stack: VoiceStackFixture;
  const started: ServiceProcess[] = [];
  beforeAll(async () => {
    stack = await newVoiceStack('e2e-kill-five', { testRings: false });
  });
  afterAll(async () => {
    for (const service of started) await service.stop().catch(() => undefined);
    await killProcesses(leftBy(started).map((p) => p.pid));
    await stack?.close();
  });

  test(
    'every process a dead run left is ended, and no church loses a retry attempt to the crashes',
    async () => {
      const config = serviceConfig(stack, mailpit);
      const churches = ['602', '480', '623'].map((areaCode) => ({
        areaCode,
        churchId: uniqueId(`burst-${areaCode}`).toLowerCase(),
      }));
      stack.telnyx.setLatency(400);
      const leftAtEachKill: number[] = [];
      for (let kill = 1; kill <= 5; kill++) {
        const service = await ServiceProcess.start(stack, config);
        started.push(service);
        if (kill === 1) {
          for (const church of churches) {
            const answer = await service.deliver(
              subscriptionEvent({ subscriptionId: uniqueId('sub'), churchName: `Burst ${church.areaCode}`, ...church }),
            );
            expect(answer.json()).toMatchObject({ outcome: 'queued' });
          }
        }
        // Mid-run: the engine and at least one provider process are up for this service's run.
        await until(`run ${kill}'s provider process`, () => providersOf(service).length >= 1);
        process.kill(-service.pid, 'SIGKILL');
        await service.exited();
        leftAtEachKill.push(leftBy([service]).length);
      }
      // Each kill left processes behind (what recovery is for)...
      expect(leftAtEachKill.every((n) => n >= 1)).toBe(true);

      stack.telnyx.setLatency(0);
      const last = await ServiceProcess.start(stack, config);
      started.push(last);
      for (const church of churches) {
        expect(await last.waitForState(church.churchId, ['live', 'failed'])).toMatchObject({ state: 'live' });
      }
      // ...and the restart ended every one of them, and nothing of anyone else's.
      expect(leftBy(started.slice(0, -1))).toEqual([]);
      expect(isRunning(last.pid)).toBe(true);

      // A run that died with its process is not the church's failed attempt: each job succeeded on attempt 1.
      const jobs = await stack.db.pool.query<{ church_id: string; attempts: number; state: string }>(
        'select church_id, attempts, state from provisioning_jobs where church_id = any($1) order by church_id',
        [churches.map((c) => c.churchId)],
      );
      expect(jobs.rows.map((j) => ({ state: j.state, attempts: j.attempts }))).toEqual(
        churches.map(() => ({ state: 'succeeded', attempts: 1 })),
      );
      expect(stack.telnyx.state.numberOrders.size).toBe(churches.length);
    },
    ENGINE_WAIT_MS * 3,
  );
});

/**
 * The run's dynamic-provider processes once they serve (node running Pulumi's dynamic-provider host), not the
 * wrapper script that is still starting one: that one dies with the run that started it.
 */
function providersOf(service: ServiceProcess): number[] {
  return processesOf(service).filter((pid) => {
    const argv = readProcess(pid)?.argv ?? [];
    return (
      argv.some((arg) => /[\\/]@pulumi[\\/]pulumi[\\/]cmd[\\/]dynamic-provider[\\/]/.test(arg)) && !argv.includes('-e')
    );
  });
}

/** Processes of this live service's runs (they carry its marker). */
function processesOf(service: ServiceProcess): number[] {
  const marker = `${RUN_HOST_ENV}=${service.pid}:`;
  return fs
    .readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((entry) => {
      try {
        return fs
          .readFileSync(`/proc/${entry}/environ`, 'utf8')
          .split('\0')
          .some((v) => v.startsWith(marker));
      } catch {
        return false;
      }
    })
    .map(Number);
}
