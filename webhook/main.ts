/**
 * Runs the webhook service: `node_modules/.bin/ts-node --transpile-only webhook/main.ts` with the environment of
 * webhook/config.ts (ENVIRONMENT documents every variable). Applies pending registry migrations, then serves
 * HTTP and works the provisioning queue with the real stack runner (stacks/provisioning-run.ts).
 * Start it with node/ts-node itself, not through `npx`/`npm run`: those do not pass SIGTERM on, and the graceful
 * stop (finish the current stack run, then exit) needs it.
 */
import { migrate } from '../db/migrate';
import { fleetRunners } from '../stacks/provisioning-run';
import { ConfigError, loadConfig, voiceStackOptions } from './config';
import { createService } from './service';

async function main(): Promise<void> {
  const config = loadConfig();
  const stack = voiceStackOptions(config);
  const { runner, runnerFor } = fleetRunners(stack);
  const service = createService(config, { runner, runnerFor, consoleStack: stack });
  const migrations = await migrate(service.pool);
  service.logger.info(
    { applied: migrations.applied, alreadyApplied: migrations.alreadyApplied.length },
    'registry schema up to date',
  );
  const address = await service.start();
  // `code` says what runs: the compiled build (npm run build, plain node) or the TypeScript through ts-node.
  service.logger.info(
    { address, stack: config.stackName, code: __filename.endsWith('.js') ? 'compiled' : 'typescript' },
    'webhook service listening',
  );

  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    service.logger.info({ signal }, 'shutting down: letting the current stack run finish');
    service.close().then(
      () => process.exit(0),
      (error) => {
        service.logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((error) => {
  // Configuration errors name the variable; nothing else is printed (no secret is in these messages).
  console.error(
    error instanceof ConfigError
      ? `configuration error: ${error.message}`
      : `webhook service failed to start: ${(error as Error).message}`,
  );
  process.exit(1);
});
