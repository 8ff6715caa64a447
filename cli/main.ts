#!/usr/bin/env node
/**
 * `churchwise`: the founder's one command line (`npx churchwise ...` after `npm run build`; `./dev <command>` in a
 * checkout, which adds the sandbox for `--stack dev`).
 *
 *   churchwise church provision|status|decommission --church <id> ...   the registry and the queue
 *   churchwise drift|doctor|ring|lines [--stack <name>] ...              checks on a stack's lines
 *   churchwise fleet stacks|preview|up|drift|doctor|lines|shard ...     the same across every stack of the fleet
 */
import { ConfigError } from '../webhook/config';
import { ChurchNotFoundError, RegistryInputError } from '../registry';
import { CHURCH_USAGE, runChurchCommand } from './church-commands';
import { FLEET_COMMANDS, FLEET_USAGE, runFleetCommand } from './fleet-commands';
import { UsageError } from './usage';
import { WHOLE_FLEET_USAGE, runWholeFleetCommand } from './whole-fleet-commands';

export const USAGE = ['usage: churchwise <command> ...', CHURCH_USAGE, FLEET_USAGE, WHOLE_FLEET_USAGE].join('\n');

/** Runs one command line; resolves to the process exit code. */
export async function main(argv: string[], out?: (text: string) => void): Promise<number> {
  const [command, ...rest] = argv;
  if (command === 'church') return runChurchCommand(rest);
  if (command === 'fleet') return runWholeFleetCommand(rest, out);
  if ((FLEET_COMMANDS as readonly string[]).includes(command ?? '')) return runFleetCommand(argv, out);
  throw new UsageError(USAGE);
}

/** What the founder reads when a command cannot run: the reason, never a stack trace. */
export function explain(error: unknown): string {
  if (error instanceof UsageError) return error.message;
  if (error instanceof RegistryInputError) return `refused: ${error.message}`;
  if (error instanceof ConfigError) return `configuration error: ${error.message}`;
  if (error instanceof ChurchNotFoundError) return error.message;
  return `error: ${error instanceof Error ? error.message : String(error)}`;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error) => {
      process.stderr.write(`${explain(error)}\n`);
      process.exit(1);
    },
  );
}
