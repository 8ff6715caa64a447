/**
 * The assembled service: logger, registry pool, HTTP routes, provisioning worker and founder-email delivery.
 * webhook/main.ts runs it with the real stack runner; tests run it with their own runner and log collector.
 */
import type { FastifyInstance } from 'fastify';
import { Pool } from 'pg';
import type { Logger } from 'pino';
import type { StackRunner } from '../stacks/provisioning-run';
import { secretValues, type ServiceConfig } from './config';
import { smtpFounderMailer, type FounderMailer } from '../vendors/smtp-client';
import { FounderNotifier } from '../worker/founder-mail';
import { createLogger, secretScrubber } from '../common/logger';
import { buildServer } from './server';
import type { TelnyxClient } from '../vendors/telnyx-client';
import type { VoiceStackOptions } from '../engine/voice-stack';
import { serviceConsoleActions } from './console/actions';
import { ProvisioningWorker, type WorkerOptions } from '../worker/provisioning-worker';

export interface ServiceOptions {
  /** Runs the base stack. */
  runner: StackRunner;
  /** Runs a shard stack (stacks/provisioning-run.ts fleetRunners). */
  runnerFor?: (stackName: string) => StackRunner;
  /** Log lines go here instead of stdout (tests read them back). */
  logDestination?: { write(line: string): unknown };
  mailer?: FounderMailer;
  /** Worker timing: tests shorten the gather window and the poll. */
  worker?: Pick<WorkerOptions, 'gatherMs' | 'pollIntervalMs' | 'workerId' | 'now'>;
  notifier?: { retryPollMs: number; retryBaseMs: number; retryMaxMs: number };
  /** The Telnyx client of the pastor's pages (tests: the fixture's stand-in); default from TELNYX_* settings. */
  telnyx?: () => TelnyxClient;
  /** The stack the founder console's actions open (drift check, ring); without it the console is not served. */
  consoleStack?: VoiceStackOptions;
}

export interface Service {
  app: FastifyInstance;
  worker: ProvisioningWorker;
  notifier: FounderNotifier;
  pool: Pool;
  logger: Logger;
  /** Starts the worker and the email delivery, then listens; returns the address. */
  start(): Promise<string>;
  /** Stops listening, lets the current stack run finish (or aborts it), closes the pool. */
  close(options?: { abortRun?: boolean }): Promise<void>;
}

export function createService(config: ServiceConfig, options: ServiceOptions): Service {
  const secrets = secretValues(config);
  const logger = createLogger({ level: config.logLevel, secrets, destination: options.logDestination });
  const pool = new Pool({ connectionString: config.databaseUrl, max: 10 });
  pool.on('error', (error) => logger.error({ err: error }, 'idle registry connection failed'));
  const mailer =
    options.mailer ?? smtpFounderMailer({ smtpUrl: config.smtpUrl, from: config.mailFrom, to: config.founderEmail });
  const notifier = new FounderNotifier(pool, mailer, logger, options.notifier);
  const worker = new ProvisioningWorker({
    pool,
    runner: options.runner,
    runnerFor: options.runnerFor,
    logger,
    stackName: config.stackName,
    retry: config.retry,
    quarantineDays: config.quarantineDays,
    scrub: secretScrubber(secrets),
    onFounderNotification: () => notifier.wake(),
    ...options.worker,
  });
  const app = buildServer({
    config,
    pool,
    logger,
    onJobQueued: () => worker.wake(),
    onFounderNotification: () => notifier.wake(),
    telnyx: options.telnyx,
    console:
      options.consoleStack &&
      serviceConsoleActions({
        pool,
        stack: options.consoleStack,
        worker,
        registryDatabaseUrl: config.databaseUrl,
        scrub: secretScrubber(secrets),
      }),
  });
  if (config.voicePlans.lookupKeys.length === 0 && config.voicePlans.productIds.length === 0) {
    logger.warn(
      'VOICE_PRICE_LOOKUP_KEYS and VOICE_PRODUCT_IDS are empty: only metadata plan=voice* marks a voice plan',
    );
  }
  return {
    app,
    worker,
    notifier,
    pool,
    logger,
    async start() {
      // Listen first: a process that cannot take requests (port in use) must not start claiming jobs either.
      const address = await app.listen({ host: config.host, port: config.port });
      notifier.start();
      worker.start();
      return address;
    },
    async close(closeOptions = {}) {
      await app.close();
      await worker.stop(closeOptions);
      await notifier.stop();
      await pool.end();
    },
  };
}
