import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

/**
 * What the provider host does around every provider's check: a refused credential input is reported without its
 * property, because the engine prints a property's failure with the refused value itself. No network.
 */
const { withoutSecretValues } = require('../../providers/provider-host.js') as {
  withoutSecretValues: (result: { inputs?: unknown; failures?: Array<{ property: string; reason: string }> }) => {
    failures?: Array<{ property: string; reason: string }>;
  };
};

describe('withoutSecretValues', () => {
  it('hands over a credential input failure without its property, naming the field and the rule in the reason', () => {
    const result = withoutSecretValues({
      inputs: {},
      failures: [
        {
          property: 'authPassword',
          reason: 'LiveKit trunks for Telnyx must have NO authentication (input authPassword refused)',
        },
      ],
    });
    expect(result.failures).toEqual([
      {
        property: '',
        reason:
          'input authPassword: LiveKit trunks for Telnyx must have NO authentication (input authPassword refused)',
      },
    ]);
  });

  it.each([
    'authPassword',
    'auth_username',
    'AuthRealm',
    'apiKey',
    'serviceKey',
    'secret',
    'token',
    'pin',
    'credentials[0]',
  ])('treats %s as a credential', (property) => {
    expect(withoutSecretValues({ failures: [{ property, reason: 'refused' }] }).failures?.[0].property).toBe('');
  });

  it('keeps the property of every other failure (its value helps the founder and is no secret)', () => {
    const failures = [
      { property: 'numbers[0]', reason: 'numbers[0] must be E.164' },
      { property: 'areaCode', reason: 'areaCode must be 3 digits' },
      { property: 'adoptId', reason: 'locked' },
    ];
    expect(withoutSecretValues({ failures }).failures).toEqual(failures);
  });
});

describe('which code the provider host runs', () => {
  const build = require('../../common/compiled-build.js') as {
    STAMP_FILE: string;
    sourcesHash: (root: string) => string;
    freshBuild: (root: string) => string | undefined;
  };
  const host = require('../../providers/provider-host.js') as {
    load: (root: string, module: string) => { check: (olds: object, news: object) => Promise<unknown> };
  };

  /** A project with one provider source, and a build of it that answers check differently. */
  function project(): string {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'provider-host-'));
    fs.writeFileSync(path.join(root, 'tsconfig.json'), '{}');
    fs.mkdirSync(path.join(root, 'providers'));
    fs.writeFileSync(path.join(root, 'providers', 'greeting.ts'), 'export const provider = {};\n');
    fs.mkdirSync(path.join(root, 'dist', 'providers'), { recursive: true });
    fs.writeFileSync(
      path.join(root, 'dist', 'providers', 'greeting.js'),
      "exports.provider = { check: async (_o, news) => ({ inputs: { ...news, from: 'compiled build' } }) };\n",
    );
    fs.writeFileSync(path.join(root, 'dist', build.STAMP_FILE), `${build.sourcesHash(root)}\n`);
    return root;
  }

  it('runs the compiled build when it was built from exactly the sources on disk', async () => {
    const root = project();
    expect(build.freshBuild(root)).toBe(path.join(root, 'dist'));
    const provider = host.load(root, 'greeting');
    expect(await provider.check({}, { name: 'x' })).toEqual({ inputs: { name: 'x', from: 'compiled build' } });
  });

  it('never runs a build older than the sources (an edited checkout), nor one without its stamp', () => {
    const root = project();
    fs.appendFileSync(path.join(root, 'providers', 'greeting.ts'), '// edited after the build\n');
    expect(build.freshBuild(root)).toBeUndefined();
    const unstamped = project();
    fs.rmSync(path.join(unstamped, 'dist', build.STAMP_FILE));
    expect(build.freshBuild(unstamped)).toBeUndefined();
  });
});
