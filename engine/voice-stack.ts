import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { LocalWorkspace, PulumiCommand, Stack } from '@pulumi/pulumi/automation';
import { voiceLinesProgram } from '../infra/program';
import type { ProgramOverrides } from '../infra/settings';
import { PROJECT_ROOT } from '../common/project';
import { EngineEnvironmentOptions, engineEnvironment, pulumiBinary } from './engine-environment';
import {
  isInlineProgramEngine,
  isOrphan,
  isPulumiEngine,
  isRunning,
  killProcesses,
  processesOfDeadHosts,
  runHostMarker,
  RUN_HOST_ENV,
  procAvailable,
  readProcess,
  stopOrphanedEngine,
} from './orphaned-processes';
import { sleep } from '../common/timing';
import { ensureShardStackConfig } from './shard-stack-config';

export const PROJECT_NAME = 'churchwise-voice';

export interface VoiceStackOptions extends EngineEnvironmentOptions, RecoveryTiming {
  /** `prod`, `dev`, or a test's own stack. */
  stackName: string;
  /** Folder with Pulumi.yaml and Pulumi.<stack>.yaml; default: this repository. */
  workDir?: string;
  /** The registry the program reads (an inline program does not see the engine's environment). */
  registryDatabaseUrl?: string;
}

let pulumiCommand: Promise<PulumiCommand> | undefined;
let hostMarker: string | undefined;

/** The project's CLI, checked once per process (PulumiCommand.get runs `pulumi version` on every call). */
function projectPulumiCommand(): Promise<PulumiCommand> {
  pulumiCommand ??= PulumiCommand.get({ root: path.dirname(path.dirname(pulumiBinary())) }).catch((error) => {
    pulumiCommand = undefined;
    throw error;
  });
  return pulumiCommand;
}

/**
 * Opens the stack with the program of infra/ run inline: the same function `pulumi up` runs from infra/index.ts,
 * with the same Pulumi.yaml and stack config, but without a language host process to start on every run.
 */
export async function openVoiceStack(
  options: VoiceStackOptions,
  run: Pick<ProgramOverrides, 'onlyChurchIds' | 'previousLines'> = {},
): Promise<Stack> {
  const pulumiCommand = await projectPulumiCommand();
  const { registryDatabaseUrl } = options;
  ensureShardStackConfig(options.workDir ?? PROJECT_ROOT, options.stackName);
  return LocalWorkspace.createOrSelectStack(
    {
      stackName: options.stackName,
      projectName: PROJECT_NAME,
      program: () => voiceLinesProgram({ registryDatabaseUrl, ...run }),
    },
    {
      workDir: options.workDir ?? PROJECT_ROOT,
      // The marker every process of the run inherits: recovery after a crash finds them all by it.
      envVars: {
        ...engineEnvironment(options),
        // The providers' registry (test rings take their outbound call slots there);
        // the inline program gets it directly.
        ...(registryDatabaseUrl ? { REGISTRY_DATABASE_URL: registryDatabaseUrl } : {}),
        [RUN_HOST_ENV]: (hostMarker ??= runHostMarker()),
      },
      pulumiCommand,
    },
  );
}

export interface RecoveryReport {
  /** Lock files of dead engine processes that were removed. */
  staleLocksRemoved: string[];
  /** Engines whose Automation API host died, ended before this run (pid and how they ended). */
  orphanedEnginesStopped: Array<{ pid: number; ended: 'exited' | 'interrupted' | 'killed' }>;
  /**
   * Language hosts and providers of dead hosts' runs, killed before this run so none of them still talks
   * to a vendor.
   */
  orphanedPluginsKilled: number[];
  /** Pending operations (creates/updates/deletes cut short by a crash) cleared from the state. */
  pendingOperationsCleared: Array<{ type: string; urn: string }>;
  /** A live engine of another run holds the stack: recovery touched nothing, the caller must try later. */
  busy?: { pid: number; hostname?: string; since?: string };
}

