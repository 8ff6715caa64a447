/** Shared by the ring tests: the sipp processes a test process left running. */
import { execFileSync } from 'child_process';

/** Pids of sipp processes whose parent is `parentPid` (the OS's view, independent of our own bookkeeping). */
export function sippProcessesOf(parentPid: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(parentPid), '-x', 'sipp'], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch (error) {
    // pgrep exits 1 when nothing matches.
    if ((error as { status?: number }).status === 1) return [];
    throw error;
  }
}
