/**
 * The real Pulumi CLI and engine on the local file backend, with a dynamic provider loaded through the project's
 * provider shim: `up`, `preview` (no changes) and `destroy`, once through the CLI on an on-disk program and once
 * through the Automation API with an inline program.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as pulumiSdk from '@pulumi/pulumi';
import { projectProvider } from '../../providers/dynamic-provider';
import { settingsEnvironment } from '../../vendors/vendor-settings';
import { inlineStack, newWorkDir, pulumi, stateFileText } from '../support/engine';

const FAKE_CREDENTIAL = 'KEY0123456789abcdefSECRETVALUE';
const vendors = { telnyx: { apiKey: FAKE_CREDENTIAL } };
const vendorEnv = settingsEnvironment(vendors);

function onDiskProgram(filesDir: string, content: string): string {
  return `import * as pulumi from '@pulumi/pulumi';
import { projectProvider } from '../../providers/dynamic-provider';
class Greeting extends pulumi.dynamic.Resource {
  constructor(name: string, props: Record<string, unknown>) {
    super(projectProvider('../test/fixtures/file-provider'), name, props);
  }
}
const file = new Greeting('greeting',
  { dir: ${JSON.stringify(filesDir)}, name: 'greeting.txt', content: ${JSON.stringify(content)}, apiKeyLength: undefined });
export const fileName = file.id;
`;
}

describe('real Pulumi CLI', () => {
  test('pulumi version is the one scripts/tools.sh builds', async () => {
    const work = newWorkDir('version');
    const result = await pulumi(['version'], { cwd: work.dir, env: work.env() });
    expect(result.stdout.trim()).toBe('v3.274.1');
  });

  test('up, preview with no changes, update, destroy of an on-disk TypeScript program', async () => {
    const work = newWorkDir('cli-program');
    const filesDir = path.join(work.dir, 'files');
    fs.writeFileSync(
      path.join(work.dir, 'Pulumi.yaml'),
      'name: engine-check\nruntime:\n  name: nodejs\n  options:\n    typescript: true\n',
    );
    // Its own package.json, or the language host would take the enclosing repository's `main`.
    fs.writeFileSync(path.join(work.dir, 'package.json'), JSON.stringify({ name: 'engine-check', main: 'index.ts' }));
    fs.writeFileSync(path.join(work.dir, 'index.ts'), onDiskProgram(filesDir, 'hello'));
    const run = (args: string[]) => pulumi(args, { cwd: work.dir, env: work.env(vendorEnv) });

    expect((await run(['stack', 'init', 'test'])).code).toBe(0);
    const up = await run(['up', '--yes', '--skip-preview']);
    expect({ code: up.code, output: up.code === 0 ? '' : up.stdout + up.stderr }).toEqual({ code: 0, output: '' });
    expect(fs.readFileSync(path.join(filesDir, 'greeting.txt'), 'utf8')).toBe('hello');

    // The provider read the credential (its length is an output) yet the credential is nowhere in the state.
    const state = stateFileText(work, 'engine-check', 'test');
    expect(state.includes(FAKE_CREDENTIAL)).toBe(false);
    const greeting = JSON.parse(state).checkpoint.latest.resources.find((r: { urn: string }) =>
      r.urn.endsWith('::greeting'),
    );
    expect(greeting.outputs.apiKeyLength).toBe(FAKE_CREDENTIAL.length);

    const preview = await run(['preview', '--expect-no-changes']);
    expect(preview.code).toBe(0);

    fs.writeFileSync(path.join(work.dir, 'index.ts'), onDiskProgram(filesDir, 'hello again'));
    const changed = await run(['preview', '--expect-no-changes']);
    expect(changed.code).not.toBe(0);
    expect(changed.stdout).toMatch(/~ 1 to update|1 to update/);
    expect((await run(['up', '--yes', '--skip-preview'])).code).toBe(0);
    expect(fs.readFileSync(path.join(filesDir, 'greeting.txt'), 'utf8')).toBe('hello again');

    expect((await run(['destroy', '--yes', '--skip-preview'])).code).toBe(0);
    expect(fs.existsSync(path.join(filesDir, 'greeting.txt'))).toBe(false);
  });
});

describe('Automation API with an inline program', () => {
  test('up, preview with no changes, destroy', async () => {
    const filesDir = path.join(newWorkDir('automation-files').dir, 'files');
    const program = async () => {
      const file = new (pulumiSdk.dynamic.Resource as any)(
        projectProvider('../test/fixtures/file-provider'),
        'greeting',
        {
          dir: filesDir,
          name: 'greeting.txt',
          content: 'from automation',
          apiKeyLength: undefined,
        },
      );
      return { fileName: file.id };
    };
    const { stack } = await inlineStack({ name: 'automation', projectName: 'engine-check', program, vendors });
    const up = await stack.up();
    expect(up.summary.result).toBe('succeeded');
    expect(up.outputs.fileName.value).toBe('greeting.txt');
    expect(fs.readFileSync(path.join(filesDir, 'greeting.txt'), 'utf8')).toBe('from automation');

    const preview = await stack.preview({ expectNoChanges: true });
    expect(preview.changeSummary).toEqual({ same: 2 });

    expect(JSON.stringify(await stack.exportStack()).includes(FAKE_CREDENTIAL)).toBe(false);

    const destroy = await stack.destroy();
    expect(destroy.summary.result).toBe('succeeded');
    expect(fs.existsSync(path.join(filesDir, 'greeting.txt'))).toBe(false);
  });
});
