/**
 * Helpers for tests that drive the real Pulumi CLI and engine: a fresh work folder with its own file backend,
 * the offline engine environment, and a runner for CLI commands that returns what a user would see.
 */
import { execFile } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { engineEnvironment, pulumiBinary } from '../../stacks/engine-environment';
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

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function pulumi(args: string[], options: { cwd: string; env: Record<string, string>; timeoutMs?: number }): Promise<CliResult> {
  if (!fs.existsSync(pulumiBinary())) {
    throw new Error(`the Pulumi CLI is not built (${pulumiBinary()}): run scripts/tools.sh`);
  }
  return new Promise((resolve) => {
    execFile(
      pulumiBinary(),
      [...args, '--non-interactive'],
      { cwd: options.cwd, env: options.env, timeout: options.timeoutMs ?? 300_000, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof (error as any).code === 'number' ? (error as any).code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** The newest checkpoint of a stack in a file backend, as text (to search it for leaked secrets). */
export function stateFileText(workDir: WorkDir, project: string, stack: string): string {
  const file = path.join(workDir.dir, 'state', '.pulumi', 'stacks', project, `${stack}.json`);
  return fs.readFileSync(file, 'utf8');
}
