/**
 * The webhook service on a bench stack, in its own process (webhook/main.ts, as production runs it, pointed at
 * the bench stack's folder, backend and vendors through its environment), and what the bench does with it: sign
 * and post Stripe purchases, wait until the churches' jobs are settled, count the stack runs the worker started.
 */
import { randomBytes } from 'crypto';
import { listJobs, type ProvisioningJob } from '../registry/jobs';
import { ensureMailpit } from '../sandbox/mailpit';
import { signedDelivery, subscriptionEvent, uniqueId, VOICE_LOOKUP_KEY } from '../test/support/stripe-events';
import type { BenchStack } from './bench-stack';
import { startBenchChild, type BenchChild } from './child-process';
import type { MemoryReport } from './process-memory';

export interface RunTimeline {
  /** POST -> the worker starts the stack run (the gather pause, claiming the job). */
  queuedMs: number;
  /** Run start -> the engine's first output line (open stack, recover, CLI start-up, program and plugins). */
  engineStartMs?: number;
  /** Run start -> each engine line naming one of the church's resources as done, e.g. `church-x-number created`. */
  resourceDoneMs: Record<string, number>;
  /** Run start -> run end (open + recover + up + outputs). */
  runMs: number;
  /** Run end -> the job settled as live. */
  settleMs?: number;
}

interface LogRecord {
  /** Epoch ms (the service logs ISO time; parsed here). */
  time: number;
  msg: string;
  runId?: string;
  churches?: string[];
  churchId?: string;
}

function records(lines: string[]): LogRecord[] {
  return lines.flatMap((line) => {
    try {
      const record = JSON.parse(line) as LogRecord & { time: string | number };
      return [{ ...record, time: typeof record.time === 'number' ? record.time : Date.parse(record.time) }];
    } catch {
      return [];
    }
  });
}

export interface BenchWebhookService {
  child: BenchChild;
  url: string;
  /** Posts a signed customer.subscription.created for a voice plan; resolves with the HTTP status. */
  purchase(church: { churchId: string; name: string; areaCode: string }): Promise<number>;
  /** Resolves once every church has a settled job (succeeded or failed) created at or after `since`. */
  settled(churchIds: string[], since: Date, timeoutMs: number): Promise<ProvisioningJob[]>;
  /** Stack runs the worker carried out (succeeded or failed) from log line index `from` on. */
  runsCompleted(from?: number): number;
  /** Where the time of a church's purchase went, from the service's log (line index `from` on). */
  timeline(churchId: string, postedAt: number, from?: number): RunTimeline | undefined;
  stop(): Promise<MemoryReport>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function startBenchWebhookService(stack: BenchStack): Promise<BenchWebhookService> {
  const mail = await ensureMailpit();
  const secret = `whsec_${randomBytes(24).toString('hex')}`;
  const child = startBenchChild('webhook/main.ts', {
    ...stack.options.vendorEnv,
    PULUMI_WORK_DIR: stack.options.workDir!,
    PULUMI_BACKEND_URL: stack.options.backendUrl!,
    PULUMI_CONFIG_PASSPHRASE: stack.options.passphrase!,
    DATABASE_URL: stack.fixture.db.url,
    STRIPE_WEBHOOK_SECRET: secret,
    ADMIN_TOKEN: randomBytes(32).toString('hex'),
    SMTP_URL: mail.smtpUrl,
    FOUNDER_EMAIL: 'founder+bench@churchwise.test',
    VOICE_PRICE_LOOKUP_KEYS: VOICE_LOOKUP_KEY,
    HOST: '127.0.0.1',
    PORT: '0',
    PULUMI_STACK: stack.options.stackName,
    // A failed attempt is retried soon, so a flaky ring shows as a slower line instead of a stalled bench.
    PROVISION_RETRY_BASE_SECONDS: '2',
    PROVISION_RETRY_MAX_SECONDS: '10',
    LOG_LEVEL: 'info',
  });
  const listening = await child.waitForLine(/"msg":"webhook service listening"/, 120_000);
  const url = (JSON.parse(listening) as { address: string }).address;
  const pool = stack.fixture.db.pool;

  return {
    child,
    url,
    purchase: async (church) => {
      const event = subscriptionEvent({
        subscriptionId: uniqueId('sub'),
        churchId: church.churchId,
        areaCode: church.areaCode,
        churchName: church.name,
      });
      const { payload, headers } = signedDelivery(event, secret);
      const response = await fetch(`${url}/stripe/webhook`, { method: 'POST', headers, body: payload });
      await response.arrayBuffer();
      return response.status;
    },
    settled: async (churchIds, since, timeoutMs) => {
      const deadline = Date.now() + timeoutMs;
      const wanted = new Set(churchIds);
      for (;;) {
        const jobs = (await listJobs(pool)).filter(
          (j) => wanted.has(j.churchId) && j.createdAt >= new Date(since.getTime() - 1000),
        );
        const done = jobs.filter((j) => j.state === 'succeeded' || j.state === 'failed');
        if (done.length >= wanted.size) return done;
        if (Date.now() > deadline) {
          throw new Error(
            `${done.length} of ${wanted.size} purchases settled within ${timeoutMs} ms; ` +
              `service stderr:\n${child.stderr()}`,
          );
        }
        await sleep(100);
      }
    },
    runsCompleted: (from = 0) =>
      records(child.lines.slice(from)).filter((r) => r.msg === 'stack run succeeded' || r.msg === 'stack run failed')
        .length,
    timeline: (churchId, postedAt, from = 0) => {
      const log = records(child.lines.slice(from));
      const start = log.find((r) => r.msg === 'stack run starting' && r.churches?.includes(churchId));
      if (!start?.runId) return undefined;
      const ofRun = log.filter((r) => r.runId === start.runId);
      const end = ofRun.find((r) => r.msg === 'stack run succeeded' || r.msg === 'stack run failed');
      const engineLines = ofRun.filter((r) => r !== start && r !== end && !r.msg.startsWith('stack run'));
      const live = log.find((r) => r.msg === 'church line live' && r.churchId === churchId);
      const resourceDoneMs: Record<string, number> = {};
      const done = new RegExp(`(church-${churchId}-[a-z]+) (created|updated)`);
      for (const line of engineLines) {
        const match = done.exec(line.msg);
        if (match) resourceDoneMs[match[1].slice(`church-${churchId}-`.length)] = line.time - start.time;
      }
      return {
        queuedMs: start.time - postedAt,
        engineStartMs: engineLines[0] ? engineLines[0].time - start.time : undefined,
        resourceDoneMs,
        runMs: (end?.time ?? Date.now()) - start.time,
        settleMs: end && live ? live.time - end.time : undefined,
      };
    },
    stop: () => child.stop(),
  };
}
