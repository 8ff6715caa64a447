/**
 * The house rules of .dependency-cruiser.js, run by dependency-cruiser itself: no cycles, no development machinery
 * in production, no dynamic import() in production, nothing imports up the flow. First on the real tree, then on
 * small trees that break one rule each, to prove a violation fails this test.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { REPO_ROOT } from '../sandbox/processes';

const { PRODUCT_FOLDERS, DEVELOPMENT_FOLDERS } = require('../common/compiled-build.js') as {
  PRODUCT_FOLDERS: string[];
  DEVELOPMENT_FOLDERS: string[];
};

const DEPCRUISE = path.join(REPO_ROOT, 'node_modules', '.bin', 'depcruise');
const CONFIG = path.join(REPO_ROOT, '.dependency-cruiser.js');
const SOURCE_FOLDERS = [...PRODUCT_FOLDERS, ...DEVELOPMENT_FOLDERS];

interface Violation {
  from: string;
  to: string;
  rule: { name: string };
}

/** The rule violations depcruise finds in `folders` under `cwd`, as `rule: from -> to`. */
function violations(cwd: string, folders: string[], tsConfig = path.join(REPO_ROOT, 'tsconfig.json')): string[] {
  let output: string;
  try {
    output = execFileSync(
      DEPCRUISE,
      [...folders, '--config', CONFIG, '--ts-config', tsConfig, '--output-type', 'json'],
      {
        cwd,
        encoding: 'utf8',
        maxBuffer: 64 * 1024 * 1024,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
  } catch (error) {
    // depcruise exits non-zero when it finds violations; its JSON is still on stdout.
    output = (error as { stdout?: string }).stdout ?? '';
    if (!output) throw error;
  }
  const result = JSON.parse(output) as { summary: { violations: Violation[] } };
  return result.summary.violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`);
}

/** A throw-away tree of tiny modules; keys are paths, values their source. */
function tree(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'house-rules-'));
  for (const [file, source] of Object.entries(files)) {
    fs.mkdirSync(path.join(dir, path.dirname(file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), source);
  }
  fs.writeFileSync(
    path.join(dir, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { module: 'commonjs', target: 'ES2022' } }),
  );
  return dir;
}

describe('the dependency rules', () => {
  test('hold on the whole tree', () => {
    expect(violations(REPO_ROOT, SOURCE_FOLDERS)).toEqual([]);
  }, 120_000);

  test.each([
    [
      'a provider importing the program (up the flow)',
      {
        'providers/thing.ts': "import { x } from '../infra/program';\nexport const y = x;\n",
        'infra/program.ts': 'export const x = 1;\n',
      },
      'no-import-up-the-flow-from-providers: providers/thing.ts -> infra/program.ts',
    ],
    [
      'a vendor client reading the registry',
      {
        'vendors/client.ts': "import { x } from '../registry/churches';\nexport const y = x;\n",
        'registry/churches.ts': 'export const x = 1;\n',
      },
      'no-import-up-the-flow-from-vendors: vendors/client.ts -> registry/churches.ts',
    ],
    [
      'production code taking a constant from the sandbox',
      {
        'webhook/config.ts': "import { PORT } from '../sandbox/ports';\nexport const p = PORT;\n",
        'sandbox/ports.ts': 'export const PORT = 1;\n',
      },
      'no-development-machinery-in-production: webhook/config.ts -> sandbox/ports.ts',
    ],
    [
      'a dynamic import() dodging a cycle',
      {
        'checks/drift.ts': "export async function f() { return import('../common/mail'); }\n",
        'common/mail.ts': 'export const m = 1;\n',
      },
      'no-dynamic-import-in-production: checks/drift.ts -> common/mail.ts',
    ],
  ])(
    'fail on %s',
    (_what, files, expected) => {
      const dir = tree(files);
      try {
        expect(
          violations(
            dir,
            Object.keys(files).map((f) => f.split('/')[0]),
            path.join(dir, 'tsconfig.json'),
          ),
        ).toContain(expected);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
    60_000,
  );

  test('fail on a cycle', () => {
    const dir = tree({
      'registry/jobs.ts': "import { r } from './rings';\nexport const j = () => r;\n",
      'registry/rings.ts': "import { j } from './jobs';\nexport const r = () => j;\n",
    });
    try {
      expect(violations(dir, ['registry'], path.join(dir, 'tsconfig.json'))).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^no-circular: registry\/(jobs|rings)\.ts -> registry\/(rings|jobs)\.ts$/),
        ]),
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
