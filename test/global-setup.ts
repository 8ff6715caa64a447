/**
 * Runs once before the suite: refuses a Node too old for @pulumi/pulumi and supabase-js, then starts every
 * sandbox peer (each start is idempotent and serialized across processes), so no test waits on a cold start and a
 * missing peer fails here with the message that says what to install.
 */
import { startSandbox } from '../sandbox/sandbox';

export default async function globalSetup(): Promise<void> {
  const major = Number(process.versions.node.split('.')[0]);
  if (major < 22) {
    throw new Error(
      `Node ${process.versions.node} is too old (need >= 22): run scripts/tools.sh, then ` +
        '`eval "$(scripts/tools.sh --print)"` to put Node 24 first on PATH (./dev test does both)',
    );
  }
  await startSandbox((line) => process.stdout.write(`[sandbox] ${line}\n`));
}
