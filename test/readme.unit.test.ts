/**
 * The README's "Environment overrides" table names every environment variable the project's code reads, and
 * nothing else: adding a `process.env` read without a row for it (or leaving a row behind after removing the
 * read) fails here.
 *
 * What is scanned: the TypeScript/JavaScript of every source folder (cli/ through common/), db/, sandbox/,
 * scripts/ and bench/, and the shell scripts `dev` and scripts/tools.sh. Not scanned: test/ (tests set variables
 * for the code under test; they read none of their own that a user sets) and node_modules/.
 *
 * What counts as a read:
 *  - `process.env.NAME`, `process.env['NAME']`, and `env.NAME` / `env?.NAME` on an env object handed in
 *    (webhook/config.ts, checks/drift/report.ts); an assignment `env.NAME = ...` builds an environment, it is no read;
 *  - a read through a helper with a computed name (`process.env[name]`, `env[name]`): every quoted UPPER_SNAKE
 *    string of that file is taken as a name it reads (the helpers take literals: `port('SANDBOX_TELNYX_PORT', ..)`,
 *    `required('ADMIN_TOKEN')`, SETTING_ENV's values). A computed read in a file not listed in COMPUTED_READS
 *    fails, so that a new one is looked at;
 *  - webhook/config.ts ENVIRONMENT's keys (every variable the service reads, by its own account);
 *  - in the shell scripts, `${NAME:-default}` and every `$NAME` the script does not assign itself.
 * Left out on purpose: HOME, PATH, PWD (the operating system's and the shell's own, not settings of this
 * project) and NODE_OPTIONS (Node's own; bench/ only appends to whatever it holds).
 */
import * as fs from 'fs';
import * as path from 'path';
import { REPO_ROOT } from '../sandbox/processes';
import { ENVIRONMENT } from '../webhook/config';

const { PRODUCT_FOLDERS, DEVELOPMENT_FOLDERS } = require('../common/compiled-build.js') as {
  PRODUCT_FOLDERS: string[];
  DEVELOPMENT_FOLDERS: string[];
};

// Every folder of code, the tests left out (see above).
const SOURCE_DIRS = [...PRODUCT_FOLDERS, ...DEVELOPMENT_FOLDERS.filter((folder) => folder !== 'test')];
const SHELL_SCRIPTS = ['dev', path.join('scripts', 'tools.sh')];
const NOT_PROJECT_SETTINGS = new Set(['HOME', 'PATH', 'PWD', 'NODE_OPTIONS']);
/** Files that read variables by a computed name, and how the names reach them (all as quoted literals). */
const COMPUTED_READS: Record<string, string> = {
  'sandbox/ports.ts': "port('SANDBOX_..._PORT', default)",
  'sandbox/postgrest/main.ts': "requiredEnv('NAME', example)",
  'webhook/config.ts': "required('NAME'), positiveInteger(env, 'NAME', default)",
  'vendors/vendor-settings.ts': "SETTING_ENV's values",
};

function sourceFiles(dir: string): string[] {
  const full = path.join(REPO_ROOT, dir);
  if (!fs.existsSync(full)) return [];
  return fs.readdirSync(full, { withFileTypes: true }).flatMap((entry) => {
    const relative = path.join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : sourceFiles(relative);
    return /\.(ts|js)$/.test(entry.name) && !entry.name.endsWith('.d.ts') ? [relative] : [];
  });
}

/** Comments are not code: a variable named in a comment is not read. */
function withoutComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
}

const UPPER_SNAKE = /^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$/;

