/**
 * `./dev church|drift|doctor|ring|lines|fleet ...`: the founder's CLI (cli/main.ts) in a checkout. On the dev stack
 * (`--stack dev`, or PULUMI_STACK=dev) the sandbox is started first and its environment (the one
 * `./dev sandbox env` prints: backend, passphrase, loopback vendors, registry) is handed to the CLI; any other stack
 * runs with the environment as it is. Production runs cli/main.ts itself and never loads this file.
 */
import { explain, main } from '../cli/main';
import { devStackEnvironment, startSandbox } from './sandbox';

function targetsDevStack(argv: string[]): boolean {
  const flag = argv.indexOf('--stack');
  const named = flag >= 0 ? argv[flag + 1] : argv.find((a) => a.startsWith('--stack='))?.slice('--stack='.length);
  return (named ?? process.env.PULUMI_STACK) === 'dev';
}

async function run(argv: string[]): Promise<number> {
  if (targetsDevStack(argv)) {
    const sandbox = await startSandbox((line) => process.stderr.write(`${line}\n`));
    Object.assign(process.env, devStackEnvironment(sandbox));
  }
  return main(argv);
}

run(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`${explain(error)}\n`);
    process.exit(1);
  },
);
