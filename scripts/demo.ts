/**
 * The main job on the embedded default (`./dev demo`): start the local sandbox, put two sample churches in the
 * customer registry, run the real `pulumi up` on the `dev` stack (local file backend), print the lines, then
 * prove a second run would change nothing. Nothing here touches a cloud account.
 */
import * as fs from 'fs';
import { Pool } from 'pg';
import { upsertChurch } from '../registry/churches';
import { REPO_ROOT } from '../sandbox/processes';
import { DEV_STACK, sandboxVendorEnv, startSandbox } from '../sandbox/sandbox';
import { engineEnvironment } from '../engine/engine-environment';
import { renderLines } from '../checks/line-table';
import { runPulumi } from '../engine/pulumi-cli';
import { SAMPLE_PASTOR_CHURCH, samplePickerUrl } from '../sandbox/service';

const SAMPLE_CHURCHES = [
  { churchId: 'grace-fellowship-dallas', name: 'Grace Fellowship Dallas', areaCode: '214' },
  { churchId: 'st-marks-milwaukee', name: "St. Mark's Milwaukee", areaCode: '414' },
];

async function main(): Promise<void> {
  const say = (line: string) => console.log(line);
  say('== 1/4 sandbox');
  const sandbox = await startSandbox((line) => say(`   ${line}`));

  say('== 2/4 customer registry');
  const pool = new Pool({ connectionString: sandbox.databaseUrl, max: 1 });
  try {
    for (const church of SAMPLE_CHURCHES) {
      const result = await upsertChurch(pool, { ...church, plan: 'voice-starter', activate: true });
      say(`   ${church.name} (${church.areaCode}): ${result.created ? 'added' : 'already there'}`);
    }
  } finally {
    await pool.end();
  }

  fs.mkdirSync(DEV_STACK.backendUrl.slice('file://'.length), { recursive: true });
  const env = {
    ...(process.env as Record<string, string>),
    ...engineEnvironment({
      backendUrl: DEV_STACK.backendUrl,
      passphrase: DEV_STACK.passphrase,
      vendorEnv: sandboxVendorEnv(sandbox),
    }),
  };
  const cli = (args: string[], onLine?: (line: string) => void) => runPulumi(args, { cwd: REPO_ROOT, env, onLine });
  if ((await cli(['stack', 'select', 'dev'])).code !== 0) {
    const init = await cli(['stack', 'init', 'dev']);
    if (init.code !== 0) throw new Error(`pulumi stack init dev failed:\n${init.stderr || init.stdout}`);
  }

  say('== 3/4 pulumi up (dev stack, real engine)');
  // --refresh: the sandbox's peers keep their data in memory, so after a restart the state is re-read first.
  const up = await cli(['up', '--yes', '--skip-preview', '--refresh', '--stack', 'dev'], (line) => say(`   ${line}`));
  if (up.code !== 0) throw new Error('pulumi up failed (see above)');

  const outputs = await cli(['stack', 'output', 'lines', '--json', '--stack', 'dev']);
  say('\nVoice lines (dev stack):\n');
  say(renderLines(JSON.parse(outputs.stdout)));

  say('\n== 4/4 a second run changes nothing');
  const again = await cli(['preview', '--expect-no-changes', '--stack', 'dev']);
  say(
    again.code === 0 ? '   pulumi preview --expect-no-changes: no changes' : `   UNEXPECTED CHANGES:\n${again.stdout}`,
  );
  if (again.code !== 0) process.exitCode = 1;

  say(`\nThe pastor's number picker for ${SAMPLE_PASTOR_CHURCH.churchName} (start the service with ./dev service):`);
  say(`   ${samplePickerUrl()}`);
}

if (require.main === module) {
  main().catch((error) => {
    console.error(`demo failed: ${error instanceof Error ? error.message : error}`);
    process.exit(1);
  });
}
