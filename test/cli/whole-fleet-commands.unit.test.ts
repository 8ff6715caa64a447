/** Bad input to `churchwise fleet ...` is refused before anything runs, naming the flag and its rule. */
import { runWholeFleetCommand } from '../../cli/whole-fleet-commands';
import { explain } from '../../cli/main';

async function refusal(argv: string[], env: Record<string, string | undefined>): Promise<string> {
  const saved = { DATABASE_URL: process.env.DATABASE_URL, REGISTRY_DATABASE_URL: process.env.REGISTRY_DATABASE_URL };
  Object.assign(process.env, env);
  for (const [key, value] of Object.entries(env)) if (value === undefined) delete process.env[key];
  try {
    await runWholeFleetCommand(argv, () => undefined);
    return 'ran';
  } catch (error) {
    return explain(error);
  } finally {
    for (const [key, value] of Object.entries(saved))
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
  }
}

// Never connected to: every refusal below comes before the registry is read.
const registry = { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none', REGISTRY_DATABASE_URL: undefined };

describe('churchwise fleet: bad input', () => {
  test('an unknown or missing subcommand prints the usage', async () => {
    for (const argv of [[], ['rebalance'], ['preview', 'extra']]) {
      const text = await refusal(argv, registry);
      expect(text).toContain('fleet stacks | preview | up | drift [--email] | doctor | lines [--json]');
      expect(text).toContain('fleet shard --size <n> [--dry-run]');
    }
  });

  test('--size and --parallel are checked, and the message names the flag and the rule', async () => {
    expect(await refusal(['shard', '--size', '0'], registry)).toBe(
      '--size must be a whole number of churches from 1 to 1000, got "0"',
    );
    expect(await refusal(['shard', '--size', 'many', '--dry-run'], registry)).toBe(
      '--size must be a whole number of churches from 1 to 1000, got "many"',
    );
    expect(await refusal(['shard', '--size', '2.5'], registry)).toBe(
      '--size must be a whole number of churches from 1 to 1000, got "2.5"',
    );
    expect(await refusal(['shard'], registry)).toBe(
      '--size must be a whole number of churches from 1 to 1000, got undefined',
    );
    expect(await refusal(['preview', '--parallel', '99'], registry)).toBe(
      '--parallel must be a whole number of stacks from 1 to 16, got "99"',
    );
  });

  test('without a registry URL the command says which variable to set', async () => {
    expect(await refusal(['lines'], { DATABASE_URL: undefined, REGISTRY_DATABASE_URL: undefined })).toBe(
      'the fleet commands read the customer registry: set DATABASE_URL (or REGISTRY_DATABASE_URL)',
    );
  });
});
