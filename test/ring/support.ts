/** Shared by the ring tests: waiting for a condition, and the sipp processes a test process left running. */
import { execFileSync } from 'child_process';

/**
 * Polls `condition` until it holds; fails naming `what` if it still does not after `boundMs`. A bound on waiting,
 * not an assertion on how long something took: the assertion that follows checks the condition itself.
 */
export async function eventually(
  condition: () => boolean | Promise<boolean>,
  what: string | (() => string),
  boundMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + boundMs;
  while (Date.now() < deadline) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`still not true after waiting ${boundMs} ms: ${typeof what === 'function' ? what() : what}`);
}

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
