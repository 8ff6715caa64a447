/**
 * Runs once before the suite: refuses a Node too old for @pulumi/pulumi and supabase-js, then starts every
 * sandbox peer (each start is idempotent and serialized across processes), so no test waits on a cold start and a
 * missing peer fails here with the message that says what to install.
 */
import * as fs from 'fs';
import * as path from 'path';
import { REPO_ROOT } from '../sandbox/processes';
import { startSandbox } from '../sandbox/sandbox';

/** Test stacks' folders (state, logs) of earlier runs; a run in progress elsewhere is younger than this. */
const STALE_WORK_MS = 6 * 60 * 60 * 1000;

function removeStaleTestWork(): void {
  const root = path.join(REPO_ROOT, '.test-work');
  if (!fs.existsSync(root)) return;
  for (const entry of fs.readdirSync(root)) {
    const dir = path.join(root, entry);
    if (Date.now() - fs.statSync(dir).mtimeMs > STALE_WORK_MS) fs.rmSync(dir, { recursive: true, force: true });
  }
}

export default async function globalSetup(): Promise<void> {
  const major = Number(process.versions.node.split('.')[0]);
  if (major < 22) {
    throw new Error(
      `Node ${process.versions.node} is too old (need >= 22): run scripts/tools.sh, then ` +
        '`eval "$(scripts/tools.sh --print)"` to put Node 24 first on PATH (./dev test does both)',
    );
  }
  removeStaleTestWork();
  await startSandbox((line) => process.stdout.write(`[sandbox] ${line}\n`));
}
