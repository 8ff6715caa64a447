/** Bench helpers that run a TypeScript entry of the project in its own Node process, with its memory sampled. */
import { spawn, type ChildProcess } from 'child_process';
import * as path from 'path';
import { REPO_ROOT } from '../sandbox/processes';
import { ProcessTreeMemory, type MemoryReport } from './process-memory';

export interface BenchChild {
  pid: number;
  /** Every stdout line so far. */
  lines: string[];
  /** Resolves with the first stdout line matching, rejects if the process exits first or the time runs out. */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<string>;
  /** Resolves when the process has exited. */
  exited: Promise<number>;
  /** SIGTERM, then SIGKILL after the grace period; returns the memory sampled over its life. */
  stop(graceMs?: number): Promise<MemoryReport>;
  /** Memory sampled so far (the sampler keeps running). */
  memory(): MemoryReport;
  stderr(): string;
}

/** `entry` is relative to the repository, e.g. `webhook/main.ts`. */
export function startBenchChild(entry: string, env: Record<string, string>): BenchChild {
  const child: ChildProcess = spawn(
    process.execPath,
    [require.resolve('ts-node/dist/bin.js'), '--transpile-only', path.join(REPO_ROOT, entry)],
    {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  if (child.pid === undefined) throw new Error(`could not start ${entry}`);
  const pid = child.pid;
  const sampler = new ProcessTreeMemory(pid).start();
  const lines: string[] = [];
  const waiters: Array<{ pattern: RegExp; resolve: (line: string) => void }> = [];
  let partial = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    const parts = (partial + chunk.toString()).split('\n');
    partial = parts.pop() ?? '';
    for (const line of parts) {
      lines.push(line);
      for (const waiter of [...waiters]) {
        if (waiter.pattern.test(line)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
    }
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-20000);
  });
  let last: MemoryReport | undefined;
  const exited = new Promise<number>((resolve) =>
    child.once('exit', (code) => {
      last ??= sampler.stop();
      resolve(code ?? 1);
    }),
  );
  return {
    pid,
    lines,
    exited,
    stderr: () => stderr,
    memory: () => last ?? sampler.report(),
    waitForLine: (pattern, timeoutMs) => {
      const seen = lines.find((line) => pattern.test(line));
      if (seen) return Promise.resolve(seen);
      return new Promise<string>((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new Error(`${entry} printed no line matching ${pattern} within ${timeoutMs} ms; stderr:\n${stderr}`),
            ),
          timeoutMs,
        );
        waiters.push({
          pattern,
          resolve: (line) => {
            clearTimeout(timer);
            resolve(line);
          },
        });
        void exited.then((code) => {
          clearTimeout(timer);
          reject(new Error(`${entry} exited with code ${code} before printing ${pattern}; stderr:\n${stderr}`));
        });
      });
    },
    stop: async (graceMs = 30_000) => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }
      await exited;
      return last!;
    },
  };
}

/** Runs an entry to completion and parses its `BENCH_RESULT {...}` line. */
export async function runBenchChild<T>(
  entry: string,
  env: Record<string, string>,
  timeoutMs = 15 * 60_000,
): Promise<{ result: T; memory: MemoryReport }> {
  const child = startBenchChild(entry, env);
  const timer = setTimeout(() => void child.stop(1000), timeoutMs);
  const code = await child.exited;
  clearTimeout(timer);
  const memory = await child.stop();
  const line = child.lines.find((l) => l.startsWith('BENCH_RESULT '));
  if (code !== 0 || !line) throw new Error(`${entry} failed (exit ${code}):\n${child.stderr()}`);
  return { result: JSON.parse(line.slice('BENCH_RESULT '.length)) as T, memory };
}
