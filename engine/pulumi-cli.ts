import { spawn } from 'child_process';
import { pulumiBinary } from './engine-environment';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the pulumi CLI engine runs use (engine-environment.ts pulumiBinary), streaming each output line to `onLine`
 * so the user sees progress on long work, and returning everything it printed with its exit code.
 */
export function runPulumi(
  args: string[],
  options: { cwd: string; env: Record<string, string>; onLine?: (line: string) => void; timeoutMs?: number },
): Promise<CliResult> {
  const binary = pulumiBinary();
  return new Promise((resolve, reject) => {
    const child = spawn(binary, [...args, '--non-interactive'], { cwd: options.cwd, env: options.env });
    const out: string[] = [];
    const err: string[] = [];
    const lineSplitter = (sink: string[]) => {
      let partial = '';
      return (chunk: Buffer) => {
        const text = chunk.toString();
        sink.push(text);
        if (!options.onLine) return;
        const lines = (partial + text).split('\n');
        partial = lines.pop() ?? '';
        lines.forEach((line) => options.onLine!(line));
      };
    };
    child.stdout.on('data', lineSplitter(out));
    child.stderr.on('data', lineSplitter(err));
    const timer = setTimeout(() => child.kill('SIGTERM'), options.timeoutMs ?? 15 * 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, stdout: out.join(''), stderr: err.join('') });
    });
  });
}
