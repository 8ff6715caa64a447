/** `./dev sandbox start|stop|status|env`: the local sandbox from a terminal. */
import { sandboxStatus, sandboxVendorEnv, startSandbox, stopSandbox } from './sandbox';

async function main(command: string): Promise<void> {
  const say = (line: string) => console.log(`[sandbox] ${line}`);
  switch (command) {
    case 'start': {
      const sandbox = await startSandbox(say);
      say('ready; `./dev sandbox env` prints the engine environment for it');
      void sandbox;
      return;
    }
    case 'stop':
      await stopSandbox(say);
      return;
    case 'status':
      console.table(await sandboxStatus());
      return;
    case 'env': {
      const sandbox = await startSandbox();
      for (const [key, value] of Object.entries(sandboxVendorEnv(sandbox))) console.log(`export ${key}=${JSON.stringify(value)}`);
      return;
    }
    default:
      throw new Error(`unknown sandbox command ${JSON.stringify(command)}: use start, stop, status or env`);
  }
}

main(process.argv[2] ?? 'status').then(
  () => process.exit(0),
  (error) => {
    console.error(`[sandbox] ${error instanceof Error ? error.message : error}`);
    process.exit(1);
  },
);
