/**
 * What the stack commands (`drift`, `lines`, ...) and the fleet commands (`fleet drift`, ...) read the same way: the
 * stack and folder flags, where progress goes, and the settings `--email` needs.
 */
import * as path from 'path';
import type { VoiceStackOptions } from '../engine/voice-stack';
import { UsageError } from './usage';

/** `--stack` (default PULUMI_STACK, else prod) and `--cwd` (default this repository). */
export function stackOptionsFrom(
  values: { stack?: string; cwd?: string },
  registryDatabaseUrl: string | undefined,
): VoiceStackOptions {
  return {
    stackName: values.stack?.trim() || process.env.PULUMI_STACK?.trim() || 'prod',
    workDir: values.cwd ? path.resolve(values.cwd) : undefined,
    registryDatabaseUrl,
  };
}

/** Progress goes to stderr so that --json output stays parseable. */
export const progressToStderr = (line: string) => process.stderr.write(`${line}\n`);

/** Checked before the engine runs: a report that cannot be sent should not cost a preview first. */
export function requireEmailSettings(): void {
  if (!(process.env.SMTP_URL?.trim() && process.env.FOUNDER_EMAIL?.trim()))
    throw new UsageError('--email needs SMTP_URL (smtp:// or smtps://) and FOUNDER_EMAIL in the environment');
}