export interface RecoveryTiming {
  /** How long an orphaned engine gets to finish by itself, and again after SIGINT (default 10 s each). */
  orphanGraceMs?: number;
  /**
   * After a crash with creates in flight, how long to wait before running again: a vendor may still carry out a
   * request the dead run had on the wire (a number order), and the idempotent create can only find what the
   * vendor has already recorded. Default 30 s, the vendor clients' request timeout.
   */
  inFlightSettleMs?: number;
  /**
   * A lock taken on another host cannot be checked for a live engine. After this long it is stale (no update takes
   * an hour; a container restarted under a new hostname leaves its lock behind). Default 1 h.
   */
  foreignLockStaleMs?: number;
}

export const DEFAULT_ORPHAN_GRACE_MS = 10_000;
export const DEFAULT_IN_FLIGHT_SETTLE_MS = 30_000;
export const DEFAULT_FOREIGN_LOCK_STALE_MS = 60 * 60_000;

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
      else if (
        entry.name.endsWith('.json') &&
        path.basename(dir) === stackName &&
        full.includes(`${path.sep}${PROJECT_NAME}${path.sep}`)
      ) {
        found.push(full);
      }
    }
  };
  walk(root);
  return found;
}

interface CheckpointOnDisk {
  pending_operations?: unknown[];
  resources?: Array<{ type: string; outputs?: { lines?: unknown } }>;
}

/**
 * A file backend's latest checkpoint of the stack, read from disk (no CLI process); undefined when it cannot be read
 * from the file (not there yet, compressed, being rewritten): the caller then asks the CLI.
 */
function checkpointOnDisk(backendDir: string | undefined, stackName: string): CheckpointOnDisk | undefined {
  if (!backendDir) return undefined;
  try {
    const file = path.join(backendDir, '.pulumi', 'stacks', PROJECT_NAME, `${stackName}.json`);
    const saved = JSON.parse(fs.readFileSync(file, 'utf8')) as { checkpoint?: { latest?: CheckpointOnDisk } };
    return saved.checkpoint ? (saved.checkpoint.latest ?? {}) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The stack's `lines` output as its last update left it: from a file backend's checkpoint on disk, else from
 * `pulumi stack output`. A run for some churches keeps the others' lines from it.
 */
export async function previousLines(options: VoiceStackOptions, stack: () => Promise<Stack>): Promise<unknown[]> {
  const checkpoint = checkpointOnDisk(
    localBackendDir(options.backendUrl ?? process.env.PULUMI_BACKEND_URL),
    options.stackName,
  );
  if (checkpoint) {
    const root = checkpoint.resources?.find((r) => r.type === 'pulumi:pulumi:Stack');
    return Array.isArray(root?.outputs?.lines) ? root.outputs.lines : [];
  }
  const outputs = await (await stack()).outputs();
  return (outputs.lines?.value as unknown[] | undefined) ?? [];
}

interface LockHolder {
  pid?: number;
  hostname?: string;
  timestamp?: string;
}

function readLock(file: string): LockHolder | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as LockHolder;
  } catch {
    return undefined; // removed meanwhile (the engine finished) or half-written: nothing to judge
  }
}

/**
 * Makes a stack runnable again after a process died in the middle of an update (kill -9, OOM, deploy), and never
 * interferes with a run that is still legitimately going on:
 * - the local backend's lock: held by a dead process (or a pid now used by something that is not pulumi) it is
 *   removed; held by an engine whose Automation API host died, that engine is given time to finish, then
 *   interrupted, then killed, and its lock removed; held by any other live engine on this host, or by another
 *   host (unless older than `foreignLockStaleMs`), the stack is `busy` and nothing at all is touched;
 * - every other process a dead host's runs left (found by the RUN_HOST_ENV marker they inherit: engines, language
 *   hosts, providers, wherever they run from) is ended, so no request of the dead run can still reach a vendor
 *   while the next run starts; processes of live hosts and unmarked ones are never touched;
 * - pending operations are cleared from the state. A create that was in flight is re-run by the next `up`; the
 *   number's create is idempotent (it finds an order or number by the church's customer_reference, after waiting
 *   `inFlightSettleMs` for the vendor to record what was on the wire), and so is the row's (an upsert by church).
 *   LiveKit trunk and rule creates look first for what a cut-short attempt made (livekit-client.ts createOnce).
 */
