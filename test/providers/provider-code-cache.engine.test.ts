/**
 * The provider shim loads the project's TypeScript in the engine's provider process, transpiled once per version of
 * each source file and cached under node_modules/.cache. What the founder relies on: a provider changed on disk is
 * what the next engine run executes (never a stale copy), and a run with nothing changed reuses the cache.
 */
import { execFile } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { promisify } from 'util';
import { REPO_ROOT } from '../../sandbox/processes';
import { newWorkDir } from '../support/engine';

const run = promisify(execFile);
const CACHE_DIR = path.join(REPO_ROOT, 'node_modules', '.cache', 'churchwise-voice-providers');

/** A fresh Node process that loads `moduleName` through the shim, as the provider process does, and checks once. */
async function checkThroughShim(moduleName: string): Promise<unknown> {
  const script = `
    require('ts-node').register({ transpileOnly: true });
    const { projectProvider } = require('./providers/dynamic-provider');
    delete require.extensions['.ts']; // the provider process has no ts-node: only the shim's loader
    projectProvider(${JSON.stringify(moduleName)}).check({}, {}).then((r) => console.log(JSON.stringify(r)));
  `;
  const { stdout } = await run(process.execPath, ['-e', script], { cwd: REPO_ROOT });
  return JSON.parse(stdout.trim().split('\n').pop()!);
}

function providerSource(version: string): string {
  return `import type * as pulumi from '@pulumi/pulumi';
interface Answer { version: string }
const answer: Answer = { version: ${JSON.stringify(version)} };
export const provider: pulumi.dynamic.ResourceProvider = {
  async check() {
    return { inputs: answer };
  },
  async create() {
    return { id: 'x' };
  },
};
`;
}

test('a provider changed on disk is what the next run executes; an unchanged one comes from the cache', async () => {
  const work = newWorkDir('code-cache');
  const file = path.join(work.dir, 'provider.ts');
  const moduleName = path.relative(path.join(REPO_ROOT, 'providers'), file).replace(/\.ts$/, '');
  // The shim names a module's cached copy after the hash of its path.
  const copy = `${crypto.createHash('sha256').update(file).digest('hex').slice(0, 40)}.js`;
  const cachedText = () => fs.readFileSync(path.join(CACHE_DIR, copy), 'utf8');

  fs.writeFileSync(file, providerSource('one'));
  expect(await checkThroughShim(moduleName)).toEqual({ inputs: { version: 'one' } });
  expect(cachedText()).toContain('version: "one"');
  const firstWrite = fs.statSync(path.join(CACHE_DIR, copy)).mtimeMs;

  expect(await checkThroughShim(moduleName)).toEqual({ inputs: { version: 'one' } });
  expect(fs.statSync(path.join(CACHE_DIR, copy)).mtimeMs).toBe(firstWrite);

  fs.writeFileSync(file, providerSource('two'));
  expect(await checkThroughShim(moduleName)).toEqual({ inputs: { version: 'two' } });
  expect(cachedText()).toContain('version: "two"');

  fs.rmSync(path.join(CACHE_DIR, copy), { force: true });
  fs.rmSync(work.dir, { recursive: true, force: true });
});
