/**
 * Shared by the drift, doctor and ring tests: the founder's CLI (cli/main.ts) run as the founder runs it, in its
 * own process, against a test's own stack (test/support/voice-stack.ts), and cleanup of what a test created in the
 * LiveKit server every test shares.
 */
import { spawn } from 'child_process';
import * as path from 'path';
import { LiveKitClient } from '../../vendors/livekit-client';
import { SANDBOX_LIVEKIT } from '../../sandbox/livekit';
import { REPO_ROOT } from '../../sandbox/processes';
import { TEST_STACK, type VoiceStackFixture } from './voice-stack';

export interface FounderCliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A bound on one command (it runs a real engine preview); not an assertion on its duration. */
const CLI_BOUND_MS = 300_000;

/** `npm run <command> -- ... --stack test --cwd <the test's work dir>` with the stack's engine environment (the test's stack unless args name one). */
export function founderCli(
  stack: VoiceStackFixture,
  args: string[],
  extraEnv: Record<string, string> = {},
): Promise<FounderCliResult> {
  const tsNode = require.resolve('ts-node/dist/bin.js');
  const stackArgs = args.includes('--stack') ? [] : ['--stack', TEST_STACK];
  const argv = [
    tsNode,
    '--transpile-only',
    path.join(REPO_ROOT, 'cli', 'main.ts'),
    ...args,
    ...stackArgs,
    '--cwd',
    stack.work.dir,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, argv, {
      cwd: REPO_ROOT,
      env: { ...stack.work.env(stack.vendorEnv), ...extraEnv },
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    const timer = setTimeout(() => child.kill('SIGTERM'), CLI_BOUND_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
  });
}

/** The command's --json output, or a failure that shows what it printed instead. */
export function jsonOf<T>(result: FounderCliResult): T {
  try {
    return JSON.parse(result.stdout) as T;
  } catch {
    throw new Error(
      `expected JSON on stdout (exit ${result.code}); stdout:\n${result.stdout}\nstderr:\n${result.stderr}`,
    );
  }
}

/** The LiveKit server every test shares, through the project's own client. */
export const sharedLivekit = () => new LiveKitClient(SANDBOX_LIVEKIT);

/** Deletes the trunks and rules a test's stack created in the shared LiveKit, so other tests never see them. */
export async function removeStackObjects(
  stack: VoiceStackFixture,
  extra: { trunkIds?: string[]; ruleIds?: string[] } = {},
): Promise<void> {
  const livekit = sharedLivekit();
  const lines = await stack.lines().catch(() => []);
  const ruleIds = [
    ...lines.map((l) => l.dispatchRuleId).filter((id): id is string => Boolean(id)),
    ...(extra.ruleIds ?? []),
  ];
  const trunkIds = [
    ...lines.filter((l) => l.source === 'registry').flatMap((l) => l.trunkId ?? []),
    ...(extra.trunkIds ?? []),
  ];
  for (const id of ruleIds) await livekit.deleteDispatchRule(id).catch(() => undefined);
  for (const id of trunkIds) await livekit.deleteTrunk(id).catch(() => undefined);
}

/** A hand edit through the stand-in's Telnyx API v2 (what the founder would do in the portal). */
export async function telnyxApi(
  stack: VoiceStackFixture,
  method: 'GET' | 'PATCH' | 'DELETE',
  route: string,
  body?: unknown,
): Promise<any> {
  const response = await fetch(`${stack.telnyx.url}${route}`, {
    method,
    headers: { authorization: `Bearer ${stack.telnyx.apiKey}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`telnyx stand-in ${method} ${route} answered ${response.status}: ${text}`);
  return text ? JSON.parse(text) : undefined;
}

/**
 * A second FQDN connection in the account, as one made in the Telnyx portal. The stand-in serves no
 * POST /fqdn_connections (we never create one), so it is added to the account the stand-in holds, copied from the
 * LiveKit connection with its own id and name.
 */
export function addPortalConnection(stack: VoiceStackFixture, id: string, name: string): void {
  const [template] = [...stack.telnyx.state.fqdnConnections.values()];
  stack.telnyx.state.fqdnConnections.set(id, { ...structuredClone(template), id, connection_name: name });
}
