/**
 * A whole voice stack for one test, isolated from every other test: its own registry database, its own Telnyx
 * stand-in (test rings are real SIP calls into the shared livekit-sip bridge), its own PostgREST, its own file
 * backend and stack. LiveKit is the shared sandbox livekit-server; tests use fresh random numbers there.
 */
import * as fs from 'fs';
import * as path from 'path';
import { parse, stringify } from 'yaml';
import type { LineSummary } from '../../infra/program';

/** A line as these tests provision it: live, so it has a trunk (a parked line's `trunkId` is absent). */
export type LiveLine = LineSummary & { trunkId: string };
import { upsertChurch, ChurchUpsert } from '../../registry/churches';
import { ensureLivekitSip } from '../../sandbox/livekit-sip';
import { SANDBOX_LIVEKIT } from '../../sandbox/livekit';
import { seedLinesInService, stackFileSettings } from '../../sandbox/lines-in-service';
import { createTestDatabase, TestDatabase } from '../../sandbox/postgres';
import { startPostgrest, PostgrestServer } from '../../sandbox/postgrest';
import { REPO_ROOT } from '../../sandbox/processes';
import { sandboxVendorEnv, SANDBOX_SUPABASE_SERVICE_KEY } from '../../sandbox/sandbox';
import { sandboxTelnyxOptions } from '../../sandbox/telnyx/main';
import { startTelnyxStandIn, TelnyxStandIn } from '../../sandbox/telnyx/standin';
import type { VoiceStackOptions } from '../../engine/voice-stack';
import { CliResult, runPulumi } from '../../engine/pulumi-cli';
import { newWorkDir, TEST_PASSPHRASE, WorkDir } from './engine';

export const TEST_STACK = 'test';

export interface VoiceStackFixture {
  work: WorkDir;
  db: TestDatabase;
  telnyx: TelnyxStandIn;
  supabase: PostgrestServer;
  vendorEnv: Record<string, string>;
  /** For openVoiceStack / VoiceStackRunner (the Automation API path). */
  options: VoiceStackOptions;
  addChurch(church: Omit<ChurchUpsert, 'activate' | 'plan'> & { plan?: string }): Promise<void>;
  /** The real pulumi CLI on the on-disk program, in this stack. */
  cli(args: string[], onLine?: (line: string) => void): Promise<CliResult>;
  /** The stack's `lines` output after the last update. */
  lines(): Promise<LiveLine[]>;
  close(): Promise<void>;
}

/** Edits the fixture's stack file (Pulumi.test.yaml) as a founder would by hand; returns the undo. */
export function editStackConfig(stack: VoiceStackFixture, edit: (config: Record<string, unknown>) => void): () => void {
  const file = path.join(stack.work.dir, `Pulumi.${TEST_STACK}.yaml`);
  const original = fs.readFileSync(file, 'utf8');
  const document = parse(original) as { config: Record<string, unknown> };
  edit(document.config);
  fs.writeFileSync(file, stringify(document));
  return () => fs.writeFileSync(file, original);
}

export interface VoiceStackFixtureOptions {
  testRings?: boolean;
  linesInService?: boolean;
}

export async function newVoiceStack(
  name: string,
  fixtureOptions: VoiceStackFixtureOptions = {},
): Promise<VoiceStackFixture> {
  await ensureLivekitSip();
  const work = newWorkDir(name);
  const db = await createTestDatabase(name.replace(/[^a-z0-9]/g, '_').slice(0, 30));
  const telnyx = await startTelnyxStandIn({ ...sandboxTelnyxOptions(), port: 0 });
  const supabase = await startPostgrest({ databaseUrl: db.url, port: 0, serviceKey: SANDBOX_SUPABASE_SERVICE_KEY });
  const vendorEnv = sandboxVendorEnv({
    databaseUrl: db.url,
    telnyx: { url: telnyx.url, apiKey: telnyx.apiKey },
    livekit: SANDBOX_LIVEKIT,
    supabase: { url: supabase.url, serviceKey: SANDBOX_SUPABASE_SERVICE_KEY },
    mail: { smtpUrl: '', apiUrl: '' },
  });

  // The dev stack's settings, pointed at this test's own stand-in and PostgREST.
  const devConfig = parse(fs.readFileSync(path.join(REPO_ROOT, 'Pulumi.dev.yaml'), 'utf8')).config as Record<
    string,
    unknown
  >;
  const config = {
    ...devConfig,
    'churchwise-voice:telnyxBaseUrl': telnyx.url,
    'churchwise-voice:supabaseUrl': supabase.url,
    'churchwise-voice:testRings': String(fixtureOptions.testRings ?? true),
    'churchwise-voice:adoptLinesInService': String(fixtureOptions.linesInService ?? false),
  };
  fs.copyFileSync(path.join(REPO_ROOT, 'Pulumi.yaml'), path.join(work.dir, 'Pulumi.yaml'));
  fs.writeFileSync(path.join(work.dir, `Pulumi.${TEST_STACK}.yaml`), stringify({ config }));
  // The on-disk program is the project's own; its own package.json keeps the language host from taking the
  // repository's `main` relative to this folder.
  fs.writeFileSync(
    path.join(work.dir, 'package.json'),
    JSON.stringify({ name: `voice-stack-${name}`, main: 'index.ts' }),
  );
  fs.writeFileSync(
    path.join(work.dir, 'index.ts'),
    `import { voiceLinesProgram } from '${path.join(REPO_ROOT, 'infra', 'program')}';\nexport = voiceLinesProgram();\n`,
  );
  const yaml = fs.readFileSync(path.join(work.dir, 'Pulumi.yaml'), 'utf8').replace(/^main: .*$/m, 'main: index.ts');
  fs.writeFileSync(path.join(work.dir, 'Pulumi.yaml'), yaml);

  if (fixtureOptions.linesInService) {
    await seedLinesInService(
      { telnyx: { url: telnyx.url, apiKey: telnyx.apiKey }, databaseUrl: db.url },
      stackFileSettings('dev'),
    );
  }

  const env = work.env(vendorEnv);
  const cli = (args: string[], onLine?: (line: string) => void) =>
    runPulumi([...args, '--stack', TEST_STACK], { cwd: work.dir, env, onLine });
  const init = await runPulumi(['stack', 'init', TEST_STACK], { cwd: work.dir, env });
  if (init.code !== 0) throw new Error(`pulumi stack init failed: ${init.stderr}`);

  return {
    work,
    db,
    telnyx,
    supabase,
    vendorEnv,
    options: {
      stackName: TEST_STACK,
      workDir: work.dir,
      backendUrl: work.backendUrl,
      passphrase: TEST_PASSPHRASE,
      vendorEnv,
      registryDatabaseUrl: db.url,
    },
    addChurch: async (church) => {
      await upsertChurch(db.pool, { plan: 'voice-starter', ...church, activate: true });
    },
    cli,
    lines: async () => {
      const out = await cli(['stack', 'output', 'lines', '--json']);
      return out.code === 0 && out.stdout.trim() ? (JSON.parse(out.stdout) as LiveLine[]) : [];
    },
    close: async () => {
      await telnyx.close();
      await supabase.close();
      await db.drop();
    },
  };
}
