/**
 * Helpers for tests that drive the real Pulumi CLI and engine: a fresh work folder with its own file backend,
 * the offline engine environment, a runner for CLI commands that returns what a user would see, and a stack of an
 * inline program (Automation API) pointed at the sandbox's vendors.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { LocalWorkspace, PulumiCommand, type PulumiFn, type Stack } from '@pulumi/pulumi/automation';
import { settingsEnvironment, type VendorSettings } from '../../vendors/vendor-settings';
import { engineEnvironment, pulumiBinary } from '../../engine/engine-environment';
import { runPulumi } from '../../engine/pulumi-cli';
import { REPO_ROOT, TOOLS_DIR } from '../../sandbox/processes';

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

export type { CliResult } from '../../engine/pulumi-cli';

export function pulumi(args: string[], options: { cwd: string; env: Record<string, string>; timeoutMs?: number }) {
  return runPulumi(args, options);
}

/** The newest checkpoint of a stack in a file backend, as text (to search it for leaked secrets). */
export function stateFileText(workDir: WorkDir, project: string, stack: string): string {
  const file = path.join(workDir.dir, 'state', '.pulumi', 'stacks', project, `${stack}.json`);
  return fs.readFileSync(file, 'utf8');
}

/**
 * A stack named `test` of an inline program, in a fresh work folder, run by the Pulumi CLI scripts/tools.sh built.
 * The providers read the vendors' settings from the engine's environment, as in production from the stack config.
 */
export async function inlineStack(options: {
  /** Names the work folder. */
  name: string;
  projectName: string;
  program: PulumiFn;
  vendors?: VendorSettings;
}): Promise<{ stack: Stack; work: WorkDir }> {
  if (!fs.existsSync(pulumiBinary()))
    throw new Error(`the Pulumi CLI is not built (${pulumiBinary()}): run scripts/tools.sh`);
  const work = newWorkDir(options.name);
  const stack = await LocalWorkspace.createOrSelectStack(
    { stackName: 'test', projectName: options.projectName, program: options.program },
    {
      workDir: work.dir,
      envVars: work.env(settingsEnvironment(options.vendors ?? {})),
      pulumiCommand: await PulumiCommand.get({ root: TOOLS_DIR }),
    },
  );
  return { stack, work };
}

/** The engine's own error text (check failures, provider errors, init-failure reasons) from a run that must fail. */
export async function failedRun(run: Promise<unknown>): Promise<string> {
  const error = await run.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeDefined();
  return String((error as Error).message);
}
