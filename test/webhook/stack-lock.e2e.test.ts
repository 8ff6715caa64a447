/**
 * A stack lock the service cannot judge: one taken on another host (the file backend on a shared volume, or a
 * container that came back under a new hostname). While it is fresh the stack is busy: nothing runs, the queued
 * church keeps its attempts and is not failed, and it goes live once the lock is gone. A lock older than any
 * update (1 h) is stale and removed.
 */
import { randomUUID } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import type { MailpitConnection } from '../../sandbox/mailpit';
import { listJobs } from '../../registry/jobs';
import { PROJECT_NAME } from '../../engine/voice-stack';
import { TEST_STACK, newVoiceStack, type VoiceStackFixture } from '../support/voice-stack';
import {
  ENGINE_WAIT_MS,
  ensureMailpit,
  startInProcessService,
  subscriptionEvent,
  uniqueId,
  type InProcessService,
} from '../support/service';

let mailpit: MailpitConnection;
let stack: VoiceStackFixture;
let svc: InProcessService;

beforeAll(async () => {
  mailpit = await ensureMailpit();
  stack = await newVoiceStack('e2e-foreign-lock', { testRings: false });
  svc = await startInProcessService(stack, mailpit);
});

afterAll(async () => {
  await svc?.close();
  await stack?.close();
});

/** A lock file as the file backend writes it, from an engine on another host. */
function foreignLock(startedAt: Date): string {
  const dir = path.join(stack.work.dir, 'state', '.pulumi', 'locks', 'organization', PROJECT_NAME, TEST_STACK);
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${randomUUID()}.json`);
  fs.writeFileSync(
    file,
    JSON.stringify({
      pid: 4242,
      username: 'deploy',
      hostname: 'webhook-7f9c-old-pod',
      timestamp: startedAt.toISOString(),
    }),
  );
  return file;
}

async function until(what: string, probe: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ENGINE_WAIT_MS;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${ENGINE_WAIT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

test(
  'a fresh lock of another host: nothing runs and no attempt is spent; the church goes live once the lock is gone',
  async () => {
    const lock = foreignLock(new Date());
    const churchId = uniqueId('waiting').toLowerCase();
    await svc.deliver(
      subscriptionEvent({ subscriptionId: uniqueId('sub'), churchId, areaCode: '414', churchName: 'Waiting' }),
    );
    // The worker looks again every poll; each time it finds the stack busy and gives the job back.
    await until('three looks at a busy stack', () => svc.runner.results.filter((r) => r.busy).length >= 3);
    expect(svc.runner.runs).toBe(0);
    expect((await svc.status(churchId)).json()).toMatchObject({ state: 'queued', attempts: 0, lastError: null });
    expect(fs.existsSync(lock)).toBe(true);
    expect(stack.telnyx.state.numberOrders.size).toBe(0);

    fs.rmSync(lock); // the other host's update finished
    await svc.service.worker.whenIdle();
    expect((await svc.status(churchId)).json()).toMatchObject({ state: 'live', attempts: 1 });
    expect(svc.runner.runs).toBe(1);
  },
  ENGINE_WAIT_MS,
);

test(
  'a lock of another host older than any update is stale: removed, and the run goes ahead',
  async () => {
    const lock = foreignLock(new Date(Date.now() - 2 * 60 * 60_000));
    const churchId = uniqueId('unblocked').toLowerCase();
    const runsBefore = svc.runner.runs;
    await svc.deliver(
      subscriptionEvent({ subscriptionId: uniqueId('sub'), churchId, areaCode: '918', churchName: 'Unblocked' }),
    );
    await svc.service.worker.whenIdle();
    expect((await svc.status(churchId)).json()).toMatchObject({ state: 'live', attempts: 1 });
    expect(fs.existsSync(lock)).toBe(false);
    expect(svc.runner.runs).toBe(runsBefore + 1);
    expect(svc.runner.results[svc.runner.results.length - 1].recovered).toMatchObject({ staleLocksRemoved: 1 });
    expect((await listJobs(stack.db.pool, { churchId })).map((j) => j.state)).toEqual(['succeeded']);
  },
  ENGINE_WAIT_MS,
);