/** Variable name -> files that read it. */
function variablesReadByCode(): { reads: Map<string, Set<string>>; unexplained: string[] } {
  const reads = new Map<string, Set<string>>();
  const unexplained: string[] = [];
  const add = (name: string, file: string) => {
    if (NOT_PROJECT_SETTINGS.has(name)) return;
    if (!reads.has(name)) reads.set(name, new Set());
    reads.get(name)!.add(file);
  };
  for (const file of SOURCE_DIRS.flatMap(sourceFiles)) {
    const code = withoutComments(fs.readFileSync(path.join(REPO_ROOT, file), 'utf8'));
    for (const m of code.matchAll(/\b(?:process\.)?env\??\.([A-Z][A-Z0-9_]*)\b(?!\s*=[^=])/g)) add(m[1], file);
    for (const m of code.matchAll(/\bprocess\.env\[\s*['"`]([A-Z][A-Z0-9_]*)['"`]\s*\]/g)) add(m[1], file);
    const computed = /\b(?:process\.)?env\[\s*(?!['"`])/.test(code);
    if (!computed) continue;
    if (!(file in COMPUTED_READS)) {
      unexplained.push(file);
      continue;
    }
    for (const m of code.matchAll(/['"]([A-Z][A-Z0-9_]*)['"]/g)) if (UPPER_SNAKE.test(m[1])) add(m[1], file);
  }
  for (const name of Object.keys(ENVIRONMENT)) add(name, 'webhook/config.ts');
  for (const script of SHELL_SCRIPTS) {
    const text = fs
      .readFileSync(path.join(REPO_ROOT, script), 'utf8')
      .split('\n')
      .filter((line) => !/^\s*#/.test(line))
      .join('\n');
    const assigned = new Set(
      [...text.matchAll(/(?:^|[\s;(])(?:export\s+|local\s+)?([A-Z_][A-Z0-9_]*)=/gm)].map((m) => m[1]),
    );
    for (const m of text.matchAll(/\$\{([A-Z_][A-Z0-9_]*):?[-=?+]/g)) add(m[1], script);
    for (const m of text.matchAll(/(?<!\\)\$\{?([A-Z_][A-Z0-9_]*)/g)) if (!assigned.has(m[1])) add(m[1], script);
  }
  return { reads, unexplained };
}

/** The backticked names in the first column of the README's "Environment overrides" table. */
function documentedVariables(): Set<string> {
  // Code blocks go first: a `# comment` line in one is no heading.
  const readme = fs.readFileSync(path.join(REPO_ROOT, 'README.md'), 'utf8').replace(/^```[\s\S]*?^```/gm, '');
  const heading = /^(#+) Environment overrides\s*$/m.exec(readme);
  expect(heading).not.toBeNull();
  const rest = readme.slice(heading!.index + heading![0].length);
  const end = rest.search(new RegExp(`^#{1,${heading![1].length}} `, 'm'));
  const section = end < 0 ? rest : rest.slice(0, end);
  const names = new Set<string>();
  for (const line of section.split('\n')) {
    const firstCell = /^\|([^|]*)\|/.exec(line)?.[1];
    if (!firstCell) continue;
    for (const m of firstCell.matchAll(/`([A-Z][A-Z0-9_]*)`/g)) names.add(m[1]);
  }
  return names;
}

describe("README's environment overrides table", () => {
  const { reads, unexplained } = variablesReadByCode();
  const documented = documentedVariables();

  it('finds the reads it knows to be there (the scan itself works)', () => {
    for (const name of [
      'SANDBOX_TELNYX_PORT',
      'ADMIN_TOKEN',
      'PROVISION_MAX_ATTEMPTS',
      'TELNYX_API_KEY',
      'VOICE_TOOLS_DIR',
      'PULUMI_BACKEND_URL',
    ]) {
      expect([name, reads.has(name)]).toEqual([name, true]);
    }
    expect(documented.size).toBeGreaterThan(20);
  });

  it('meets no computed-name read it does not know how to follow', () => {
    expect(unexplained).toEqual([]);
  });

  it('documents every variable the code reads', () => {
    const missing = [...reads.keys()]
      .filter((name) => !documented.has(name))
      .map((name) => `${name} (read by ${[...reads.get(name)!].join(', ')})`);
    expect(missing).toEqual([]);
  });

  it('documents no variable the code does not read', () => {
    expect([...documented].filter((name) => !reads.has(name))).toEqual([]);
  });
});
