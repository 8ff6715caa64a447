/**
 * Helpers for tests that drive the real Pulumi CLI and engine: a fresh work folder with its own file backend,
 * the offline engine environment, and a runner for CLI commands that returns what a user would see.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { engineEnvironment } from '../../stacks/engine-environment';
import { runPulumi } from '../../stacks/pulumi-cli';
import { REPO_ROOT } from '../../sandbox/processes';

/** Not a secret: it only encrypts throw-away test stacks. */
export const TEST_PASSPHRASE = 'test-passphrase-for-throwaway-stacks';

export interface WorkDir {
  dir: string;
  backendUrl: string;
  env(vendorEnv?: Record<string, string>): Record<string, string>;
}

/** A folder under .test-work/ (inside the repo, so the provider shim finds the project) with its own backend. */
export function newWorkDir(name: string): WorkDir {
  const dir = path.join(REPO_ROOT, '.test-work', `${name}-${crypto.randomBytes(4).toString('hex')}`);
  fs.mkdirSync(path.join(dir, 'state'), { recursive: true });
  const backendUrl = `file://${path.join(dir, 'state')}`;
  return {
    dir,
    backendUrl,
    env: (vendorEnv = {}) => ({
      ...(process.env as Record<string, string>),
      ...engineEnvironment({ backendUrl, passphrase: TEST_PASSPHRASE, vendorEnv }),
    }),
  };
}

export type { CliResult } from '../../stacks/pulumi-cli';

export function pulumi(args: string[], options: { cwd: string; env: Record<string, string>; timeoutMs?: number }) {
  return runPulumi(args, options);
}

/** The newest checkpoint of a stack in a file backend, as text (to search it for leaked secrets). */
export function stateFileText(workDir: WorkDir, project: string, stack: string): string {
  const file = path.join(workDir.dir, 'state', '.pulumi', 'stacks', project, `${stack}.json`);
  return fs.readFileSync(file, 'utf8');
}
