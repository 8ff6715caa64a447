/**
 * Peak memory and CPU time of a process and everything it starts (the Pulumi CLI, the dynamic-provider process,
 * sipp), sampled from /proc: each process's VmHWM (its own resident high-water mark, kept by the kernel) and its
 * CPU time are read every interval while it lives, and the sum of resident sizes across the tree is tracked as the
 * tree's peak. CPU seconds do not depend on what else the machine runs; wall time on a busy machine does.
 */
import * as fs from 'fs';

export type ProcessKind = 'host' | 'engine' | 'providers' | 'language-host' | 'sipp' | 'other';

export interface MemoryReport {
  /** Peak resident size of the root process (the webhook service or the engine-run host), MiB. */
  hostPeakMiB: number;
  /** Per kind: the largest peak of one process of that kind, and how many were seen. */
  byKind: Partial<Record<ProcessKind, { peakMiB: number; processes: number }>>;
  /** Largest sum of resident sizes of the whole tree at one sample, MiB. */
  treePeakMiB: number;
  /** CPU seconds (user + system) of every process of the tree, as last seen alive. */
  cpuSeconds: number;
  /** CPU seconds per kind. */
  cpuByKind: Partial<Record<ProcessKind, number>>;
  samples: number;
}

/** /proc reports CPU time in clock ticks of USER_HZ, which Linux fixes at 100 for user space. */
const TICKS_PER_SECOND = 100;

function readStatus(pid: number): { hwmKb: number; rssKb: number } | undefined {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
    return { hwmKb: field('VmHWM'), rssKb: field('VmRSS') };
  } catch {
    return undefined;
  }
}

function cpuTicks(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime: fields 14 and 15 of stat, 12 and 13 after the command name.
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}

function parentOf(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: fields after the last ')' are fixed.
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

/** Undefined when the command line cannot be read (a process exiting shows an empty one). */
function kindOf(pid: number, root: number): ProcessKind | undefined {
  if (pid === root) return 'host';
  let argv: string[];
  try {
    argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return undefined;
  }
  if (argv[0] === '') return undefined;
  const joined = argv.join(' ');
  if (joined.includes('dynamic-provider')) return 'providers';
  if (joined.includes('pulumi-language-nodejs') || joined.includes('cmd/run')) return 'language-host';
  if (argv[0].endsWith('/pulumi') || argv[0] === 'pulumi') return 'engine';
  if (argv[0].endsWith('sipp')) return 'sipp';
  return 'other';
}

/** Samples the tree under `rootPid` until stopped. */
export class ProcessTreeMemory {
  private timer?: NodeJS.Timeout;
  private readonly peaks = new Map<number, { kind: ProcessKind; hwmKb: number; ticks: number }>();
  private treePeakKb = 0;
  private samples = 0;

  constructor(
    private readonly rootPid: number,
    private readonly intervalMs = 100,
  ) {}

  start(): this {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
    return this;
  }

  stop(): MemoryReport {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    return this.report();
  }

  /** What was sampled so far (sampling goes on). */
  report(): MemoryReport {
    this.sample();
    const byKind: MemoryReport['byKind'] = {};
    const ticksByKind: Partial<Record<ProcessKind, number>> = {};
    let ticks = 0;
    for (const { kind, hwmKb, ticks: own } of this.peaks.values()) {
      const entry = (byKind[kind] ??= { peakMiB: 0, processes: 0 });
      entry.peakMiB = Math.max(entry.peakMiB, mib(hwmKb));
      entry.processes += 1;
      ticksByKind[kind] = (ticksByKind[kind] ?? 0) + own;
      ticks += own;
    }
    const cpuByKind = Object.fromEntries(
      Object.entries(ticksByKind).map(([kind, t]) => [kind, seconds(t)]),
    ) as MemoryReport['cpuByKind'];
    return {
      hostPeakMiB: mib(this.peaks.get(this.rootPid)?.hwmKb ?? 0),
      byKind,
      treePeakMiB: mib(this.treePeakKb),
      cpuSeconds: seconds(ticks),
      cpuByKind,
      samples: this.samples,
    };
  }

  private tree(): number[] {
    const children = new Map<number, number[]>();
    for (const entry of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const pid = Number(entry);
      const parent = parentOf(pid);
      if (parent === undefined) continue;
      const list = children.get(parent) ?? [];
      list.push(pid);
      children.set(parent, list);
    }
    const found: number[] = [];
    const queue = [this.rootPid];
    while (queue.length) {
      const pid = queue.shift()!;
      found.push(pid);
      queue.push(...(children.get(pid) ?? []));
    }
    return found;
  }

  private sample(): void {
    this.samples += 1;
    let treeKb = 0;
    for (const pid of this.tree()) {
      const status = readStatus(pid);
      if (!status) continue;
      const ticks = cpuTicks(pid) ?? 0;
      treeKb += status.rssKb;
      const known = this.peaks.get(pid);
      // Classified on every sample: a process seen between fork and exec still shows its parent's command line.
      const kind = kindOf(pid, this.rootPid);
      if (known) {
        known.hwmKb = Math.max(known.hwmKb, status.hwmKb);
        known.ticks = Math.max(known.ticks, ticks);
        known.kind = kind ?? known.kind;
      } else {
        this.peaks.set(pid, { kind: kind ?? 'other', hwmKb: status.hwmKb, ticks });
      }
    }
    this.treePeakKb = Math.max(this.treePeakKb, treeKb);
  }
}

const mib = (kb: number) => Math.round(kb / 102.4) / 10;
const seconds = (ticks: number) => Math.round((ticks / TICKS_PER_SECOND) * 100) / 100;