export async function recoverStack(stack: Stack, options: VoiceStackOptions): Promise<RecoveryReport> {
  const report: RecoveryReport = {
    staleLocksRemoved: [],
    orphanedEnginesStopped: [],
    orphanedPluginsKilled: [],
    pendingOperationsCleared: [],
  };
  const backendUrl = options.backendUrl ?? process.env.PULUMI_BACKEND_URL;
  const backendDir = localBackendDir(backendUrl);
  const graceMs = options.orphanGraceMs ?? DEFAULT_ORPHAN_GRACE_MS;
  let crashFound = false;
  if (backendDir) {
    for (const file of lockFiles(backendDir, options.stackName)) {
      const lock = readLock(file);
      if (!lock) continue;
      if (lock.hostname && lock.hostname !== os.hostname()) {
        const age = lock.timestamp ? Date.now() - Date.parse(lock.timestamp) : NaN;
        if (!(age > (options.foreignLockStaleMs ?? DEFAULT_FOREIGN_LOCK_STALE_MS))) {
          report.busy = { pid: lock.pid ?? 0, hostname: lock.hostname, since: lock.timestamp };
          return report;
        }
      }
      const foreign = lock.hostname !== undefined && lock.hostname !== os.hostname();
      const holder = lock.pid && !foreign ? readProcess(lock.pid) : undefined;
      const holderRuns =
        !foreign &&
        lock.pid !== undefined &&
        isRunning(lock.pid) &&
        (!procAvailable() || (holder !== undefined && isPulumiEngine(holder)));
      if (holderRuns && holder && isInlineProgramEngine(holder) && isOrphan(holder)) {
        const ended = await stopOrphanedEngine(holder.pid, graceMs);
        report.orphanedEnginesStopped.push({ pid: holder.pid, ended });
      } else if (holderRuns) {
        report.busy = { pid: lock.pid!, hostname: lock.hostname, since: lock.timestamp };
        return report;
      }
      // The holder is gone: an engine that ended cleanly removed its lock itself; otherwise it is stale.
      if (fs.existsSync(file)) {
        fs.rmSync(file, { force: true });
        fs.rmSync(`${file}.attrs`, { force: true }); // the file backend's metadata beside it
        report.staleLocksRemoved.push(file);
      }
      crashFound = true;
    }
  }
  // Everything else a dead host's runs left (their engines first, which may still be saving a checkpoint, then the
  // language hosts and providers, which never exit by themselves and may be mid-call to a vendor).
  const leftovers = processesOfDeadHosts();
  for (const engine of leftovers.filter(isPulumiEngine)) {
    report.orphanedEnginesStopped.push({ pid: engine.pid, ended: await stopOrphanedEngine(engine.pid, graceMs) });
  }
  const plugins = leftovers.filter((p) => !isPulumiEngine(p) && isRunning(p.pid));
  if (plugins.length > 0) {
    await killProcesses(plugins.map((p) => p.pid));
    report.orphanedPluginsKilled = plugins.map((p) => p.pid);
  }
  if (leftovers.length > 0) crashFound = true;
  // Nothing pending in the file backend's checkpoint: no `pulumi stack export` (a CLI run that reads and decrypts
  // the whole state, 0.3-0.7 s at 200 churches) before every run.
  const onDisk = checkpointOnDisk(backendDir, options.stackName);
  if (onDisk && (onDisk.pending_operations ?? []).length === 0) return report;
  const state = await stack.exportStack();
  const pending = (state.deployment?.pending_operations ?? []) as Array<{ type: string; resource: { urn: string } }>;
  if (pending.length > 0) {
    report.pendingOperationsCleared = pending.map((op) => ({ type: op.type, urn: op.resource.urn }));
    if (crashFound && pending.some((op) => op.type === 'creating')) {
      await sleep(options.inFlightSettleMs ?? DEFAULT_IN_FLIGHT_SETTLE_MS);
    }
    await stack.importStack({ ...state, deployment: { ...state.deployment, pending_operations: [] } });
  }
  return report;
}
