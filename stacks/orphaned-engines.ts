/**
 * What a killed Automation API host (the webhook service, the founder's CLI) leaves running, found through /proc.
 * Seen on the real CLI (test/webhook-e2e/restart.test.ts):
 * - the `pulumi up` it spawned for the inline program usually exits within a second of losing its host (it cannot
 *   reach the program any more), but it may live on while it finishes a step, holding the stack's lock;
 * - the provider plugins that engine spawned run in their own process groups (so even a kill of the service's
 *   whole process group misses them), never exit by themselves, and may still be in the middle of a vendor call
 *   (a number order) when the service restarts.
 * Neither can do anything useful any more: their host, the only one who could read their results, is gone.
 * Without /proc (not Linux) nothing is found and a live lock holder is treated as a concurrent run.
 */
import * as fs from 'fs';
import * as path from 'path';

export interface ProcessInfo {
  pid: number;
  ppid: number;
  /** Kernel state letter: R, S, D, T (stopped), Z (zombie: dead, waiting to be reaped)... */
  state: string;
  argv: string[];
}

const PROC = '/proc';

/** The process as /proc shows it; undefined when it is gone or /proc is not there. */
export function readProcess(pid: number): ProcessInfo | undefined {
  try {
    const stat = fs.readFileSync(path.join(PROC, String(pid), 'stat'), 'utf8');
    // `pid (comm) state ppid ...`: comm may contain spaces and parentheses, so parse after the last ')'.
    const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const argv = fs.readFileSync(path.join(PROC, String(pid), 'cmdline'), 'utf8').split('\0').filter(Boolean);
    return { pid, ppid: Number(ppid), state, argv };
  } catch {
    return undefined;
  }
}

export function procAvailable(): boolean {
  return fs.existsSync(path.join(PROC, 'self', 'stat'));
}

/** Alive and not a zombie (a zombie answers kill(pid, 0) but will never run again). */
export function isRunning(pid: number): boolean {
  if (procAvailable()) {
    const info = readProcess(pid);
    return info !== undefined && info.state !== 'Z' && info.state !== 'X';
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The pulumi CLI binary itself (the engine), not a plugin or a language host. */
export function isPulumiEngine(info: ProcessInfo): boolean {
  return path.basename(info.argv[0] ?? '') === 'pulumi';
}

/** An engine started by the Automation API for an inline program: useless once its host is gone. */
export function isInlineProgramEngine(info: ProcessInfo): boolean {
  const kind = info.argv.indexOf('--exec-kind');
  return info.argv.some((arg) => arg.startsWith('--client=')) || (kind >= 0 && info.argv[kind + 1] === 'auto.inline');
}

/**
 * Its parent died (the process was re-parented to init or a reaper). A child of this very process is never an
 * orphan, even when this process is PID 1 in a container.
 */
export function isOrphan(info: ProcessInfo): boolean {
  if (info.ppid === process.pid) return false;
  return info.ppid <= 1 || !isRunning(info.ppid);
}

/** A provider or language plugin an engine starts (`pulumi-resource-*`, the nodejs dynamic-provider host...). */
function isPlugin(info: ProcessInfo): boolean {
  const [exe, script] = info.argv;
  return (
    path.basename(exe ?? '').startsWith('pulumi-') ||
    /[\\/]@pulumi[\\/]pulumi[\\/]cmd[\\/]dynamic-provider[\\/]/.test(script ?? '')
  );
}

function environment(pid: number): Map<string, string> | undefined {
  try {
    const entries = fs.readFileSync(path.join(PROC, String(pid), 'environ'), 'utf8').split('\0').filter(Boolean);
    return new Map(entries.map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]));
  } catch {
    return undefined; // another user's process: not ours to judge
  }
}

/**
 * Plugins of a dead engine that worked on this project in this folder and backend. An engine hands its plugins
 * PULUMI_PROJECT and its own environment (the backend URL among it) and starts them in the program's folder.
 */
export function orphanedPlugins(workspace: { workDir: string; project: string; backendUrl?: string }): ProcessInfo[] {
  if (!procAvailable()) return [];
  const found: ProcessInfo[] = [];
  for (const entry of fs.readdirSync(PROC)) {
    if (!/^\d+$/.test(entry)) continue;
    const info = readProcess(Number(entry));
    if (!info || info.pid === process.pid || info.state === 'Z' || !isPlugin(info) || !isOrphan(info)) continue;
    const env = environment(info.pid);
    if (!env || env.get('PULUMI_PROJECT') !== workspace.project) continue;
    if (workspace.backendUrl !== undefined && env.get('PULUMI_BACKEND_URL') !== workspace.backendUrl) continue;
    let cwd: string | undefined;
    try {
      cwd = fs.realpathSync(path.join(PROC, entry, 'cwd'));
    } catch {
      continue;
    }
    if (cwd !== fs.realpathSync(workspace.workDir)) continue;
    found.push(info);
  }
  return found;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until none of the pids runs any more; returns those still running at the deadline. */
export async function waitForExit(pids: number[], timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  let running = pids.filter(isRunning);
  while (running.length > 0 && Date.now() < deadline) {
    await sleep(100);
    running = running.filter(isRunning);
  }
  return running;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
}

/**
 * Ends an engine whose host is dead: first it gets `graceMs` to finish on its own (it normally exits at once),
 * then SIGINT, on which pulumi cancels and saves its checkpoint (SIGCONT first, in case it was stopped), then
 * SIGKILL. Resolves once it no longer runs.
 */
export async function stopOrphanedEngine(pid: number, graceMs: number): Promise<'exited' | 'interrupted' | 'killed'> {
  if ((await waitForExit([pid], graceMs)).length === 0) return 'exited';
  signal(pid, 'SIGCONT');
  signal(pid, 'SIGINT');
  if ((await waitForExit([pid], graceMs)).length === 0) return 'interrupted';
  signal(pid, 'SIGKILL');
  const left = await waitForExit([pid], 10_000);
  if (left.length) throw new Error(`engine process ${pid} survived SIGKILL; the stack stays locked until it is gone`);
  return 'killed';
}

/** Kills plugins of a dead engine (they keep no state of their own) and waits until they are gone. */
export async function killProcesses(pids: number[]): Promise<void> {
  for (const pid of pids) signal(pid, 'SIGKILL');
  const left = await waitForExit(pids, 10_000);
  if (left.length) throw new Error(`processes ${left.join(', ')} survived SIGKILL`);
}
