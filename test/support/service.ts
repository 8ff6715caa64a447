/**
 * The webhook service on a real stack (test/support/voice-stack.ts: its own registry database, Telnyx stand-in,
 * PostgREST and file backend; the shared livekit-server and livekit-sip bridge; the real pulumi CLI), with mailpit
 * as the founder's mailbox. The service runs either in this process (createService with the real
 * VoiceStackRunner, wrapped to count engine runs) or as its own process, `webhook/main.ts`, exactly as production
 * starts it, so a test can kill -9 it.
 */
import type { TelnyxClient } from '../../vendors/telnyx-client';
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { ensureMailpit, getMessage, messagesTo, type MailMessage, type MailpitConnection } from '../../sandbox/mailpit';
import { REPO_ROOT } from '../../sandbox/processes';
import { listFounderNotifications } from '../../registry/founder-notifications';
import { openVoiceStack, PROJECT_NAME } from '../../engine/voice-stack';
import { VoiceStackRunner, fleetRunners, type StackRunResult, type StackRunner } from '../../stacks/provisioning-run';
import type { ServiceConfig } from '../../webhook/config';
import { createService, type Service } from '../../webhook/service';
import { TEST_PASSPHRASE } from './engine';
import { TEST_STACK, type VoiceStackFixture } from './voice-stack';
import { LogCollector, signedDelivery, testConfig, type HttpResponse } from './stripe-events';

export { subscriptionEvent, uniqueId } from './stripe-events';

/** Bound on every wait for the engine: a run of a few churches takes seconds to a minute on the sandbox. */
export const ENGINE_WAIT_MS = 6 * 60_000;

/** The real runner, counting the engine runs that actually happened (a busy stack runs nothing). */
export class CountingRunner implements StackRunner {
  runs = 0;
  readonly results: StackRunResult[] = [];
  /** `tally`: another runner whose counts this one adds to as well (the fleet's, for a shard stack's runner). */
  constructor(
    private readonly inner: VoiceStackRunner,
    private readonly tally?: CountingRunner,
  ) {}

  async provision(opts: Parameters<StackRunner['provision']>[0]): Promise<StackRunResult> {
    const result = await this.inner.provision(opts);
    for (const counter of this.tally ? [this, this.tally] : [this]) {
      if (!result.busy) counter.runs += 1;
      counter.results.push(result);
    }
    return result;
  }

  churchResources(churchId: string) {
    return this.inner.churchResources(churchId);
  }
}

/** Updates recorded in the stack's history: the engine's own count of runs. */
export async function stackUpdates(stack: VoiceStackFixture): Promise<Array<{ message: string; result: string }>> {
  const history = await (await openVoiceStack(stack.options)).history();
  return history.filter((h) => h.kind === 'update').map((h) => ({ message: h.message, result: h.result }));
}

export function serviceConfig(
  stack: VoiceStackFixture,
  mailpit: MailpitConnection,
  overrides: Partial<ServiceConfig> = {},
): ServiceConfig {
  return testConfig(stack.db, mailpit, { stackName: TEST_STACK, workDir: stack.work.dir, ...overrides });
}

async function http(
  base: string,
  o: { method: string; url: string; payload?: string; headers?: Record<string, string> },
): Promise<HttpResponse> {
  const response = await fetch(`${base}${o.url}`, { method: o.method, headers: o.headers, body: o.payload });
  const body = await response.text();
  return { statusCode: response.status, headers: response.headers, body, json: () => JSON.parse(body) };
}

/** What a test does with a running service, wherever it runs. */
export class ServiceClient {
  constructor(
    readonly base: string,
    readonly config: ServiceConfig,
  ) {}

  deliver(event: unknown): Promise<HttpResponse> {
    const { payload, headers } = signedDelivery(event, this.config.stripeWebhookSecret);
    return http(this.base, { method: 'POST', url: '/stripe/webhook', payload, headers });
  }

  status(churchId: string): Promise<HttpResponse> {
    return http(this.base, {
      method: 'GET',
      url: `/churches/${churchId}/status`,
      headers: { authorization: `Bearer ${this.config.adminToken}` },
    });
  }

