/**
 * What a killed Automation API host (the webhook service, the founder's CLI) leaves running, found through /proc.
 * Seen on the real CLI (test/webhook/restart.alone.test.ts):
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
import { sleep } from '../common/timing';

export interface ProcessInfo {
  pid: number;
  ppid: number;
  /** Process group: a kill of a whole group (`kill -- -pgid`) reaches only the processes that share it. */
  pgrp: number;
  /** Kernel state letter: R, S, D, T (stopped), Z (zombie: dead, waiting to be reaped)... */
  state: string;
  /** Clock ticks after boot when it started: with the pid, what tells this process from a later one with its pid. */
  startTime: number;
  argv: string[];
}

const PROC = '/proc';

/** The process as /proc shows it; undefined when it is gone or /proc is not there. */
export function readProcess(pid: number): ProcessInfo | undefined {
  try {
    const stat = fs.readFileSync(path.join(PROC, String(pid), 'stat'), 'utf8');
    // `pid (comm) state ppid ...`: comm may contain spaces and parentheses, so parse after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const argv = fs
      .readFileSync(path.join(PROC, String(pid), 'cmdline'), 'utf8')
      .split('\0')
      .filter(Boolean);
    // Fields from the state on: state(3) ppid(4) pgrp(5) ... starttime(22), see proc(5).
    return {
      pid,
      ppid: Number(fields[1]),
      pgrp: Number(fields[2]),
      state: fields[0],
      startTime: Number(fields[19]),
      argv,
    };
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

function environment(pid: number): Map<string, string> | undefined {
  try {
    const entries = fs
      .readFileSync(path.join(PROC, String(pid), 'environ'), 'utf8')
      .split('\0')
      .filter(Boolean);
    return new Map(entries.map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]));
  } catch {
    return undefined; // another user's process: not ours to judge
  }
}

/**
 * Every process a run starts (the engine, the language host, each provider) inherits this variable from the
 * engine's environment: `<host pid>:<host start time>` of the process that ran the Automation API. It is how
 * recovery finds ALL that a dead host left, wherever those processes run from (providers run in infra/, an inline
 * engine in the repo root) and whatever their parents became, and never touches a process it did not start: a
 * process whose host still runs, or that carries no marker, is someone else's.
 */
export const RUN_HOST_ENV = 'CHURCHWISE_RUN_HOST';

/** This process's marker, handed to every engine it starts. */
export function runHostMarker(pid: number = process.pid): string {
  const info = procAvailable() ? readProcess(pid) : undefined;
  return `${pid}:${info?.startTime ?? 0}`;
}

/** Whether the process that a marker names is still the same live process. */
export function markerHostAlive(marker: string): boolean {
  const [pidText, startText] = marker.split(':');
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (!isRunning(pid)) return false;
  if (!procAvailable()) return true;
  return readProcess(pid)?.startTime === Number(startText);
}

/**
 * Processes started by runs whose host is dead (killed, crashed, OOM): engines, language hosts, providers. Only
 * ours (the marker), only of dead hosts, never this process or its own children.
 */
export function processesOfDeadHosts(): Array<ProcessInfo & { host: string }> {
  if (!procAvailable()) return [];
  const found: Array<ProcessInfo & { host: string }> = [];
  const alive = new Map<string, boolean>();
  for (const entry of fs.readdirSync(PROC)) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    const host = environment(pid)?.get(RUN_HOST_ENV);
    if (!host) continue;
    if (!alive.has(host)) alive.set(host, markerHostAlive(host));
    if (alive.get(host)) continue;
    const info = readProcess(pid);
    if (!info || info.state === 'Z' || info.ppid === process.pid) continue;
    found.push({ ...info, host });
  }
  return found;
}

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
