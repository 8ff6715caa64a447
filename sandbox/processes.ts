/**
 * Starting and stopping the sandbox's daemons: each runs detached with its log and pid file under `.sandbox/`,
 * so the sandbox outlives the command that started it and `sandbox stop` (or a new start) finds it again.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import * as lockfile from 'proper-lockfile';
import { PROJECT_ROOT } from '../common/project';

/** The repository (the sandbox is development machinery and lives in it). */
export const REPO_ROOT = PROJECT_ROOT;
export const SANDBOX_DIR = process.env.CHURCHWISE_SANDBOX_DIR ?? path.join(REPO_ROOT, '.sandbox');
export const TOOLS_DIR =
  process.env.VOICE_TOOLS_DIR ?? path.join(process.env.HOME ?? '/root', '.cache', 'churchwise-voice-tools');

/** Absolute path of a tool built by scripts/tools.sh, or an error that says how to get it. */
export function toolPath(name: string): string {
  const candidates = [
    path.join(TOOLS_DIR, 'bin', name),
    ...(process.env.PATH ?? '').split(':').map((d) => path.join(d, name)),
  ];
  const found = candidates.find((p) => fs.existsSync(p));
  if (!found) {
    throw new Error(`${name} is not installed: run scripts/tools.sh (it builds or installs every peer the tests need)`);
  }
  return found;
}

export interface Daemon {
  /** Short name; also the base name of the log and pid files. */
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Loopback TCP port that accepts connections once the daemon is ready. */
  port: number;
  readyTimeoutMs?: number;
  /**
   * Runs under the start lock, before the check-and-start: writes a config file, creates a data directory, or stops
   * an instance started from an outdated config. Another process starting the same daemon waits until it is done.
   */
  prepare?: () => void | Promise<void>;
}

const DEFAULT_READY_TIMEOUT_MS = 30000;
const START_LOCK_POLL_MS = 100;

export function logFile(name: string): string {
  return path.join(SANDBOX_DIR, 'logs', `${name}.log`);
}

function pidFile(name: string): string {
  return path.join(SANDBOX_DIR, 'run', `${name}.pid`);
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function portOpen(port: number, host = '127.0.0.1', timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export async function waitForPort(port: number, timeoutMs: number, what: string, log?: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await portOpen(port)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  const tail =
    log && fs.existsSync(log)
      ? `\n--- last lines of ${log} ---\n${fs.readFileSync(log, 'utf8').split('\n').slice(-20).join('\n')}`
      : '';
  throw new Error(`${what} did not open 127.0.0.1:${port} within ${timeoutMs} ms${tail}`);
}

/** Pid of a running daemon started by this sandbox, if any. */
export function runningPid(name: string): number | undefined {
  const file = pidFile(name);
  if (!fs.existsSync(file)) return undefined;
  const pid = Number(fs.readFileSync(file, 'utf8').trim());
  return pid && isAlive(pid) ? pid : undefined;
}

/**
 * Several jest workers (and other sandbox users) may start the same daemon at the same moment. Without a lock two
 * of them see the port closed, both spawn it (or both run its prepare step, e.g. initdb on one directory), the
 * loser exits on "address in use" and its pid file overwrites the winner's. One lock file per daemon name
 * serializes the check-and-start across processes; a waiter gets the lock once the holder's daemon is up (or has
 * failed), then finds it running.
 */
async function withStartLock<T>(name: string, holdMs: number, body: () => Promise<T>): Promise<T> {
  const target = path.join(SANDBOX_DIR, 'run', `${name}.start`);
  fs.mkdirSync(path.dirname(target), { recursive: true });
  fs.closeSync(fs.openSync(target, 'a'));
  const waitMs = holdMs * 2;
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(target, {
      // The holder refreshes the lock while it lives; one that died leaves it stale after this long.
      stale: waitMs,
      retries: {
        retries: Math.ceil(waitMs / START_LOCK_POLL_MS),
        minTimeout: START_LOCK_POLL_MS,
        maxTimeout: START_LOCK_POLL_MS * 2,
        factor: 1,
      },
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ELOCKED') throw error;
    throw new Error(
      `could not start ${name}: another process has held its start lock ${target} for over ${waitMs} ms`,
      {
        cause: error,
      },
    );
  }
  try {
    return await body();
  } finally {
    await release();
  }
}

/**
 * Starts the daemon unless it already runs (or something already serves its port); waits until its port opens.
 * Serialized across processes by the daemon's name (see withStartLock), its prepare step included.
 */
export async function startDaemon(daemon: Daemon): Promise<'started' | 'running'> {
  const readyTimeoutMs = daemon.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
  return withStartLock(daemon.name, readyTimeoutMs, async () => {
    await daemon.prepare?.();
    return startUnlocked(daemon, readyTimeoutMs);
  });
}

async function startUnlocked(daemon: Daemon, readyTimeoutMs: number): Promise<'started' | 'running'> {
  if (runningPid(daemon.name) || (await portOpen(daemon.port))) {
    await waitForPort(daemon.port, readyTimeoutMs, daemon.name, logFile(daemon.name));
    return 'running';
  }
  fs.mkdirSync(path.dirname(logFile(daemon.name)), { recursive: true });
  fs.mkdirSync(path.dirname(pidFile(daemon.name)), { recursive: true });
  const out = fs.openSync(logFile(daemon.name), 'a');
  const child = spawn(daemon.command, daemon.args, {
    cwd: daemon.cwd ?? REPO_ROOT,
    env: { ...process.env, ...daemon.env },
    detached: true,
    stdio: ['ignore', out, out],
  });
  fs.closeSync(out);
  if (child.pid === undefined) throw new Error(`could not start ${daemon.name} (${daemon.command})`);
  fs.writeFileSync(pidFile(daemon.name), String(child.pid));
  child.unref();
  let exited: number | null = null;
  child.once('exit', (code) => (exited = code ?? -1));
  const deadline = Date.now() + readyTimeoutMs;
  while (Date.now() < deadline) {
    if (await portOpen(daemon.port)) return 'started';
    if (exited !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const tail = fs.readFileSync(logFile(daemon.name), 'utf8').split('\n').slice(-20).join('\n');
  throw new Error(
    `${daemon.name} ${exited !== null ? `exited with code ${exited}` : 'did not become ready'} ` +
      `(port ${daemon.port}); last lines of ${logFile(daemon.name)}:\n${tail}`,
  );
}

/** Stops a daemon started by startDaemon: SIGTERM to its process group, SIGKILL after a grace period. */
export async function stopDaemon(name: string, graceMs = 5000): Promise<boolean> {
  const pid = runningPid(name);
  fs.rmSync(pidFile(name), { force: true });
  if (!pid) return false;
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig);
    } catch {
      try {
        process.kill(pid, sig);
      } catch {
        /* already gone */
      }
    }
  };
  signal('SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && isAlive(pid)) await new Promise((r) => setTimeout(r, 100));
  if (isAlive(pid)) signal('SIGKILL');
  return true;
}
