/**
 * `./dev sandbox start|stop|status|env`: the local sandbox from a terminal.
 *
 * `env` starts whatever is not running yet, makes sure the dev stack exists in its file backend, and prints
 * `export K='V'` lines (single-quoted, safe for eval) so that, after `eval "$(./dev sandbox env)"`, a shell runs
 * `pulumi stack select dev`, `pulumi preview` and `pulumi up` from the project root against the sandbox, and the
 * project's own commands (`./dev church`, `./dev drift`, ...) on the dev stack. Progress goes to stderr.
 */
import { DEV_STACK, devStackEnvironment, ensureDevStack, sandboxStatus, startSandbox, stopSandbox } from './sandbox';

/** A shell word for `value`: single-quoted, so nothing in it ($, `, \, ") is expanded by eval. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * The environment as `export` lines for eval. PATH is printed as the project's tool folders in front of the
 * shell's own "$PATH" (expanded by the shell that evals it, not frozen at this process's PATH).
 */
export function renderShellEnvironment(env: Record<string, string>, inheritedPath = process.env.PATH ?? ''): string {
  const lines = [
    '# The local sandbox\'s dev stack, for this shell: eval "$(./dev sandbox env)", then from the project root',
    "# `pulumi stack select dev && pulumi preview` (or `pulumi up`). Every value is the sandbox's own:",
    `# PULUMI_CONFIG_PASSPHRASE is the sandbox's throw-away passphrase of the dev stack's state ` +
      `(${DEV_STACK.backendUrl}),`,
    '# and the vendor keys open only its loopback peers. No production secret is printed here.',
  ];
  for (const [key, value] of Object.entries(env)) {
    if (key === 'PATH') {
      // engineEnvironment() puts the tool folders in front of this process's PATH: keep only that front part.
      const front =
        inheritedPath && value.endsWith(`:${inheritedPath}`) ? value.slice(0, -inheritedPath.length - 1) : value;
      lines.push(`export PATH=${shellQuote(front)}"\${PATH:+:$PATH}"`);
    } else {
      lines.push(`export ${key}=${shellQuote(value)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

async function main(command: string): Promise<void> {
  const say = (line: string) => console.log(`[sandbox] ${line}`);
  switch (command) {
    case 'start': {
      const sandbox = await startSandbox(say);
      if (await ensureDevStack(devStackEnvironment(sandbox))) say(`dev stack created in ${DEV_STACK.backendUrl}`);
      say(
        'ready; `eval "$(./dev sandbox env)"` sets up a shell for pulumi on the dev stack, ' +
          '`./dev service` runs the webhook service',
      );
      return;
    }
    case 'stop':
      await stopSandbox(say);
      return;
    case 'status':
      console.table(await sandboxStatus());
      return;
    case 'env': {
      // stdout is what the shell evals: progress goes to stderr.
      const sandbox = await startSandbox((line) => process.stderr.write(`[sandbox] ${line}\n`));
      const env = devStackEnvironment(sandbox);
      await ensureDevStack(env);
      process.stdout.write(renderShellEnvironment(env));
      return;
    }
    default:
      throw new Error(`unknown sandbox command ${JSON.stringify(command)}: use start, stop, status or env`);
  }
}

if (require.main === module) {
  main(process.argv[2] ?? 'status').then(
    () => process.exit(0),
    (error) => {
      console.error(`[sandbox] ${error instanceof Error ? error.message : error}`);
      process.exit(1);
    },
  );
}
