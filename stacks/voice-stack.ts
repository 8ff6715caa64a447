import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { LocalWorkspace, PulumiCommand, Stack } from '@pulumi/pulumi/automation';
import { voiceLinesProgram } from '../infra/program';
import { REPO_ROOT, TOOLS_DIR, isAlive } from '../sandbox/processes';
import { EngineEnvironmentOptions, engineEnvironment } from './engine-environment';

export const PROJECT_NAME = 'churchwise-voice';

export interface VoiceStackOptions extends EngineEnvironmentOptions {
  /** `prod`, `dev`, or a test's own stack. */
  stackName: string;
  /** Folder with Pulumi.yaml and Pulumi.<stack>.yaml; default: this repository. */
  workDir?: string;
  /** The registry the program reads (an inline program does not see the engine's environment). */
  registryDatabaseUrl?: string;
}

/**
 * Opens the stack with the program of infra/ run inline: the same function `pulumi up` runs from infra/index.ts,
 * with the same Pulumi.yaml and stack config, but without a language host process to start on every run.
 */
export async function openVoiceStack(options: VoiceStackOptions): Promise<Stack> {
  const pulumiCommand = await PulumiCommand.get({ root: TOOLS_DIR });
  const { registryDatabaseUrl } = options;
  return LocalWorkspace.createOrSelectStack(
    { stackName: options.stackName, projectName: PROJECT_NAME, program: () => voiceLinesProgram({ registryDatabaseUrl }) },
    { workDir: options.workDir ?? REPO_ROOT, envVars: engineEnvironment(options), pulumiCommand },
  );
}

export interface RecoveryReport {
  /** Lock files of dead engine processes that were removed. */
  staleLocksRemoved: string[];
  /** Pending operations (creates/updates/deletes cut short by a crash) cleared from the state. */
  pendingOperationsCleared: Array<{ type: string; urn: string }>;
}

function localBackendDir(backendUrl: string | undefined): string | undefined {
  if (!backendUrl?.startsWith('file://')) return undefined;
  const dir = backendUrl.slice('file://'.length).replace(/^~(?=\/)/, os.homedir());
  return dir;
}

function lockFiles(backendDir: string, stackName: string): string[] {
  const root = path.join(backendDir, '.pulumi', 'locks');
  if (!fs.existsSync(root)) return [];
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.json') && path.basename(dir) === stackName && full.includes(`${path.sep}${PROJECT_NAME}${path.sep}`)) {
        found.push(full);
      }
    }
  };
  walk(root);
  return found;
}

/**
 * Makes a stack runnable again after a process died in the middle of an update (kill -9, OOM, deploy):
 * - removes the local backend's lock when the engine that holds it is dead on this host (a live one is left
 *   alone: it is still working, and the caller will get ConcurrentUpdateError and retry later);
 * - clears pending operations from the state. That is safe here because every create of ours is idempotent
 *   (a number is found again by its customer_reference, a row by its church id), so the next `up` re-runs
 *   the create and adopts what the interrupted one made instead of buying a second number.
 */
export async function recoverStack(stack: Stack, options: VoiceStackOptions): Promise<RecoveryReport> {
  const report: RecoveryReport = { staleLocksRemoved: [], pendingOperationsCleared: [] };
  const backendDir = localBackendDir(options.backendUrl ?? process.env.PULUMI_BACKEND_URL);
  if (backendDir) {
    for (const file of lockFiles(backendDir, options.stackName)) {
      const lock = JSON.parse(fs.readFileSync(file, 'utf8')) as { pid?: number; hostname?: string };
      const sameHost = !lock.hostname || lock.hostname === os.hostname();
      if (sameHost && lock.pid && !isAlive(lock.pid)) {
        fs.rmSync(file, { force: true });
        report.staleLocksRemoved.push(file);
      }
    }
  }
  const state = await stack.exportStack();
  const pending = (state.deployment?.pending_operations ?? []) as Array<{ type: string; resource: { urn: string } }>;
  if (pending.length > 0) {
    report.pendingOperationsCleared = pending.map((op) => ({ type: op.type, urn: op.resource.urn }));
    await stack.importStack({ ...state, deployment: { ...state.deployment, pending_operations: [] } });
  }
  return report;
}
