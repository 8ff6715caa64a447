/** A shard stack's config file is its base's (engine/shard-stack-config.ts), written only when it differs. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ensureShardStackConfig } from '../../engine/shard-stack-config';

describe("a shard stack's settings", () => {
  let dir: string;
  const base = [
    'config:',
    '  churchwise-voice:livekitUrl: https://example.livekit.cloud',
    '  churchwise-voice:telnyxApiKey:',
    '    secure: v1:abc:def',
    'encryptionsalt: v1:salt:xyz',
    '',
  ].join('\n');
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'shard-config-'));
    fs.writeFileSync(path.join(dir, 'Pulumi.prod.yaml'), base);
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const shardFile = () => path.join(dir, 'Pulumi.prod-shard-003.yaml');

  test("is written from the base stack's file, secrets and salt included, with a header saying where it came from", () => {
    expect(ensureShardStackConfig(dir, 'prod-shard-003')).toBe(true);
    const written = fs.readFileSync(shardFile(), 'utf8');
    expect(written.endsWith(base)).toBe(true);
    expect(written).toContain('# Written from Pulumi.prod.yaml by the fleet tooling');
    expect(written).toContain('encryptionsalt: v1:salt:xyz');
    // Nothing to do the second time; a hand edit is written over; a base edit is followed.
    expect(ensureShardStackConfig(dir, 'prod-shard-003')).toBe(false);
    fs.appendFileSync(shardFile(), '  churchwise-voice:agentName: by-hand\n');
    expect(ensureShardStackConfig(dir, 'prod-shard-003')).toBe(true);
    expect(fs.readFileSync(shardFile(), 'utf8')).not.toContain('by-hand');
    fs.writeFileSync(path.join(dir, 'Pulumi.prod.yaml'), base.replace('example', 'other'));
    expect(ensureShardStackConfig(dir, 'prod-shard-003')).toBe(true);
    expect(fs.readFileSync(shardFile(), 'utf8')).toContain('https://other.livekit.cloud');
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  test('a base stack, or a fleet without a base file, gets no file', () => {
    expect(ensureShardStackConfig(dir, 'prod')).toBe(false);
    expect(ensureShardStackConfig(dir, 'dev-shard-000')).toBe(false);
    expect(fs.readdirSync(dir).sort()).toEqual(['Pulumi.prod.yaml']);
  });
});
