/**
 * Production runs compiled JavaScript with plain node: `npm run build`, then `node dist/webhook/main.js`. Here the
 * build is made, the service started from it (no ts-node, no TypeScript compiler in the process), and a signed
 * purchase provisions a line end to end through the real engine, with the providers running the build too.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import type { MailpitConnection } from '../../sandbox/mailpit';
import { REPO_ROOT } from '../../sandbox/processes';
import { newVoiceStack, type VoiceStackFixture } from '../support/voice-stack';
import {
  ENGINE_WAIT_MS,
  ServiceProcess,
  ensureMailpit,
  serviceConfig,
  subscriptionEvent,
  uniqueId,
} from '../support/service';

const { freshBuild } = require('../../common/compiled-build.js') as {
  freshBuild: (root: string) => string | undefined;
};

let mailpit: MailpitConnection;
let stack: VoiceStackFixture;
let service: ServiceProcess | undefined;

beforeAll(async () => {
  // The build the test runs is made from the sources as they are (a stale one would never be run).
  execFileSync(process.execPath, [path.join(REPO_ROOT, 'scripts', 'build.js')], { cwd: REPO_ROOT, stdio: 'pipe' });
  mailpit = await ensureMailpit();
  stack = await newVoiceStack('e2e-compiled', { testRings: true });
}, ENGINE_WAIT_MS);

afterAll(async () => {
  await service?.stop();
  await stack?.close();
});

test(
  'the service built by npm run build provisions a line with plain node',
  async () => {
    expect(freshBuild(REPO_ROOT)).toBe(path.join(REPO_ROOT, 'dist'));
    service = await ServiceProcess.start(stack, serviceConfig(stack, mailpit), {}, { compiled: true });

    // Plain node on the compiled entry point: nothing of ts-node or the TypeScript compiler is loaded.
    const argv = fs.readFileSync(`/proc/${service.pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    expect(argv.slice(1)).toEqual([path.join(REPO_ROOT, 'dist', 'webhook', 'main.js')]);
    expect(service.records('webhook service listening')[0]).toMatchObject({ code: 'compiled' });

    const churchId = uniqueId('compiled').toLowerCase();
    const accepted = await service.deliver(
      subscriptionEvent({ subscriptionId: uniqueId('sub'), churchId, areaCode: '615', churchName: 'Built Nashville' }),
    );
    expect(accepted.json()).toMatchObject({ outcome: 'queued' });
    const status = await service.waitForState(churchId, ['live', 'failed']);
    expect(status).toMatchObject({
      state: 'live',
      phoneNumber: expect.stringMatching(/^\+1615\d{7}$/),
      lastRing: { ok: true },
    });
    expect(stack.telnyx.state.numberOrders.size).toBe(1);
  },
  ENGINE_WAIT_MS,
);