  provisionNumber(body: Record<string, unknown>): Promise<HttpResponse> {
    return http(this.base, {
      method: 'POST',
      url: '/admin/provision-number',
      payload: JSON.stringify(body),
      headers: { 'content-type': 'application/json', authorization: `Bearer ${this.config.adminToken}` },
    });
  }

  /** Polls the status route until the church's state is one of `states` (bounded by ENGINE_WAIT_MS). */
  async waitForState(churchId: string, states: string[]): Promise<Record<string, any>> {
    const deadline = Date.now() + ENGINE_WAIT_MS;
    let last: Record<string, any> | undefined;
    while (Date.now() < deadline) {
      const response = await this.status(churchId).catch(() => undefined);
      if (response?.statusCode === 200) {
        last = response.json();
        if (states.includes(last!.state)) return last!;
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    throw new Error(
      `church ${churchId} did not reach ${states.join('|')} within ${ENGINE_WAIT_MS} ms; last status ${JSON.stringify(last)}`,
    );
  }
}

export interface InProcessService extends ServiceClient {
  service: Service;
  runner: CountingRunner;
  logs: LogCollector;
  close(): Promise<void>;
}

/** createService with the real runner on the fixture's stack, listening on a free loopback port. */
export async function startInProcessService(
  stack: VoiceStackFixture,
  mailpit: MailpitConnection,
  overrides: Partial<ServiceConfig> = {},
  options: { now?: () => Date; telnyx?: () => TelnyxClient } = {},
): Promise<InProcessService> {
  const config = serviceConfig(stack, mailpit, overrides);
  const logs = new LogCollector();
  const runners = fleetRunners(stack.options);
  const runner = new CountingRunner(runners.runner);
  const shardRunners = new Map<string, CountingRunner>();
  const service = createService(config, {
    runner,
    // Shard stacks' runs are counted in the same runner's tally: "how many engine runs" is a fleet-wide question.
    runnerFor: (stackName) => {
      if (stackName === stack.options.stackName) return runner;
      let shardRunner = shardRunners.get(stackName);
      if (!shardRunner)
        shardRunners.set(stackName, (shardRunner = new CountingRunner(runners.runnerFor(stackName), runner)));
      return shardRunner;
    },
    logDestination: logs,
    worker: { gatherMs: 250, pollIntervalMs: 500, now: options.now },
    telnyx: options.telnyx,
    consoleStack: stack.options,
    notifier: { retryPollMs: 500, retryBaseMs: 100, retryMaxMs: 1000 },
  });
  const base = await service.start();
  const client = new ServiceClient(base, config) as InProcessService;
  return Object.assign(client, { service, runner, logs, close: () => service.close() });
}

/** The environment webhook/main.ts and the founder's CLI (cli/main.ts) read, for this config on this stack. */
export function serviceEnvironment(
  stack: VoiceStackFixture,
  config: ServiceConfig,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    ...(process.env as Record<string, string>),
    ...stack.vendorEnv,
    PULUMI_BACKEND_URL: stack.work.backendUrl,
    PULUMI_CONFIG_PASSPHRASE: TEST_PASSPHRASE,
    PULUMI_STACK: config.stackName,
    PULUMI_WORK_DIR: stack.work.dir,
    DATABASE_URL: config.databaseUrl,
    STRIPE_WEBHOOK_SECRET: config.stripeWebhookSecret,
    STRIPE_SECRET_KEY: config.stripeSecretKey ?? '',
    ADMIN_TOKEN: config.adminToken,
    SMTP_URL: config.smtpUrl,
    FOUNDER_EMAIL: config.founderEmail,
    VOICE_PRICE_LOOKUP_KEYS: config.voicePlans.lookupKeys.join(','),
    VOICE_PRODUCT_IDS: config.voicePlans.productIds.join(','),
    HOST: '127.0.0.1',
    PORT: '0',
    ...extra,
  };
}

const TS_NODE = require.resolve('ts-node/dist/bin.js');

/** webhook/main.ts as its own process group (as a service manager starts it), logging to a file. */
export class ServiceProcess extends ServiceClient {
  private constructor(
    base: string,
    config: ServiceConfig,
    readonly child: ChildProcess,
    readonly logFile: string,
  ) {
    super(base, config);
  }

  /**
   * Starts webhook/main.ts through ts-node, or with `compiled` the build in dist/ (`npm run build`) with plain node,
   * as production runs it.
   */
  static async start(
    stack: VoiceStackFixture,
    config: ServiceConfig,
    extraEnv: Record<string, string> = {},
    options: { compiled?: boolean } = {},
  ): Promise<ServiceProcess> {
    const logFile = path.join(stack.work.dir, `service-${Date.now()}.log`);
    const out = fs.openSync(logFile, 'a');
    const entry = options.compiled
      ? [path.join(REPO_ROOT, 'dist', 'webhook', 'main.js')]
      : [TS_NODE, '--transpile-only', path.join(REPO_ROOT, 'webhook', 'main.ts')];
    const child = spawn(process.execPath, entry, {
      cwd: REPO_ROOT,
      env: serviceEnvironment(stack, config, extraEnv),
      detached: true,
      stdio: ['ignore', out, out],
    });
    fs.closeSync(out);
    let exited: number | null = null;
    child.once('exit', (code) => (exited = code ?? -1));
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && exited === null) {
      const listening = readLog(logFile).find((r) => r.msg === 'webhook service listening');
      if (listening) return new ServiceProcess(String(listening.address), config, child, logFile);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    child.kill('SIGKILL');
    throw new Error(
      `webhook/main.ts did not start (exit ${exited}); log:\n${fs.readFileSync(logFile, 'utf8').slice(-3000)}`,
    );
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Parsed JSON log records (non-JSON lines, e.g. a crash trace, are skipped). */
  records(msg?: string): Array<Record<string, any>> {
    return readLog(this.logFile).filter((r) => msg === undefined || r.msg === msg);
  }

  /** Graceful stop (SIGTERM: the current run finishes) and waits for the exit. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGTERM');
    await exited;
  }

  /** Resolves once the process is gone (after a kill). */
  async exited(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    await new Promise((resolve) => this.child.once('exit', resolve));
  }
}

function readLog(file: string): Array<Record<string, any>> {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => {
      try {
        return JSON.parse(line) as Record<string, any>;
      } catch {
        return {};
      }
    });
}

/** `churchwise church ...` (cli/main.ts) with the service's environment; what it printed and its exit code. */
export function runCli(
  stack: VoiceStackFixture,
  config: ServiceConfig,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [TS_NODE, '--transpile-only', path.join(REPO_ROOT, 'cli', 'main.ts'), 'church', ...args],
      {
        cwd: REPO_ROOT,
        env: serviceEnvironment(stack, config),
      },
    );
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk) => stdout.push(chunk));
    child.stderr.on('data', (chunk) => stderr.push(chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), ENGINE_WAIT_MS);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout: Buffer.concat(stdout).toString(), stderr: Buffer.concat(stderr).toString() });
    });
  });
}

/** The founder's mailbox once the outbox has sent everything for the church (bounded wait). */
export async function founderMails(
  db: { pool: import('pg').Pool },
  config: ServiceConfig,
  churchId: string,
): Promise<MailMessage[]> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const notifications = await listFounderNotifications(db.pool, { churchId });
    if (notifications.length > 0 && notifications.every((n) => n.sentAt !== null)) break;
    if (Date.now() > deadline)
      throw new Error(`founder emails for ${churchId} were not sent within 60 s: ${JSON.stringify(notifications)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const summaries = (await messagesTo(config.founderEmail)).filter((m) => m.Subject.includes(churchId));
  return Promise.all(summaries.map((m) => getMessage(m.ID)));
}

/** The stack's state file as the file backend holds it (pending operations, resources). */
export function stateFile(stack: VoiceStackFixture): { pending: Array<{ type: string; urn: string }>; urns: string[] } {
  const file = path.join(stack.work.dir, 'state', '.pulumi', 'stacks', PROJECT_NAME, `${TEST_STACK}.json`);
  const latest = JSON.parse(fs.readFileSync(file, 'utf8')).checkpoint?.latest ?? {};
  return {
    pending: (latest.pending_operations ?? []).map((op: any) => ({ type: op.type, urn: op.resource.urn })),
    urns: (latest.resources ?? []).map((r: any) => r.urn),
  };
}

export { ensureMailpit };
